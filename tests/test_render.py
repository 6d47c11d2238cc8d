"""Rendering a reminder digest into an email, with the shipped templates: what a reader sees."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import re
from datetime import UTC, date, datetime
from email.message import EmailMessage
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import icalendar
import jinja2
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from worker.mail.headers import make_address, one_line
from worker.mail.message import (
    build_message,
    has_c1_control,
    has_noncharacter,
    message_id_for,
    message_id_of,
)
from worker.mail.render import deadlines_ics, render_digest
from worker.mail.templating import Rendered, TemplateError, make_environment
from worker.rules.digest import Contact, Digest, Item, Recipient

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
AS_OF = date(2012, 9, 17)  # a Monday
ORG = "Central Bedfordshire Council"
HOSTILE_TEXT = '<script>alert(1)</script> & "quotes"'
HOSTILE_NAME = "Evil\r\nBcc: victim@example.org"

_BASE = Item(
    key="lead@example.org|1|overdue|14|2012-09-30",
    section="overdue",
    kind="overdue",
    threshold=14,
    rule="overdue by 14 days",
    action_id=1,
    ref="WS4-03",
    work_stream_number=4,
    work_stream_title="Quality Assurance",
    key_deliverable="2",
    action_text="Introduce a new case file audit tool",
    description="Audit tool agreed with team managers",
    target_text="August 2012",
    due=date(2012, 8, 31),
    precision="month",
    recurrence="",
    days=-17,
    dependencies_text="Work stream 2 training",
    strategic_lead=Contact("Jane Smith", "jane.smith@example.org"),
    leads=("Head of QA",),
    via=("Head of QA",),
    rag="amber",
    state="in progress",
)


def item(**changes: Any) -> Item:
    made = dataclasses.replace(_BASE, **changes)
    # The badge shows the effective RAG; in these examples it is the reported one.
    if "effective_rag" not in changes:
        made = dataclasses.replace(made, effective_rag=made.rag or "none")
    return made


def overdue() -> Item:
    return item()


def due_soon(**changes: Any) -> Item:
    fields: dict[str, Any] = {
        "key": "lead@example.org|2|upcoming|7|2012-09-24",
        "section": "due_soon",
        "kind": "upcoming",
        "threshold": 7,
        "rule": "7 days before the target date",
        "action_id": 2,
        "ref": "WS1-02",
        "target_text": "24th September 2012",
        "due": date(2012, 9, 24),
        "precision": "day",
        "days": 7,
        "rag": None,
    }
    return item(**(fields | changes))


def review() -> Item:
    return item(
        key="lead@example.org|3|review|1|2012-09-20",
        section="review",
        kind="review",
        threshold=1,
        rule="the review date set in the plan",
        action_id=3,
        ref="WS5-01",
        target_text="Review every two months",
        due=date(2012, 9, 20),
        precision="day",
        recurrence="every 2 months",
        days=3,
        rag="green",
    )


def unassigned(ref: str, reason: str) -> Item:
    return item(
        key=f"admin@example.org|{ref}|upcoming|7",
        section="unassigned",
        kind="upcoming",
        rule="7 days before the target date",
        ref=ref,
        due=date(2012, 9, 24),
        precision="day",
        days=7,
        leads=("Head of Nowhere",),
        via=(),
        reason=reason,
    )


def digest(*items: Item, name: str = "Head of QA", as_of: date = AS_OF) -> Digest:
    return Digest(
        recipient=Recipient("lead@example.org", name),
        as_of=as_of,
        plan_title="Post Inspection Action Plan 2012-13",
        organisation=ORG,
        items=items,
    )


@pytest.fixture(scope="module")
def env() -> jinja2.Environment:
    return make_environment([TEMPLATES])


def message(rendered: Rendered, to: str = "Head of QA") -> EmailMessage:
    built = build_message(
        rendered,
        sender=make_address("Action plan reminders", "planworker@example.org"),
        to=make_address(to, "lead@example.org"),
        reply_to=make_address("Plan Administrator", "admin@example.org"),
        message_id=message_id_for("run-1|lead@example.org", "example.org"),
        date=datetime(2012, 9, 17, 7, 30, tzinfo=UTC),
        headers={"X-Planworker-Key": "run-1|lead@example.org"},
    )
    parsed = email.message_from_bytes(built.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._hidden += tag in ("head", "style", "script")

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in ("head", "style", "script")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.chunks.append(data)


def seen(html: str) -> str:
    """The HTML's text as a reader sees it: tags gone, entities decoded, spaces collapsed."""
    parser = _Visible()
    parser.feed(html)
    parser.close()
    return " ".join("".join(parser.chunks).split())


