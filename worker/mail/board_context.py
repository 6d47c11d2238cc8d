"""What the board digest's templates see (`templates/digest/`): the digest plus a view of it
already grouped and worded, so that the email, the page and the Markdown say the same thing in
the same words. Pure: the same BoardDigest always gives the same view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import groupby
from typing import Literal, TypeVar, overload

from worker.mail.filters import longdate, plural, shorten
from worker.mail.headers import one_line
from worker.moments import in_zone
from worker.plan.split import show_dates
from worker.rules.board import (
    CHANGE_KINDS,
    BoardDigest,
    Change,
    ChangeKind,
    RagName,
    RagView,
    StreamSummary,
)

TEXT_BAR_WIDTH = 16  # characters in the plain-text bar, whatever the stream's size
SHORT_TITLE = 32  # characters of a work stream's title in the summary

Medium = Literal["email", "report"]
T = TypeVar("T")

RAG_WORDS: Mapping[RagName, str] = {
    "green": "Green",
    "amber": "Amber",
    "red": "Red",
    "none": "Not reported",
}
RAG_LETTERS: Mapping[RagName, str] = {"green": "G", "amber": "A", "red": "R", "none": "."}
# Colours meet WCAG AA for their text colour: dark text on Amber and on grey, white on the rest.
RAG_COLOURS: Mapping[RagName, tuple[str, str]] = {
    "green": ("#1e7b34", "#ffffff"),
    "amber": ("#ffbf00", "#1a1a1a"),
    "red": ("#b3261e", "#ffffff"),
    "none": ("#d9d9d9", "#1a1a1a"),
}
_BAR_ORDER: tuple[RagName, ...] = ("green", "amber", "red", "none")
CHANGE_TITLES: Mapping[ChangeKind, str] = {
    "newly_red": "Newly Red",
    "newly_amber": "Newly Amber",
    "recovered": "Recovered",
    "completed": "Completed",
}
TEXT_LEGEND = (
    "Key: G Green, A Amber, R Red, . Not reported (– in the counts).\n"
    f"Each bar is {TEXT_BAR_WIDTH} characters, shared out by number of actions;\n"
    "completed actions count as Green."
)


# --- The view the templates read -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Segment:
    """One colour of a work stream's bar."""

    rag: RagName
    word: str  # "Green" ... "Not reported"
    count: int
    percent: int  # share of the bar's width; a bar's segments add up to 100
    background: str
    foreground: str


@dataclass(frozen=True, slots=True)
class StreamBar:
    """A work stream's row in the RAG summary."""

    summary: StreamSummary
    short_title: str  # the title shortened to SHORT_TITLE characters
    label: str  # "WS1 Safeguarding six month actions", the title shortened
    segments: tuple[Segment, ...]  # only the colours with actions, in G, A, R, none order
    text_bar: str  # "[GGGGGAAR........]"
    text_counts: str  # "G  6 A  2 R  1 –  8  total 17"
    text_line: str  # label padded to the longest, bar, counts


@dataclass(frozen=True, slots=True)
class ActionLine:
    """One Amber or Red action, worded for the reader."""

    view: RagView
    what: str  # the action text, or the description when there is none
    leads: str
    target: str  # as written, and as read
    overdue: str  # "Overdue by 12 days" or "Not overdue"
    reported: str
    derived: str
    effective: str
    differs: bool  # reported and derived RAG differ: show both
    note_by: str
    note_when: str
    at_risk: str  # "depends on WS3-05 (Red)" or ""


@dataclass(frozen=True, slots=True)
class StreamGroup:
    """One work stream's actions in a section; its number and title are theirs."""

    actions: tuple[ActionLine, ...]  # never empty

    @property
    def number(self) -> int:
        return self.actions[0].view.work_stream_number

    @property
    def title(self) -> str:
        return one_line(self.actions[0].view.work_stream_title)


@dataclass(frozen=True, slots=True)
class PhaseGroup:
    number: int
    title: str
    streams: tuple[StreamGroup, ...]


@dataclass(frozen=True, slots=True)
class RagSection:
    """The Red or the Amber actions, by phase and then work stream."""

    rag: RagName
    title: str  # "Red actions"
    count: int
    phases: tuple[PhaseGroup, ...]


@dataclass(frozen=True, slots=True)
class ChangeLine:
    change: Change

    @property
    def what(self) -> str:
        """'was Amber, now Red'."""
        return f"was {rag_word(self.change.before)}, now {rag_word(self.change.after)}"


