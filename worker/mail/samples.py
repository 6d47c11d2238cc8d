"""Sample messages for `config check`: every template rendered once before anything is sent.

The data is invented but complete — an item in every section a lead's, a strategic lead's or
the administrator's message can have, and a board digest with something in each part — so a
template that fails on any of them (a misspelt field, a filter that breaks on an empty
note) fails here, naming its file and line, rather than on a working morning.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

from worker.mail.board import render_board_digest, report_html
from worker.mail.render import render_digest
from worker.mail.templating import TemplateError, make_environment
from worker.rules.board import BoardDigest, Change, RagView, StreamSummary
from worker.rules.digest import SECTIONS, Contact, Digest, Item, Recipient

AS_OF = date(2012, 10, 1)
PLAN = "Post Inspection Action Plan 2012-13"
ORGANISATION = "A Council's Children's Services"
_KINDS = {
    "turned_red": "red_alert",
    "overdue": "overdue",
    "escalated": "escalation",
    "due_soon": "upcoming",
    "starting": "start",
    "review": "review",
    "unassigned": "overdue",
    "undelivered": "upcoming",
}


def _item(number: int) -> Item:
    section = SECTIONS[number % len(SECTIONS)]
    days = (-12, 7, -30, 7, 0, -3, 14)[number % 7]
    return Item(
        key=f"sample-{number}",
        section=section,
        kind=_KINDS[section],  # type: ignore[arg-type]
        threshold=abs(days),
        rule="a sample rule",
        action_id=number,
        ref=f"WS1-{number:02d}",
        work_stream_number=1,
        work_stream_title="Quality assurance",
        key_deliverable="A performance framework",
        action_text="Introduce a case file audit tool" if number % 2 else "",
        description="Audit a sample of case files each month",
        target_text="30 September 2012",
        due=AS_OF.replace(day=1) if number % 3 else None,
        precision="day",
        recurrence="every 2 months" if section == "review" else "",
        days=days,
        dependencies_text="WS1-01" if number % 2 else "",
        strategic_lead=Contact("Jane Smith", "jane.smith@example.org"),
        leads=("Head of QA", "Service Manager"),
        via=("Head of QA", "deputy for Service Manager (vacant)"),
        rag=("red", "amber", "green", None)[number % 4],
        state="in progress",
        reason="no lead in the contacts" if section in ("unassigned", "undelivered") else "",
        effective_rag="amber",
        derived_rag="red",
        disagreement="reported Amber, overdue by 12 days",
        latest_note="Audit tool procured; training booked" if number % 2 else "",
        at_risk_from=("WS1-01",) if number % 2 else (),
    )


def reminder_digests() -> list[Digest]:
    """A lead's, a strategic lead's and the administrator's message, with every section."""
    items = tuple(_item(n) for n in range(1, 2 * len(SECTIONS) + 1))
    base = Digest(Recipient("lead@example.org", "Head of QA"), AS_OF, PLAN, ORGANISATION, items)
    lead = replace(base, items=tuple(i for i in items if i.section in ("overdue", "due_soon")))
    return [base, lead, replace(base, items=items[:1])]


def _view(ref: str, effective: str, note: str) -> RagView:
    return RagView(
        action_id=1,
        ref=ref,
        phase=1,
        work_stream_number=1,
        work_stream_title="Quality assurance",
        key_deliverable="A performance framework",
        action_text="Introduce a case file audit tool",
        description="Audit a sample of case files each month",
        leads=("Head of QA",),
        target_text="30 September 2012",
        due=date(2012, 9, 30),
        precision="day",
        days_overdue=1 if effective == "red" else 0,
        reported="green",
        derived=effective,  # type: ignore[arg-type]
        effective=effective,  # type: ignore[arg-type]
        disagreement="reported Green, overdue by 1 day" if effective == "red" else "",
        state="in progress",
        latest_note=note,
        latest_note_by="Head of QA" if note else "",
        latest_note_at=datetime(2012, 9, 28, 9, 30, tzinfo=UTC) if note else None,
        at_risk_from=("WS1-01",) if effective == "amber" else (),
    )


def board_digest() -> BoardDigest:
    return BoardDigest(
        plan_title=PLAN,
        organisation=ORGANISATION,
        as_of=AS_OF,
        previous=date(2012, 9, 24),
        phases={1: "Phase one", 2: "Phase two"},
        attention=(_view("WS1-01", "red", "Slipped to October"), _view("WS1-02", "amber", "")),
        changes=(
            Change("newly_red", "WS1-01", 1, "Introduce an audit tool", "green", "red", ""),
            Change("completed", "WS1-03", 1, "Publish the terms", "amber", "green", "completed"),
        ),
        streams=(
            StreamSummary(1, "Quality assurance", 1, "Jane Smith", 3, 1, 1, 0, 1),
            StreamSummary(2, "Workforce", 2, "", 0, 0, 0, 4, 0),
        ),
    )


# A link as messages carry it (".invalid" never resolves, RFC 2606).
SAMPLE_LINK = "https://planworker.invalid/lead/sample-token"


def template_problems(folders: Sequence[Path]) -> list[str]:
    """Each template set rendered once with the samples: one line per failure."""
    try:
        env = make_environment(folders)
    except TemplateError as exc:
        return [str(exc)]
    board = board_digest()
    problems: list[str] = []
    renders: tuple[Callable[[], object], ...] = (
        *(partial(render_digest, env, digest) for digest in reminder_digests()),
        # ...and with a recipient's link, as when web.base_url and the key are set.
        *(
            partial(render_digest, env, digest, link=SAMPLE_LINK, link_days=45)
            for digest in reminder_digests()
        ),
        partial(render_board_digest, env, board),
        partial(report_html, env, board),
    )
    for render in renders:
        try:
            render()
        except TemplateError as exc:
            if str(exc) not in problems:
                problems.append(str(exc))
    return problems