def body(msg: EmailMessage, subtype: str) -> str:
    part = msg.get_body(preferencelist=(subtype,))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


# --- Subject -----------------------------------------------------------------------------


def test_subject_counts_only_the_sections_present(env: jinja2.Environment) -> None:
    rendered = render_digest(env, digest(overdue(), overdue(), due_soon()))
    assert rendered.subject == f"Action plan: 2 overdue, 1 due soon — {ORG}"


def test_administrator_subject_counts_actions_with_no_one_to_remind(
    env: jinja2.Environment,
) -> None:
    admin = digest(review(), unassigned("WS9-01", "a"), unassigned("WS9-02", "b"))
    assert render_digest(env, admin).subject == (
        f"Action plan: 1 review due, 2 with no one to remind — {ORG}"
    )


def test_text_parts_are_not_html_escaped(env: jinja2.Environment) -> None:
    plain = dataclasses.replace(digest(overdue()), organisation="Bedford & Luton")
    rendered = render_digest(env, plain)
    assert rendered.subject.endswith("— Bedford & Luton")
    assert "&amp;" not in rendered.text


# --- Both parts tell the same story ------------------------------------------------------


def test_text_and_html_carry_the_same_facts(env: jinja2.Environment) -> None:
    rendered = render_digest(env, digest(overdue(), due_soon(), review()))
    facts = [
        "WS4-03",
        "August 2012",  # the target as written
        "Friday 31 August 2012",  # ... and as read
        "month given, read as its last day",
        "overdue by 17 days",
        "WS1-02",
        "24th September 2012",
        "Monday 24 September 2012",
        "due in 7 days",
        "WS5-01",
        "review due in 3 days",
        "every 2 months",
        "Work stream 4: Quality Assurance",
        "Introduce a new case file audit tool",
        "Work stream 2 training",
        "Jane Smith",
        "jane.smith@example.org",
        "Amber",
        "Green",
        "Why you got this: 7 days before the target date",
    ]
    html = seen(rendered.html)
    for fact in facts:
        assert fact in rendered.text, fact
        assert fact in html, fact
    assert 'href="mailto:jane.smith@example.org"' in rendered.html
    assert "Dear Head of QA," in rendered.text
    assert "named as lead for these actions in Post Inspection Action Plan" in rendered.text


def test_sections_come_in_order(env: jinja2.Environment) -> None:
    rendered = render_digest(env, digest(review(), due_soon(), overdue()))
    for part in (rendered.text, seen(rendered.html)):
        positions = [part.index(h) for h in ("Overdue (1)", "Due soon (1)", "Review due (1)")]
        assert positions == sorted(positions)


def test_a_period_read_at_its_start_says_so(env: jinja2.Environment) -> None:
    rendered = render_digest(
        env,
        digest(due_soon(target_text="Oct 2012", due=date(2012, 10, 1), precision="month", days=14)),
    )
    assert "Monday 1 October 2012 (month given, read as its first day)" in rendered.text


def test_stand_in_is_told_why_it_reached_them(env: jinja2.Environment) -> None:
    stand_in = due_soon(via=("deputy for Head of Safeguarding (post vacant)",))
    rendered = render_digest(env, digest(stand_in, overdue()))
    line = "Sent to you as deputy for Head of Safeguarding (post vacant)"
    assert rendered.text.count(line) == 1  # not on the item where they are the named lead
    assert seen(rendered.html).count(line) == 1


def test_no_rag_reported_shows_no_rag(env: jinja2.Environment) -> None:
    rendered = render_digest(env, digest(due_soon(rag=None)))
    assert "RAG" not in rendered.text
    assert "RAG" not in rendered.html


def test_administrator_sees_why_each_action_reached_no_lead(env: jinja2.Environment) -> None:
    reasons = (
        "'Head of Nowhere' is not in the contacts directory",
        "the post is vacant and has no deputy or line manager",
    )
    admin = digest(unassigned("WS9-01", reasons[0]), unassigned("WS9-02", reasons[1]))
    rendered = render_digest(env, admin)
    for part in (rendered.text, seen(rendered.html)):
        assert "No one to remind (2)" in part
        assert "fix the contacts directory or the plan" in part
        assert "Head of Nowhere" in part
        for reason in reasons:
            assert reason in part
    assert "named as lead" not in rendered.text  # they are not a lead for these


def test_a_lead_never_sees_the_unassigned_section(env: jinja2.Environment) -> None:
    rendered = render_digest(env, digest(overdue(), due_soon()))
    assert "No one to remind" not in rendered.text
    assert "No one to remind" not in rendered.html