@dataclass(frozen=True, slots=True)
class ChangeGroup:
    kind: ChangeKind
    changes: tuple[ChangeLine, ...]

    @property
    def title(self) -> str:
        """'Newly Red'."""
        return CHANGE_TITLES[self.kind]


# --- Wording ---------------------------------------------------------------------------------


def rag_word(rag: RagName) -> str:
    """The RAG as a word, never a colour alone: 'Green', 'Amber', 'Red', 'Not reported'."""
    return RAG_WORDS[rag]


def day_month_year(day: date) -> str:
    """'1 October 2012': longdate without the day's name (day names hold no space)."""
    return longdate(day).partition(" ")[2]


def note_when(at: datetime | None, timezone: str) -> str:
    """'Friday 28 September 2012 at 15:05', in the plan's zone; '' when the note has no
    time."""
    if at is None:
        return ""
    local = in_zone(at, timezone)
    return f"{longdate(local.date())} at {local:%H:%M}"


def total_actions(digest: BoardDigest) -> int:
    return sum(s.total for s in digest.streams)


def headline(digest: BoardDigest) -> str:
    """'3 Red, 7 Amber of 110 actions; 2 newly Red since Monday 24 September 2012.'"""
    counts = (
        f"{len(digest.red)} Red, {len(digest.amber)} Amber "
        f"of {plural(total_actions(digest), 'action')}"
    )
    if digest.previous is None:
        return f"{counts}. First digest, so no changes to report yet."
    newly = sum(1 for c in digest.changes if c.kind == "newly_red")
    return f"{counts}; {newly} newly Red since {longdate(digest.previous)}."


def _target(view: RagView) -> str:
    written = show_dates(view.target_text) or "no target date"  # several items kept apart
    if view.due is None:
        return f"{written} (as written); no date could be read from it"
    return f"{written} (as written), read as {longdate(view.due)}"


def _at_risk(view: RagView, known: Mapping[str, RagName]) -> str:
    # at_risk_from holds refs only; a dependency that is Amber or Red is in the digest too.
    parts = [
        f"{ref} ({rag_word(known[ref])})" if ref in known else ref for ref in view.at_risk_from
    ]
    return f"depends on {', '.join(parts)}" if parts else ""


def action_line(view: RagView, known: Mapping[str, RagName], timezone: str) -> ActionLine:
    derived = rag_word(view.derived) if view.derived != "none" else "Not known (no dates)"
    if view.state == "on hold":
        derived = "On hold (not assessed)"  # its dates say nothing while it is paused
    return ActionLine(
        view=view,
        what=(view.action_text or view.description).strip(),
        leads="; ".join(one_line(lead) for lead in view.leads) or "No lead named",
        target=_target(view),
        overdue=(
            f"Overdue by {plural(view.days_overdue, 'day')}"
            if view.days_overdue > 0
            else "Not overdue"
        ),
        reported=rag_word(view.reported),
        derived=derived,
        effective=rag_word(view.effective),
        differs=view.reported != view.derived,
        note_by=one_line(view.latest_note_by),
        note_when=note_when(view.latest_note_at, timezone),
        at_risk=_at_risk(view, known),
    )


# --- Building the view -------------------------------------------------------------------------


def apportion(counts: Sequence[int], width: int) -> list[int]:
    """Share `width` out in proportion to `counts` (largest remainder). A non-zero count too
    small for a whole unit still gets one, so that a lone Red action never vanishes from a
    bar, and the others share what is left."""
    shares = [0 for _ in counts]
    free = [i for i, c in enumerate(counts) if c]
    if len(free) > width:
        raise ValueError(f"{len(free)} non-zero counts do not fit in a width of {width}")
    room = width
    while free:
        free_total = sum(counts[i] for i in free)
        small = [i for i in free if counts[i] * room < free_total]
        if not small:
            break
        for i in small:
            shares[i] = 1
            free.remove(i)
            room -= 1
    if not free:
        return shares
    free_total = sum(counts[i] for i in free)
    remainders = {}
    for i in free:  # integer arithmetic: the same shares on every machine
        shares[i], remainders[i] = divmod(counts[i] * room, free_total)
    leftover = room - sum(shares[i] for i in free)
    for i in sorted(free, key=lambda i: remainders[i], reverse=True)[:leftover]:
        shares[i] += 1
    return shares


def _counts(summary: StreamSummary) -> list[int]:
    return [summary.green, summary.amber, summary.red, summary.none]


