"""Read one free-text date: find the recurrences and the date, then the words around it.

Pure code: no I/O and no clock. The forms read are listed in the package's docstring.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from worker.plan.dates.context import read_context, touches_number
from worker.plan.dates.model import MonthDay, Precision, ReadDate, Recurrence
from worker.plan.dates.patterns import Found, find_dates
from worker.plan.dates.policy import due_date
from worker.plan.dates.recurrence import find_recurrences
from worker.plan.dates.remark import looks_dateish, remark_of
from worker.plan.dates.text import normalise

_Reading = tuple[date | None, Precision, Recurrence | None, str]


def read_date(text: str | None, *, month_day: MonthDay = "end") -> ReadDate:
    """Read one date text. Never raises for any string (or None)."""
    check_month_day(month_day)
    if text is None:
        return ReadDate.blank("")
    if not isinstance(text, str):
        return ReadDate.unreadable(safe_str(text))
    norm = normalise(text)
    if not norm:
        return ReadDate.blank(text)
    reading = _interpret(norm, month_day)
    if reading is None:
        return ReadDate.unreadable(text)
    due, precision, recurrence, remark = reading
    return ReadDate(text, due, precision, recurrence, True, remark)


def latest(dates: Iterable[ReadDate]) -> ReadDate | None:
    """The item with the latest due date (first one on ties); None if none has one."""
    best: ReadDate | None = None
    best_due: date | None = None
    for item in dates:
        if item.due is not None and (best_due is None or item.due > best_due):
            best, best_due = item, item.due
    return best


def check_month_day(month_day: str) -> None:
    """ValueError unless `month_day` is "end" or "start" (a caller's mistake, not input)."""
    if month_day not in ("end", "start"):
        raise ValueError(f"month_day must be 'end' or 'start', got {month_day!r}")


def safe_str(value: object) -> str:
    """str(value), or "<type>" when its __str__ is broken: the reader must not raise."""
    try:
        return str(value)
    except Exception:  # a broken __str__ must not make the reader raise
        return f"<{type(value).__name__}>"


def _mask(norm: str, spans: Iterable[tuple[int, int]]) -> str:
    """Blank out spans (with NUL, which normalised text never holds)."""
    chars = list(norm)
    for start, end in spans:
        chars[start:end] = "\0" * (end - start)
    return "".join(chars)


def _single(recurrences: set[Recurrence]) -> tuple[bool, Recurrence | None]:
    """(ok, recurrence): not ok when the text names two different recurrences."""
    if len(recurrences) > 1:
        return False, None
    return True, next(iter(recurrences), None)


def _interpret(norm: str, month_day: MonthDay) -> _Reading | None:
    phrases = find_recurrences(norm)
    masked = _mask(norm, ((p.start, p.end) for p in phrases))
    consumed = [(p.start, p.end) for p in phrases if p.recurrence is not None]
    recurrences = {p.recurrence for p in phrases if p.recurrence is not None}
    found = find_dates(masked)
    if found is None or len(found) > 1:
        return None
    if not found:
        return _recurrence_only(norm, consumed, recurrences)
    return _dated(norm, masked, found[0], consumed, recurrences, month_day)


def _recurrence_only(
    norm: str, consumed: list[tuple[int, int]], recurrences: set[Recurrence]
) -> _Reading | None:
    remark = remark_of(norm, consumed)
    if not recurrences and remark.lower() in ("review", "reviewed"):
        return None, "none", Recurrence("review"), ""
    ok, recurrence = _single(recurrences)
    if not ok or recurrence is None or looks_dateish(remark):
        return None
    return None, "none", recurrence, remark


def _dated(
    norm: str,
    masked: str,
    found: Found,
    consumed: list[tuple[int, int]],
    recurrences: set[Recurrence],
    month_day: MonthDay,
) -> _Reading | None:
    if found.period is None:
        return None
    context = read_context(masked, found)
    if touches_number(masked, context):
        return None
    due = due_date(found.period, context, month_day)
    if due is None:
        return None
    if context.review:
        recurrences = recurrences | {Recurrence("review")}
    ok, recurrence = _single(recurrences)
    remark = remark_of(norm, [*consumed, (context.start, context.end)])
    if not ok or looks_dateish(remark):
        return None
    return due[0], due[1], recurrence, remark
