"""What the board's weekly email, the exception digest, shows (`templates/digest/body.*`):
the headline counts, the actions that need the board, the reports of the cycle and a count per
work stream, already worded and shortened. Pure: the same BoardDigest always gives the same
view. The full list (the board report) is board_context.py's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from worker.mail.board_context import SHORT_TITLE, day_month_year, total_actions
from worker.mail.filters import longdate, plural, shorten
from worker.mail.headers import one_line
from worker.moments import in_zone
from worker.rules.acknowledge import Acknowledged
from worker.rules.board import BoardDigest, Flagged, RagName, RagView, ReportedChange

# What the email shows of a long text: enough to know the action; the report has it whole.
WHAT_CHARS = 140
NOTE_CHARS = 200
# The most the email lists in each section: mail clients clip an HTML part above about
# 100 KB, and a week in which every action needs the board is one for the full report.
NEEDS_SHOWN = 40
REPORTS_SHOWN = 80
EXCEPTION_WORDS: Mapping[RagName, str] = {
    "green": "Green",
    "amber": "Amber",
    "red": "Red",
    "none": "No return",
}


@dataclass(frozen=True, slots=True)
class Counts:
    """The headline: every action (dropped ones aside) by effective RAG, completed apart."""

    green: int  # open and Green: completed actions are counted under completed only
    amber: int
    red: int
    none: int
    completed: int
    total: int
    overdue: int
    newly_overdue: int
    returns: int
    open_actions: int


@dataclass(frozen=True, slots=True)
class NeedLine:
    """An action under "Needs the board", worded: short texts, the reasons first."""

    ref: str
    rag: RagName
    rag_word: str
    what: str
    reasons: tuple[str, ...]
    leads: str
    target: str
    note: str  # the latest note, shortened, with who and when; "" when none
    acknowledged: str = ""  # "acknowledged by Jane Smith on 3 October 2012", "" when not


@dataclass(frozen=True, slots=True)
class ChangedLine:
    """A report under "What changed"."""

    ref: str
    what: str  # the action, shortened
    change: str  # "first report: Green", "Red to Amber"
    note: str
    by: str  # "Jane Smith, 3 October 2012"


@dataclass(frozen=True, slots=True)
class StreamRow:
    number: int
    title: str
    green: int  # open Green
    amber: int
    red: int
    none: int
    completed: int


def counts(digest: BoardDigest) -> Counts:
    s = digest.streams
    completed = sum(x.completed for x in s)
    overdue = [v for v in digest.attention if v.days_overdue > 0]
    return Counts(
        green=sum(x.green for x in s) - completed,
        amber=sum(x.amber for x in s),
        red=sum(x.red for x in s),
        none=sum(x.none for x in s),
        completed=completed,
        total=total_actions(digest),
        overdue=len(overdue),
        newly_overdue=sum(1 for f in digest.needs if "newly_overdue" in f.kinds),
        returns=digest.returns,
        open_actions=digest.open_actions,
    )


def _note(view: RagView, timezone: str) -> str:
    if not view.latest_note.strip():
        return ""
    when = _day(view.latest_note_at, timezone)
    who = ", ".join(x for x in (one_line(view.latest_note_by), when) if x)
    text = shorten(view.latest_note, NOTE_CHARS)
    return f"{text} ({who})" if who else text


def _day(at: datetime | None, timezone: str) -> str:
    # The day in the plan's zone: a report at 00:30 in summer is that day's, not the last.
    return day_month_year(in_zone(at, timezone).date()) if at else ""


def _target_short(written: str, due: date | None) -> str:
    """'Sept 2012 (30 September 2012)': as written, and as read when that says more."""
    if due is None or day_month_year(due) == written:
        return written
    return f"{written} ({day_month_year(due)})"


def acknowledged_by(acks: tuple[Acknowledged, ...], timezone: str) -> str:
    """'acknowledged by Jane Smith on 3 October 2012' (and by whoever else, latest last)."""
    said = [f"{one_line(a.name) or a.email} on {_day(a.at, timezone)}" for a in acks]
    return f"acknowledged by {' and '.join(said)}" if said else ""


def need_line(flagged: Flagged, timezone: str, acks: tuple[Acknowledged, ...] = ()) -> NeedLine:
    v = flagged.view
    written = one_line(v.target_text) or "no target date"
    return NeedLine(
        ref=v.ref,
        rag=v.effective,
        rag_word=EXCEPTION_WORDS[v.effective],
        what=shorten(v.action_text or v.description, WHAT_CHARS),
        reasons=flagged.reasons,
        leads="; ".join(one_line(lead) for lead in v.leads) or "No lead named",
        target=_target_short(written, v.due)
        + (f", overdue by {plural(v.days_overdue, 'day')}" if v.days_overdue > 0 else ""),
        note=_note(v, timezone),
        acknowledged=acknowledged_by(acks, timezone),
    )


def changed_line(change: ReportedChange, timezone: str) -> ChangedLine:
    by = ", ".join(x for x in (one_line(change.by), _day(change.at, timezone)) if x)
    return ChangedLine(
        ref=change.ref,
        what=shorten(change.action_text, WHAT_CHARS),
        change=change.what,
        note=shorten(change.note, NOTE_CHARS) if change.note.strip() else "",
        by=by,
    )


def stream_rows(digest: BoardDigest) -> tuple[StreamRow, ...]:
    return tuple(
        StreamRow(
            s.number,
            # The row adds its own colon: the seed's "LAC six month actions:" keeps one.
            shorten(s.title, SHORT_TITLE).rstrip(":"),
            s.green - s.completed,
            s.amber,
            s.red,
            s.none,
            s.completed,
        )
        for s in digest.streams
    )


def since(digest: BoardDigest) -> str:
    """'since Monday 24 September 2012': the cycle the news is from."""
    start = digest.cycle_start or digest.previous
    if start is None:
        return "this week"
    return f"since {longdate(start)}"


def exception_context(digest: BoardDigest) -> dict[str, object]:
    """The exception digest's variables (documented at the top of body.txt)."""
    return {
        "since": since(digest),
        "counts": counts(digest),
        "needs": tuple(
            need_line(f, digest.timezone, digest.acknowledged.get(f.view.action_id, ()))
            for f in digest.needs[:NEEDS_SHOWN]
        ),
        "needs_more": max(0, len(digest.needs) - NEEDS_SHOWN),
        "reported": tuple(
            changed_line(c, digest.timezone) for c in digest.reported[:REPORTS_SHOWN]
        ),
        "reported_more": max(0, len(digest.reported) - REPORTS_SHOWN),
        "rows": stream_rows(digest),
    }