# --- HTML --------------------------------------------------------------------------------


def test_html_has_its_css_inlined(env: jinja2.Environment) -> None:
    html = render_digest(env, digest(overdue(), due_soon())).html
    assert "<style" not in html
    assert "style=" in html
    assert "border-left: 6px solid #b3261e" in html  # the overdue item's coloured edge


def test_html_loads_nothing(env: jinja2.Environment) -> None:
    html = render_digest(env, digest(overdue(), due_soon(), review())).html
    links = re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]+)""", html, flags=re.I)
    assert links
    assert all(link.startswith("mailto:") for link in links)
    assert "http://" not in html
    assert "https://" not in html
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()


def test_rag_badges_have_text_labels(env: jinja2.Environment) -> None:
    html = render_digest(env, digest(overdue(), review(), due_soon(rag="red"))).html
    for label in ("Amber", "Green", "Red"):
        assert re.search(rf'<span class="rag rag-{label.lower()}"[^>]*>{label}</span>', html)


# --- Hostile text ------------------------------------------------------------------------


def test_hostile_text_comes_out_inert(env: jinja2.Environment) -> None:
    hostile = digest(due_soon(action_text=HOSTILE_TEXT), name=HOSTILE_NAME)
    rendered = render_digest(env, hostile)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in rendered.html
    assert "<script" not in rendered.html
    assert HOSTILE_TEXT in seen(rendered.html)  # shown to the reader as the text it is
    assert HOSTILE_TEXT in rendered.text  # plain text is shown as typed
    assert "Dear Evil Bcc: victim@example.org," in rendered.text  # the name stays on one line

    msg = message(rendered, to=HOSTILE_NAME)
    assert msg["Bcc"] is None
    assert msg["Cc"] is None
    assert [a.addr_spec for a in msg["To"].addresses] == ["lead@example.org"]
    assert msg["To"].addresses[0].display_name == "Evil Bcc: victim@example.org"
    assert msg["Subject"] == rendered.subject
    assert "<script>" in body(msg, "plain")
    assert "<script>" not in body(msg, "html")


def test_address_parts_cannot_smuggle_recipients() -> None:
    with pytest.raises(ValueError):
        make_address("Lead", "lead@example.org, victim@example.org")
    with pytest.raises(ValueError):
        make_address("Lead", "lead@example.org\r\nBcc: victim@example.org")


def test_extra_headers_cannot_add_recipients_or_lines(env: jinja2.Environment) -> None:
    rendered = render_digest(env, digest(overdue()))
    address = make_address("Lead", "lead@example.org")
    for headers in ({"Bcc": "victim@example.org"}, {"X-Key": "a\r\nBcc: victim@example.org"}):
        with pytest.raises(ValueError):
            build_message(
                rendered,
                sender=address,
                to=address,
                reply_to=None,
                message_id="<1@example.org>",
                date=datetime(2012, 9, 17, tzinfo=UTC),
                headers=headers,
            )


def test_subject_can_never_hold_a_line_break() -> None:
    with pytest.raises(ValueError):
        Rendered(subject="a\r\nBcc: victim@example.org", text="", html="", ics=None)


# --- The message -------------------------------------------------------------------------


def test_message_has_text_then_html_then_the_calendar(env: jinja2.Environment) -> None:
    msg = message(render_digest(env, digest(overdue(), due_soon())))
    assert msg.get_content_type() == "multipart/mixed"
    alternative, attachment = msg.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "PUBLISH"
    assert attachment.get_filename() == "deadlines.ics"
    assert icalendar.Calendar.from_ical(attachment.get_content())

    assert msg["From"] == "Action plan reminders <planworker@example.org>"
    assert msg["Reply-To"] == "Plan Administrator <admin@example.org>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Date"] == "Mon, 17 Sep 2012 07:30:00 +0000"
    assert msg["Message-ID"] == message_id_for("run-1|lead@example.org", "example.org")
    assert msg["X-Planworker-Key"] == "run-1|lead@example.org"
    assert "attached deadlines.ics" in body(msg, "plain")
    assert "attached deadlines.ics" in body(msg, "html")
    assert "replies go to the plan administrator" in body(msg, "plain")


def test_overdue_only_message_has_no_calendar(env: jinja2.Environment) -> None:
    rendered = render_digest(env, digest(overdue()))
    assert rendered.ics is None
    msg = message(rendered)
    assert msg.get_content_type() == "multipart/alternative"
    assert "deadlines.ics" not in body(msg, "plain")
    assert "deadlines.ics" not in body(msg, "html")


def test_message_id_is_the_same_for_the_same_key() -> None:
    first = message_id_for("run-1|lead@example.org", "example.org")
    assert first == message_id_for("run-1|lead@example.org", "example.org")
    assert first != message_id_for("run-2|lead@example.org", "example.org")
    assert re.fullmatch(r"<[0-9a-f]{32}@example\.org>", first)


@given(
    keys=st.lists(st.text(st.characters(blacklist_categories=["Cs"]), max_size=8), max_size=12),
    chunk=st.integers(1, 5),
)
def test_a_message_id_of_keys_is_that_of_the_keys_sorted_one_per_line(
    keys: list[str], chunk: int
) -> None:
    # Hashed a few keys at a time, as a message about many items is: the same id as the
    # whole text hashed at once, whatever the keys (empty, holding line breaks) and order.
    whole = message_id_for("\n".join(sorted(keys)), "example.org")
    assert message_id_of(reversed(keys), "example.org", chunk=chunk) == whole


# --- Calendar file -----------------------------------------------------------------------


def events(ics: bytes | None) -> list[icalendar.Event]:
    assert ics is not None
    calendar = icalendar.Calendar.from_ical(ics)
    assert calendar["METHOD"] == "PUBLISH"
    assert calendar["VERSION"] == "2.0"
    assert "PRODID" in calendar
    return list(calendar.events)


def test_calendar_has_the_deadlines_still_ahead(env: jinja2.Environment) -> None:
    admin = digest(overdue(), due_soon(), review(), unassigned("WS9-01", "no contact"))
    rendered = render_digest(env, admin, prodid_domain="example.org")
    found = {str(e["SUMMARY"]): e for e in events(rendered.ics)}
    assert set(found) == {
        "WS1-02 due: Introduce a new case file audit tool",
        "WS5-01 review due: Introduce a new case file audit tool",
    }
    soon = found["WS1-02 due: Introduce a new case file audit tool"]
    assert soon.decoded("DTSTART") == date(2012, 9, 24)
    assert soon.decoded("DTEND") == date(2012, 9, 25)
    assert "24th September 2012" in str(soon["DESCRIPTION"])
    assert "Work stream 4: Quality Assurance" in str(soon["DESCRIPTION"])
    assert found["WS5-01 review due: Introduce a new case file audit tool"].decoded(
        "DTSTART"
    ) == date(2012, 9, 20)
    assert all(str(e["UID"]).endswith("@example.org") for e in found.values())


def test_calendar_is_the_same_every_time(env: jinja2.Environment) -> None:
    lead = digest(due_soon(), review())
    assert render_digest(env, lead).ics == render_digest(env, lead).ics


def test_a_later_reminder_updates_the_same_calendar_event() -> None:
    week = due_soon()
    fortnight = due_soon(key="lead@example.org|2|upcoming|14|2012-09-24", threshold=14, days=14)
    first = events(deadlines_ics(digest(fortnight, as_of=date(2012, 9, 10)), prodid_domain="a.b"))
    later = events(deadlines_ics(digest(week), prodid_domain="a.b"))
    assert first[0]["UID"] == later[0]["UID"]
    other = due_soon(action_id=99)
    assert events(deadlines_ics(digest(other), prodid_domain="a.b"))[0]["UID"] != later[0]["UID"]


def test_long_action_text_is_shortened_in_the_calendar() -> None:
    long = due_soon(action_text="Audit " + "every case file in the service " * 10)
    (event,) = events(deadlines_ics(digest(long), prodid_domain="a.b"))
    summary = str(event["SUMMARY"])
    assert summary.startswith("WS1-02 due: Audit every case file")
    assert summary.endswith("…")
    assert len(summary) <= len("WS1-02 due: ") + 80


# --- Admin templates and template errors -------------------------------------------------


def test_an_admin_folder_overrides_only_its_own_files(tmp_path: Path) -> None:
    (tmp_path / "reminder").mkdir()
    (tmp_path / "reminder" / "subject.txt").write_text(
        "Reminder for {{ digest.recipient.name }}\n", encoding="utf-8"
    )
    rendered = render_digest(make_environment([tmp_path, TEMPLATES]), digest(overdue()))
    assert rendered.subject == "Reminder for Head of QA"
    assert "Dear Head of QA," in rendered.text  # the body still comes from the shipped folder
    assert "WS4-03" in rendered.html


def test_a_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "reminder").mkdir()
    broken = tmp_path / "reminder" / "body.txt"
    broken.write_text("Dear {{ digest.recipient.name }},\n{% if %}\n", encoding="utf-8")
    with pytest.raises(TemplateError) as caught:
        render_digest(make_environment([tmp_path, TEMPLATES]), digest(overdue()))
    assert str(broken) in str(caught.value)
    assert "line 2" in str(caught.value)


def test_an_unknown_variable_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "reminder").mkdir()
    broken = tmp_path / "reminder" / "body.html"
    broken.write_text("<p>Hello</p>\n<p>{{ digest.recipient.nickname }}</p>\n", encoding="utf-8")
    with pytest.raises(TemplateError) as caught:
        render_digest(make_environment([tmp_path, TEMPLATES]), digest(overdue()))
    assert str(broken) in str(caught.value)
    assert "line 2" in str(caught.value)
    assert "nickname" in str(caught.value)


def test_a_missing_template_is_named(env: jinja2.Environment) -> None:
    with pytest.raises(TemplateError, match=r"escalation/subject\.txt"):
        render_digest(env, digest(overdue()), template="escalation")


def test_a_missing_templates_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="not found"):
        make_environment([tmp_path / "no-such-folder", TEMPLATES])


def test_an_admin_stylesheet_link_is_neither_fetched_nor_kept(tmp_path: Path) -> None:
    (tmp_path / "reminder").mkdir()
    (tmp_path / "reminder" / "body.html").write_text(
        '<html><head><link rel="stylesheet" href="https://example.invalid/x.css">'
        '<link rel="stylesheet" href="/etc/hostname"><style>p { color: #123456; }</style>'
        "</head><body><p>{{ digest.recipient.name }}</p></body></html>\n",
        encoding="utf-8",
    )
    html = render_digest(make_environment([tmp_path, TEMPLATES]), digest(overdue())).html
    assert "<link" not in html
    assert '<p style="color: #123456;">Head of QA</p>' in html


@given(st.text())
def test_oneline_gives_one_line_of_the_printable_words(text: str) -> None:
    # The plain definition: drop control characters, then make each run of whitespace
    # (line breaks included) a single space, with none at the ends.
    kept = "".join(ch for ch in text if ch.isprintable() or ch.isspace())
    assert one_line(text) == " ".join(kept.split())
    assert one_line(text).isprintable()


# Text as templates produce it: any characters, line breaks normalised, ending with one.
bodies = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\r")).map(
    lambda t: t + "\n"
)


@settings(max_examples=80, deadline=None)
@given(text=bodies, html=bodies, ics=st.none() | st.binary(max_size=300))
@example(text="\n", html="\ufffe\n", ics=None)  # a noncharacter: once found in CI
@example(text="\n", html="\U0010ffff \ufdd0 \u2014\n", ics=None)
def test_every_part_reads_back_exactly_as_rendered(text: str, html: str, ics: bytes | None) -> None:
    msg = message(Rendered(subject="Reminders", text=text, html=html, ics=ics))
    # Text travels with CRLF line endings (RFC 2046's canonical form); a reader's own
    # line ending is its business.
    assert body(msg, "plain").replace("\r\n", "\n") == text
    # HTML may travel as ASCII, other characters as references ("&#8212;" for "—"): an HTML
    # reader sees the same characters.
    sent = body(msg, "html").replace("\r\n", "\n")
    assert sent == html if html.isascii() else unescape(sent) == unescape(html)
    attachments = list(msg.iter_attachments())
    assert [a.get_payload(decode=True) for a in attachments] == ([] if ics is None else [ics])
    raw = msg.as_bytes(policy=email.policy.SMTP)
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))  # RFC 5322 line limit


@given(st.text())
def test_c1_controls_are_found_in_the_utf8_bytes(text: str) -> None:
    # The plain definition: a character from U+0080 to U+009F anywhere in the text.
    expected = any("\x80" <= ch <= "\x9f" for ch in text)
    assert has_c1_control(text.encode("utf-8", "surrogatepass")) == expected


def _noncharacter(ch: str) -> bool:
    code = ord(ch)
    return 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE


@given(
    st.text(
        st.characters(codec="utf-8")
        | st.sampled_from("\ufdcf\ufdd0\ufdef\ufdf0\ufffe\U0001fffe\U0010ffff\u0ffe\U00010ffe")
    )
)
def test_noncharacters_are_found_in_the_utf8_bytes(text: str) -> None:
    # The plain definition: U+FDD0 to U+FDEF, and the last two code points of every plane.
    # (Also drawn: the range's neighbours, and U+0FFE and U+10FFE, whose UTF-8 ends like one.)
    assert has_noncharacter(text.encode("utf-8")) == any(_noncharacter(ch) for ch in text)
