"""'Dependencies: As above' in a reminder names the row it refers to, and a row with no
Action text is titled by its Description: a reminder is read on its own, away from the
table, so nothing in it may depend on the row above or on an empty cell."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage

import icalendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import SEED, Cli
from tests.smtp_server import SmtpServer
from tests.test_remind import for_recipient, html_part, remind, text_part, use_smtp
from worker.plan.as_above import Row, resolve, says_as_above

HEAD_OF_QA = "head-of-qa@example.org"
HEAD_OF_LAC = "head-of-looked-after-children@example.org"


@pytest.mark.parametrize(
    "text", ["As Above", "As above", "as above.", " AS ABOVE ", "Ditto", "Same as above"]
)
def test_ways_of_writing_as_above(text: str) -> None:
    assert says_as_above(text)


@pytest.mark.parametrize(
    "text", ["", "None", "Workstream 1 action 4.", "As above and Workstream 2", "Above all"]
)
def test_other_dependencies_are_not_as_above(text: str) -> None:
    assert not says_as_above(text)


def test_as_above_refers_to_the_previous_row_of_the_same_key_deliverable() -> None:
    rows = [
        Row(1, "WS4-01", "1.", "Workstream 1 action 4."),
        Row(2, "WS4-02", "2", "Training budget"),
        Row(3, "WS4-03", "1.", "As Above"),  # key deliverable 1 again: WS4-01, not WS4-02
        Row(4, "WS4-04", "1.", "as above"),  # WS4-03 says as above too: follow it up
        Row(5, "WS4-05", "3", "As above"),  # first of its group: the row above, WS4-04
    ]
    assert resolve(rows) == {
        3: "As Above (WS4-01): Workstream 1 action 4.",
        4: "as above (WS4-01): Workstream 1 action 4.",
        5: "As above (WS4-01): Workstream 1 action 4.",  # the row that says it
    }


def test_as_above_on_the_first_row_is_kept_as_written() -> None:
    assert resolve([Row(1, "WS1-01", "1", "As above")]) == {}


def test_as_above_over_an_empty_cell_says_so() -> None:
    rows = [Row(1, "WS9-07", "5", ""), Row(2, "WS9-08", "5", "As above")]
    assert resolve(rows) == {2: "As above (WS9-07): none given"}


rows_strategy = st.lists(
    st.tuples(
        st.sampled_from(["1", "2", "3"]),
        st.sampled_from(["As above", "Ditto", "None", "WS 2", ""]),
    ),
    max_size=30,
)


@given(rows_strategy)
def test_as_above_always_names_an_earlier_row_with_real_dependencies(
    cells: list[tuple[str, str]],
) -> None:
    rows = [Row(i, f"WS1-{i:02d}", kd, deps) for i, (kd, deps) in enumerate(cells)]
    found = resolve(rows)
    for row in rows:
        if row.id not in found:
            # A row keeps its text only when it does not say "As above", or when what it
            # refers to (the group's previous row, else the row above) is missing or is
            # itself an "As above" that leads nowhere.
            if says_as_above(row.dependencies_text):
                group = [r for r in rows[: row.id] if r.key_deliverable == row.key_deliverable]
                above = (group or rows[: row.id])[-1:]
                assert all(says_as_above(a.dependencies_text) and a.id not in found for a in above)
            continue
        named = found[row.id].split("(")[1].split(")")[0]
        source = next(r for r in rows if r.ref == named)
        assert source.id < row.id
        assert not says_as_above(source.dependencies_text)
        assert found[row.id].endswith(": " + (source.dependencies_text or "none given"))


# --- in the reminders of the seed --------------------------------------------------------


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer("plain") as smtp:
        yield smtp


@pytest.fixture
def seeded(cli: Cli, server: SmtpServer) -> Cli:
    cli("plan", "import", str(SEED))
    use_smtp(cli, server)
    return cli


def _one(server: SmtpServer, address: str) -> EmailMessage:
    (message,) = for_recipient(server, address)
    return message


def test_a_reminder_names_the_row_as_above_refers_to(seeded: Cli, server: SmtpServer) -> None:
    # WS4-02 ("Revise CBSCB multi agency guidance...", Dependencies "As Above"), due
    # September 2012: its 14-day reminder on Friday 14 September. The row above in key
    # deliverable 1 is WS4-01, which depends on "Workstream 1 action 4."
    remind(seeded, "2012-09-14")
    message = _one(server, HEAD_OF_QA)
    for part in (text_part(message), html_part(message)):
        assert "As Above (WS4-01): Workstream 1 action 4." in part


def test_a_row_with_no_action_text_is_titled_by_its_description(
    seeded: Cli, server: SmtpServer
) -> None:
    # WS4-02's Action cell is empty: its Description is its title, in the message and in
    # the calendar event.
    remind(seeded, "2012-09-14")
    message = _one(server, HEAD_OF_QA)
    assert "Action: Revise CBSCB multi agency guidance in the light of the above" in (
        text_part(message)
    )
    calendar = next(p for p in message.iter_attachments() if p.get_filename() == "deadlines.ics")
    events = icalendar.Calendar.from_ical(calendar.get_content()).walk("VEVENT")
    summaries = {str(e["SUMMARY"]).split()[0]: str(e["SUMMARY"]) for e in events}
    assert summaries["WS4-02"].startswith("WS4-02 due: Revise CBSCB multi agency guidance")
    assert all(not s.rstrip().endswith(":") for s in summaries.values())


def test_co_leads_are_named_to_each_other(seeded: Cli, server: SmtpServer) -> None:
    # WS4-02 is led by the Head of Looked After Children and the Head of QA: each is told
    # who else leads it.
    remind(seeded, "2012-09-14")
    qa = text_part(_one(server, HEAD_OF_QA)).split("WS4-02 —")[1].split("\n\n")[0]
    lac = text_part(_one(server, HEAD_OF_LAC)).split("WS4-02 —")[1].split("\n\n")[0]
    assert "With: Head of Looked After Children" in qa
    assert "With: Head of QA" in lac
