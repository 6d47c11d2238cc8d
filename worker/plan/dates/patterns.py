"""The table of date patterns, their handlers, and the leftmost-longest search."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from worker.plan.dates.model import MAX_YEAR, MIN_YEAR, Precision
from worker.plan.dates.text import FLAGS


@dataclass(frozen=True, slots=True)
class Period:
    first: date
    last: date
    precision: Precision


_MONTH = (
    r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)(?![a-z])\.?"
)
_SEP = r"\s*[-/.,]?\s*"
_START = r"(?<![\w./-])"
_END = r"(?!\w|[./-]\d)"
_FOLLOWING_YEAR = r"(?:\s*[-/]\s*(?P<y2>\d{4}|\d{2}))"
_MONTH_NUMBERS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_SEASON_MONTHS = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}


def _year_of(text: str) -> int:
    return 2000 + int(text) if len(text) == 2 else int(text)


def _follows(year: int, text: str) -> bool:
    """True when ``text`` (2 or 4 digits) names the year after ``year``."""
    if len(text) == 2:
        return int(text) == (year + 1) % 100
    return int(text) == year + 1


def _month_of(match: re.Match[str]) -> int:
    return _MONTH_NUMBERS[match.group("mon")[:3].lower()]


def _safe_date(year: int, month: int, day: int) -> date | None:
    if not (MIN_YEAR <= year <= MAX_YEAR and 1 <= month <= 12):
        return None
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    return date(year, month, day)


def _day_period(year: int, month: int, day: int) -> Period | None:
    found = _safe_date(year, month, day)
    return None if found is None else Period(found, found, "day")


def _months_period(year: int, month: int, count: int, precision: Precision) -> Period | None:
    """``count`` months starting with ``month`` of ``year``."""
    first = _safe_date(year, month, 1)
    last_index = year * 12 + (month - 1) + (count - 1)
    last_year, last_month = divmod(last_index, 12)
    if first is None or not MIN_YEAR <= last_year <= MAX_YEAR:
        return None
    last_day = calendar.monthrange(last_year, last_month + 1)[1]
    return Period(first, date(last_year, last_month + 1, last_day), precision)


def _on_iso(m: re.Match[str]) -> Period | None:
    return _day_period(int(m.group("y")), int(m.group("m")), int(m.group("d")))


def _on_numeric_day(m: re.Match[str]) -> Period | None:
    return _day_period(_year_of(m.group("y")), int(m.group("m")), int(m.group("d")))


def _on_named_day(m: re.Match[str]) -> Period | None:
    return _day_period(_year_of(m.group("y")), _month_of(m), int(m.group("d")))


def _on_named_month(m: re.Match[str]) -> Period | None:
    return _months_period(_year_of(m.group("y") or m.group("yy")), _month_of(m), 1, "month")


def _on_numeric_month(m: re.Match[str]) -> Period | None:
    month = int(m.group("m"))
    if not 1 <= month <= 12:
        return None
    return _months_period(int(m.group("y")), month, 1, "month")


def _on_season(m: re.Match[str]) -> Period | None:
    season = m.group("season").lower()
    year = int(m.group("y"))
    following = m.group("y2")
    if following is not None and not (season == "winter" and _follows(year, following)):
        return None
    return _months_period(year, _SEASON_MONTHS[season], 3, "season")


def _on_quarter(m: re.Match[str]) -> Period | None:
    quarter = int(m.group("q"))
    year = int(m.group("y"))
    following = m.group("y2")
    if following is None:
        return _months_period(year, quarter * 3 - 2, 3, "month")
    if not _follows(year, following):
        return None
    # Financial-year quarters: Q1 is April-June, Q4 is January-March.
    index = year * 12 + 3 + (quarter - 1) * 3
    return _months_period(index // 12, index % 12 + 1, 3, "month")


def _on_financial_year(m: re.Match[str]) -> Period | None:
    year = int(m.group("y"))
    if not _follows(year, m.group("y2")):
        return None
    return _months_period(year, 4, 12, "year")


def _on_year(m: re.Match[str]) -> Period | None:
    return _months_period(int(m.group("y")), 1, 12, "year")


_Handler = Callable[[re.Match[str]], Period | None]

# Order does not matter: the longest match at the leftmost position wins.
_DATE_PATTERNS: tuple[tuple[re.Pattern[str], _Handler], ...] = (
    (
        re.compile(
            rf"{_START}(?P<y>\d{{4}})(?P<s>[-/.])(?P<m>\d{{1,2}})(?P=s)(?P<d>\d{{1,2}}){_END}",
            FLAGS,
        ),
        _on_iso,
    ),
    (
        re.compile(
            rf"{_START}(?P<d>\d{{1,2}})(?P<s>[-/.])(?P<m>\d{{1,2}})(?P=s)(?P<y>\d{{4}}|\d{{2}}){_END}",
            FLAGS,
        ),
        _on_numeric_day,
    ),
    (
        re.compile(
            rf"{_START}(?P<d>\d{{1,2}})\s*(?:st|nd|rd|th)?(?:\s*of)?{_SEP}{_MONTH}{_SEP}"
            rf"(?P<y>\d{{4}}|\d{{2}}){_END}",
            FLAGS,
        ),
        _on_named_day,
    ),
    (
        re.compile(
            rf"(?<!\w){_MONTH}\s+(?P<d>\d{{1,2}})\s*(?:st|nd|rd|th)?(?:\s*,\s*|\s+)"
            rf"(?P<y>\d{{4}}){_END}",
            FLAGS,
        ),
        _on_named_day,
    ),
    (
        re.compile(
            rf"(?<!\w){_MONTH}(?:{_SEP}(?P<y>\d{{4}})|\s*[-/']\s*(?P<yy>\d{{2}})){_END}",
            FLAGS,
        ),
        _on_named_month,
    ),
    (
        re.compile(rf"{_START}(?P<m>\d{{1,2}})[-/.](?P<y>\d{{4}}){_END}", FLAGS),
        _on_numeric_month,
    ),
    (
        re.compile(
            rf"(?<!\w)(?P<season>spring|summer|autumn|fall|winter){_SEP}(?P<y>\d{{4}})"
            rf"{_FOLLOWING_YEAR}?{_END}",
            FLAGS,
        ),
        _on_season,
    ),
    (
        re.compile(
            rf"(?<!\w)(?:q|quarter\s*)(?P<q>[1-4]){_SEP}(?P<y>\d{{4}}){_FOLLOWING_YEAR}?{_END}",
            FLAGS,
        ),
        _on_quarter,
    ),
    (
        re.compile(
            rf"(?:(?<!\w)(?:fy|f/y|financial\s+year)\s*|{_START})(?P<y>\d{{4}})"
            rf"{_FOLLOWING_YEAR}{_END}",
            FLAGS,
        ),
        _on_financial_year,
    ),
    (re.compile(rf"{_START}(?P<y>\d{{4}}){_END}", FLAGS), _on_year),
)


@dataclass(frozen=True, slots=True)
class Found:
    start: int
    end: int
    period: Period | None  # None: it looks like a date but is not a real one


def find_dates(masked: str) -> list[Found] | None:
    """Leftmost-longest date matches; None when two readings partly overlap."""
    candidates = sorted(
        (
            Found(match.start(), match.end(), handler(match))
            for pattern, handler in _DATE_PATTERNS
            for match in pattern.finditer(masked)
        ),
        key=lambda found: (found.start, -found.end),
    )
    chosen: list[Found] = []
    for candidate in candidates:
        if chosen and candidate.start < chosen[-1].end:
            if candidate.end > chosen[-1].end:
                return None
            continue
        chosen.append(candidate)
    return chosen
