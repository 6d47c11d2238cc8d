"""No one forgotten, no one nagged daily: actions no lead can be reminded about reach the
plan administrator and their work stream's strategic lead once a week; a lead hears when an
action of theirs starts; no one is told to contact themselves."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import SEED, Cli
from tests.smtp_server import SmtpServer
from tests.test_remind import for_recipient, remind, text_part, use_smtp
from worker.contacts import Directory, parse_directory
from worker.mail.render import render_digest
from worker.mail.templating import make_environment
from worker.plan.dates import Recurrence
from worker.rules.digest import LISTED_UNASSIGNED, Contact, Digest, Item, Recipient
from worker.rules.reminders import ActionFacts, PlanFacts, digests, due_items
from worker.rules.stages import START_LATE_DAYS, ActionDates, ReminderPolicy, active_stage
from worker.rules.workdays import WorkingDays

DAYS = WorkingDays()
POLICY = ReminderPolicy()
ADMIN = "admin@example.org"
AD = "ad@example.org"  # the strategic lead
QA = "qa@example.org"
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def directory() -> Directory:
    return parse_directory(
        {
            "administrator": {"name": "Admin", "email": ADMIN},
            "roles": {
                "Assistant Director": {"email": AD},
                "Head of QA": {"email": QA},
                "Service Manager": {"email": "sm@example.org"},
                "Vacant Post": {"email": ""},
            },
        },
        "test",
    )


def action(
    action_id: int,
    due: date | None,
    leads: tuple[str, ...],
    *,
    start: date | None = None,
    recurrence: Recurrence | None = None,
) -> ActionFacts:
    return ActionFacts(
        id=action_id,
        ref=f"WS1-{action_id:02d}",
        work_stream_number=1,
        work_stream_title="Safeguarding",
        strategic_lead="Assistant Director",
        key_deliverable="1.",
        action_text="",
        description="Audit a sample of case files",
        target_text=due.isoformat() if due else "",
        due=due,
        precision="day" if due else "none",
        start=start,
        recurrence=recurrence,
        dependencies_text="",
        leads=leads,
        rag=None,
        state="in progress",
    )


def run_days(
    actions: list[ActionFacts], first: date, last: date, skip: set[date] = frozenset()
) -> list[Digest]:
    """Daily runs from first to last (working days, less `skip`) with a ledger: every
    message that went out."""
    ledger: set[str] = set()
    sent: list[Digest] = []
    for today in DAYS.between(first, last):
        if today in skip:
            continue
        pairs = list(due_items(actions, directory(), POLICY, DAYS, today))
        for digest in digests(pairs, ledger, PlanFacts("Plan", "Council"), today):
            ledger.update(i.key for i in digest.all_items)
            sent.append(digest)
    return sent


def summaries(sent: list[Digest], email: str) -> list[tuple[date, tuple[str, ...]]]:
    return [
        (d.as_of, tuple(i.ref for i in d.section("unassigned")))
        for d in sent
        if d.recipient.email == email and d.section("unassigned")
    ]


# --- the weekly summary ------------------------------------------------------------------


def test_an_unroutable_action_is_summarised_each_monday_not_every_day() -> None:
    # Due Friday 30 November 2012, led by a vacant post with no fallback: in reach of the
    # reminders from 16 November, and overdue from then on.
    sent = run_days(
        [action(1, date(2012, 11, 30), ("Vacant Post",))], date(2012, 11, 1), date(2012, 12, 21)
    )
    expected = [(date(2012, 11, 12), ("WS1-01",))]  # its 14-day reminder fires that week
    expected += [(date(2012, 11, 12) + timedelta(weeks=n), ("WS1-01",)) for n in range(1, 6)]
    assert summaries(sent, ADMIN) == expected
    # The work stream's strategic lead has the same list, on the same days.
    assert summaries(sent, AD) == expected
    admin_item = next(i for d in sent for i in d.items if d.recipient.email == ADMIN)
    assert "vacant" in admin_item.reason
    assert admin_item.due == date(2012, 11, 30)  # the reader is shown the target, not the week


def test_a_long_summary_lists_fifty_and_counts_the_rest_by_reason_each_week(
    env: jinja2.Environment,
) -> None:
    # 130 actions with no target and 7 led by a post nobody holds: one readable message a
    # week, not a list of 137; every entry is in the ledger, so none comes back the next day.
    undated = [action(n, None, ("Head of QA",)) for n in range(1, 131)]
    vacant = [action(n, date(2012, 10, 12), ("Vacant Post",)) for n in range(131, 138)]
    sent = run_days(undated + vacant, date(2012, 10, 1), date(2012, 10, 12))
    to_admin = [d for d in sent if d.recipient.email == ADMIN]
    assert [d.as_of for d in to_admin] == [date(2012, 10, 1), date(2012, 10, 8)]
    monday = to_admin[0]
    assert len(monday.section("unassigned")) == LISTED_UNASSIGNED
    assert monday.count("unassigned") == 137
    assert {i.action_id for i in monday.all_items} == set(range(1, 138))
    reasons = dict(monday.unlisted_reasons())
    assert sum(reasons.values()) == 137 - LISTED_UNASSIGNED
    text, html = render_digest(env, monday).text, render_digest(env, monday).html
    assert "No one to remind (137)" in text
    assert f"And {137 - LISTED_UNASSIGNED} more, not listed here" in text
    assert "planworker plan check" in text and "planworker plan check" in html
    listed_refs = {i.ref for i in monday.section("unassigned")}
    unlisted_refs = {i.ref for i in monday.unlisted}
    assert all(f"{ref} —" in text for ref in listed_refs)
    assert not any(f"{ref} —" in text for ref in unlisted_refs)
    for reason, count in reasons.items():
        assert f"  - {count}: {reason}" in text
    subject = render_digest(env, monday).subject
    assert "137 with no one to remind" in subject


def test_an_action_with_no_target_is_in_the_summary_every_week_until_it_has_one() -> None:
    undated = action(1, None, ("Head of QA",))
    sent = run_days([undated], date(2012, 10, 1), date(2012, 10, 26))
    assert [day for day, _ in summaries(sent, ADMIN)] == [
        date(2012, 10, 1),
        date(2012, 10, 8),
        date(2012, 10, 15),
        date(2012, 10, 22),
    ]
    (item,) = {i.reason for d in sent for i in d.items}
    assert "no target date" in item
    # Its lead, reached, hears nothing: there is nothing yet to remind them of.
    assert not [d for d in sent if d.recipient.email == QA]
    # Given a target, it leaves the summary and its lead is reminded instead.
    dated = dataclasses.replace(undated, due=date(2012, 11, 30), target_text="30 Nov 2012")
    later = run_days([dated], date(2012, 11, 5), date(2012, 11, 30))
    assert summaries(later, ADMIN) == []
    assert [d.recipient.email for d in later][:1] == [QA]


def test_an_unroutable_action_far_from_its_date_is_not_in_the_summary_yet() -> None:
    sent = run_days(
        [action(1, date(2013, 3, 29), ("Vacant Post",))], date(2012, 10, 1), date(2012, 10, 31)
    )
    assert sent == []


def test_a_bank_holiday_monday_moves_the_summary_to_the_tuesday() -> None:
    # Monday 27 August 2012 is the late summer bank holiday.
    sent = run_days([action(1, None, ())], date(2012, 8, 27), date(2012, 8, 31))
    assert summaries(sent, ADMIN) == [(date(2012, 8, 28), ("WS1-01",))]


def test_a_missed_monday_is_caught_up_once_that_week() -> None:
    sent = run_days(
        [action(1, None, ())], date(2012, 10, 1), date(2012, 10, 12), skip={date(2012, 10, 8)}
    )
    assert [day for day, _ in summaries(sent, ADMIN)] == [date(2012, 10, 1), date(2012, 10, 9)]


@settings(max_examples=40, deadline=None)
@given(
    dues=st.lists(
        st.one_of(st.none(), st.dates(date(2012, 6, 1), date(2013, 1, 31))), min_size=1, max_size=5
    ),
    leads=st.lists(st.sampled_from(["Head of QA", "Vacant Post", "Not On File"]), max_size=2),
    down=st.sets(st.dates(date(2012, 6, 1), date(2013, 1, 31)), max_size=40),
)
def test_the_administrator_gets_at_most_one_message_a_week(
    dues: list[date | None], leads: list[str], down: set[date]
) -> None:
    actions = [action(i + 1, due, tuple(leads)) for i, due in enumerate(dues)]
    sent = run_days(actions, date(2012, 6, 1), date(2013, 1, 31), down)
    weeks = Counter(d.as_of.isocalendar()[:2] for d in sent if d.recipient.email == ADMIN)
    assert all(n == 1 for n in weeks.values())
    # Every action no lead can be reminded about is listed in each week it is in reach.
    for digest in sent:
        if digest.recipient.email == ADMIN:
            assert all(i.section == "unassigned" for i in digest.items)


# --- the start-of-action notice ----------------------------------------------------------


def start_stage(start: date, due: date | None, as_of: date) -> tuple[str, date] | None:
    found = active_stage(ActionDates(due, start, None), POLICY, DAYS, as_of)
    return None if found is None else (found.kind, found.fire)


def test_a_lead_hears_of_an_action_on_the_working_day_before_its_start() -> None:
    # Starts Sunday 1 July 2012 (read from "July 2012"), due March 2013: the notice goes on
    # Friday 29 June and stays due for a week after the start (a missed run catches up).
    start, due = date(2012, 7, 1), date(2013, 3, 31)
    assert start_stage(start, due, date(2012, 6, 28)) is None
    assert start_stage(start, due, date(2012, 6, 29)) == ("start", date(2012, 6, 29))
    assert start_stage(start, due, date(2012, 7, 6)) == ("start", date(2012, 6, 29))
    # A first run long after the start does not announce it.
    assert start_stage(start, due, start + timedelta(days=START_LATE_DAYS + 3)) is None


def test_no_start_notice_while_the_target_is_already_being_reminded() -> None:
    # Due 10 July: its 14-day reminder is already out when it starts on 2 July.
    assert start_stage(date(2012, 7, 2), date(2012, 7, 10), date(2012, 7, 2)) == (
        "upcoming",
        date(2012, 6, 26),
    )


def test_each_lead_gets_one_start_notice_naming_the_co_lead() -> None:
    starting = action(
        1, date(2013, 3, 29), ("Head of QA", "Service Manager"), start=date(2012, 7, 2)
    )
    sent = run_days([starting], date(2012, 6, 25), date(2012, 7, 13))
    notices = [(d.recipient.email, d.as_of, d.items[0]) for d in sent]
    assert [(e, day) for e, day, _ in notices] == [
        (QA, date(2012, 7, 2)),
        ("sm@example.org", date(2012, 7, 2)),
    ]
    assert [i.co_leads for _, _, i in notices] == [("Service Manager",), ("Head of QA",)]
    assert notices[0][2].section == "starting"


# --- what a reader is told ---------------------------------------------------------------


def _item(**changes: object) -> Item:
    base = Item(
        key="k",
        section="due_soon",
        kind="upcoming",
        threshold=7,
        rule="7 days before the target date",
        action_id=1,
        ref="WS4-03",
        work_stream_number=4,
        work_stream_title="Quality Assurance",
        key_deliverable="2",
        action_text="",
        description="Audit tool agreed with team managers",
        target_text="30 September 2012",
        due=date(2012, 9, 30),
        precision="day",
        recurrence="",
        days=7,
        dependencies_text="",
        strategic_lead=Contact("Assistant Director", AD),
        leads=("Assistant Director",),
        via=("Assistant Director",),
        rag=None,
        state="in progress",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def env() -> jinja2.Environment:
    return make_environment([TEMPLATES])


def render(env: jinja2.Environment, to: str, *items: Item) -> tuple[str, str]:
    digest = Digest(Recipient(to, "Reader"), date(2012, 9, 23), "Plan", "Council", items)
    rendered = render_digest(env, digest)
    return rendered.text, rendered.html


def test_no_one_is_told_to_contact_themselves(env: jinja2.Environment) -> None:
    # The strategic lead leads this action themselves: no "contact" line naming them.
    for part in render(env, AD, _item()):
        assert "Strategic lead to contact" not in part
    # Their co-lead is told whom to contact.
    other = _item(via=("Head of QA",), leads=("Assistant Director", "Head of QA"))
    text, html = render(env, QA, dataclasses.replace(other, co_leads=("Assistant Director",)))
    assert "Strategic lead to contact: Assistant Director <ad@example.org>" in text
    assert "With: Assistant Director" in text
    assert "With:</span> Assistant Director" in html


def test_an_item_with_no_action_text_is_titled_by_its_description(
    env: jinja2.Environment,
) -> None:
    text, html = render(env, QA, _item(via=("Head of QA",)))
    assert "Action: Audit tool agreed with team managers" in text
    assert text.count("Audit tool agreed with team managers") == 1  # not twice
    assert html.count("Audit tool agreed with team managers</p>") == 1


def test_the_strategic_leads_summary_says_why_they_get_it(env: jinja2.Environment) -> None:
    item = _item(
        section="unassigned",
        kind="summary",
        via=("strategic lead for work stream 4",),
        reason="it has no target date (none given, or none could be read), so no reminder is due",
        due=None,
        target_text="",
        days=0,
    )
    text, _ = render(env, AD, item)
    assert "WS4-03 — no target date\n" in text
    assert "As strategic lead for Plan, you get, once a week" in text
    assert "No one to remind (1)" in text
    assert "no target date" in text


# --- on the seed ---------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer("plain") as smtp:
        yield smtp


def test_the_seeds_summary_goes_on_monday_and_not_again_on_tuesday(
    cli: Cli, server: SmtpServer
) -> None:
    cli("plan", "import", str(SEED))
    use_smtp(cli, server)
    remind(cli, "2012-09-24")  # a Monday
    admin = text_part(for_recipient(server, "planworker-admin@example.org")[0])
    # WS8-13 ("July 2012") names no lead: the administrator and the strategic lead of work
    # stream 8 (the Director of Nursing and Quality) are told, with the reason.
    assert "WS8-13" in admin.split("No one to remind (")[1]
    assert "no lead is named" in admin
    nursing = for_recipient(server, "director-of-nursing-and-quality@example.org")
    assert any("WS8-13" in text_part(m) for m in nursing)
    before = len(server.received)
    remind(cli, "2012-09-25")
    tuesday = server.received[before:]
    assert not [r for r in tuesday if "planworker-admin@example.org" in r.rcpt_tos]
