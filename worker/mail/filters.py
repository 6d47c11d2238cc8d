"""The words the email templates put dates, deadlines and RAG into: Jinja filters, and the
plain functions behind them that the board digest's view uses too."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from worker.mail.headers import one_line
from worker.rules.digest import Entry, Item

_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_PERIODS = frozenset({"month", "season", "year"})


def longdate(day: date) -> str:
    """'Sunday 30 September 2012', the same whatever the machine's locale."""
    return f"{_DAY_NAMES[day.weekday()]} {day.day} {_MONTH_NAMES[day.month - 1]} {day.year}"


def plural(n: int, word: str) -> str:
    """'1 day', '6 days': the count and the word, plural unless the count is one."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def when(item: Entry) -> str:
    """The item's days in words: 'due in 6 days', 'due today', 'overdue by 14 days'."""
    if item.kind == "start" and item.due is not None:
        return _starts(item.days)
    prefix = "review " if item.kind == "review" else ""
    if item.due is None:
        return "no target date could be read" if item.target_text.strip() else "no target date"
    if item.days == 0:
        return f"{prefix}due today"
    if item.days > 0:
        return f"{prefix}due in {plural(item.days, 'day')}"
    return f"{prefix}overdue by {plural(-item.days, 'day')}"


def _starts(days: int) -> str:
    if days == 0:
        return "starts today"
    if days > 0:
        return f"starts in {plural(days, 'day')}"
    return f"started {plural(-days, 'day')} ago"


def read_as(item: Item) -> str:
    """For a target that named a period, how it became a day; '' for a day date.

    A period read at its start always falls on the 1st, and one read at its end never does,
    so the day itself says which end the `dates.month_day` setting chose.
    """
    if item.precision not in _PERIODS or item.due is None:
        return ""
    edge = "first" if item.due.day == 1 else "last"
    return f"{item.precision} given, read as its {edge} day"


def rag_label(rag: str | None) -> str:
    """'amber' -> 'Amber'; '' when no RAG has been reported."""
    if not rag or rag == "none":
        return ""
    return rag.strip().capitalize()


def shorten(text: str, limit: int) -> str:
    """`text` on one line and at most `limit` characters, cut at a word and marked "…"."""
    flat = one_line(text)
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:  # end on a whole word unless that loses half the text
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


FILTERS: Mapping[str, Any] = {
    "oneline": one_line,
    "longdate": longdate,
    "when": when,
    "read_as": read_as,
    "rag_label": rag_label,
}