def _segments(summary: StreamSummary) -> tuple[Segment, ...]:
    counts = _counts(summary)
    percents = apportion(counts, 100)
    return tuple(
        Segment(rag, rag_word(rag), count, percent, *RAG_COLOURS[rag])
        for rag, count, percent in zip(_BAR_ORDER, counts, percents, strict=True)
        if count
    )


def _text_bar(summary: StreamSummary) -> str:
    shares = apportion(_counts(summary), TEXT_BAR_WIDTH)
    if not any(shares):
        return "[" + " " * TEXT_BAR_WIDTH + "]"
    return "[" + "".join(RAG_LETTERS[r] * n for r, n in zip(_BAR_ORDER, shares, strict=True)) + "]"


def _text_counts(s: StreamSummary) -> str:
    return f"G {s.green:>2} A {s.amber:>2} R {s.red:>2} – {s.none:>2}  total {s.total:>2}"


def stream_bars(digest: BoardDigest) -> tuple[StreamBar, ...]:
    titles = [shorten(s.title, SHORT_TITLE) for s in digest.streams]
    labels = [f"WS{s.number} {t}" for s, t in zip(digest.streams, titles, strict=True)]
    pad = max((len(label) for label in labels), default=0)
    return tuple(
        StreamBar(
            summary=s,
            short_title=title,
            label=label,
            segments=_segments(s),
            text_bar=_text_bar(s),
            text_counts=_text_counts(s),
            text_line=f"{label:<{pad}}  {_text_bar(s)}  {_text_counts(s)}",
        )
        for s, title, label in zip(digest.streams, titles, labels, strict=True)
    )


def phase_title(digest: BoardDigest, number: int) -> str:
    return one_line(digest.phases.get(number, "")) or f"Phase {number}"


def _known_rags(digest: BoardDigest) -> dict[str, RagName]:
    return {v.ref: v.effective for v in digest.attention}


def _streams(
    views: Iterable[RagView], known: Mapping[str, RagName], timezone: str
) -> tuple[StreamGroup, ...]:
    return tuple(
        StreamGroup(tuple(action_line(v, known, timezone) for v in group))
        for _, group in groupby(views, key=lambda v: v.work_stream_number)
    )


def _phases(digest: BoardDigest, views: Iterable[RagView]) -> tuple[PhaseGroup, ...]:
    # digest.attention is already in phase, work stream, ref order: group, do not sort.
    known = _known_rags(digest)
    return tuple(
        PhaseGroup(phase, phase_title(digest, phase), _streams(in_phase, known, digest.timezone))
        for phase, in_phase in groupby(views, key=lambda v: v.phase)
    )


def rag_sections(digest: BoardDigest) -> tuple[RagSection, ...]:
    """Red first, then Amber; a section with no actions is kept, to say so."""
    return (
        RagSection("red", "Red actions", len(digest.red), _phases(digest, digest.red)),
        RagSection("amber", "Amber actions", len(digest.amber), _phases(digest, digest.amber)),
    )


def change_groups(digest: BoardDigest) -> tuple[ChangeGroup, ...]:
    """The changes by kind, in CHANGE_KINDS order; kinds with no change left out."""
    groups = []
    for kind in CHANGE_KINDS:
        lines = tuple(ChangeLine(c) for c in digest.changes if c.kind == kind)
        if lines:
            groups.append(ChangeGroup(kind, lines))
    return tuple(groups)


class Deferred(Sequence[T]):
    """A template's value worked out the first time a template reads it. The shipped email
    never lists every Amber and Red action (the report does), and on a large plan building
    those lines for nothing cost as much memory as the views themselves."""

    def __init__(self, make: Callable[[], Sequence[T]]) -> None:
        self._make: Callable[[], Sequence[T]] | None = make
        self._made: Sequence[T] = ()

    def _value(self) -> Sequence[T]:
        if self._make is not None:
            self._made, self._make = self._make(), None
        return self._made

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...
    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        return self._value()[index]

    def __len__(self) -> int:
        return len(self._value())

    def __iter__(self) -> Iterator[T]:
        return iter(self._value())


def template_context(digest: BoardDigest, medium: Medium) -> dict[str, object]:
    """What templates/digest/* see (documented at the top of body.txt)."""
    return {
        "digest": digest,
        "medium": medium,
        "headline": headline(digest),
        "total": total_actions(digest),
        "bars": stream_bars(digest),
        "text_legend": TEXT_LEGEND,
        "changes": change_groups(digest),
        "sections": Deferred(lambda: rag_sections(digest)),
        "rag_word": rag_word,
        "day_month_year": day_month_year,
    }
