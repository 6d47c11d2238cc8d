"""Read the free-text start and target dates of an improvement action plan.

Pure code: no I/O and no clock (nothing here asks what day it is today).
The same input always gives the same result, and no string makes the reader
raise. The page for newcomers is ``docs/dates.md``.

Input clean-up
    HTML entities are decoded (``&amp;``, ``&nbsp;``), inline tags such as
    ``<sup>th</sup>`` are dropped, block tags (``<p>``, ``<br>``, ``<td>``...)
    become a space (other text in angle brackets, like ``<TBC>``, is kept),
    and all whitespace, control and format characters count as one space.
    Text that is empty after that clean-up is *blank*: readable, with
    no date and no recurrence.

Forms read (case does not matter; month names may be full, three letters or
"Sept", with an optional dot)
    day      "30 September 2012", "9th June 2012", "9 <sup>th</sup> June 2012",
             "30/09/2012", "30/9/12", "30.09.2012", "30-09-2012", "30-Sep-12",
             "30 Sept 12", "2012-09-30", "September 30, 2012",
             "Friday 28 September 2012" (the weekday must be right),
             "w/c 3 September 2012" (week commencing: the first Friday on or
             after that day, so the Friday of a week that starts on Monday),
             "w/e 7 September 2012" (week ending: that day),
             "end of September 2012", "end Sept 2012", "start of September
             2012" (the last or first day, so precision "day", whatever
             month_day says; also before a season, quarter or year).
    month    "September 2012", "Sept 2012", "Sept-12", "Sep '12", "09/2012".
    season   "Summer 2012": meteorological seasons, spring Mar-May, summer
             Jun-Aug, autumn (or fall) Sep-Nov, winter Dec-Feb, so winter 2012
             runs from December 2012 to February 2013 ("Winter 2012/13" too).
    quarter  "Q3 2012" is a calendar quarter (Jul-Sep 2012); "Q1 2012/13" is a
             financial-year quarter (Apr-Jun 2012). Precision "month".
    year     "2013"; UK financial year "2012/13", "2012-13", "2012/2013",
             "FY 2012/13": 1 April 2012 to 31 March 2013.

Two-digit years mean 20YY and are read only where they cannot be a day:
after a day ("30/9/12", "30 Sept 12") or joined to a month name by "-", "/"
or an apostrophe ("Sept-12"). "Sept 12" is unreadable: is it 12 September or
September 2012? Years must lie in 1900..9999.

Month, season, quarter and year dates are periods. ``month_day="end"`` (the
default, config key ``dates.month_day``) gives the last day of the period,
``"start"`` the first day. Leap years are handled by :mod:`calendar`.

Recurrence (at most one per text)
    "ongoing", "On going", "on-going", "... and ongoing"     -> ongoing
    "Review" just before or after the date ("Review Dec 2012"), or alone
                                                            -> review
    "every two months", "Review every 2 months", "every month", "monthly",
    "quarterly", "six-monthly", "half-yearly", "every year", "annually",
    "yearly" (numbers as digits or words one..twelve)        -> every N months
    A recurrence without a date ("Ongoing") is readable, with no due date.
    Repeats that are not whole months ("every six weeks", "weekly",
    "fortnightly", "bi-monthly") are not read as a recurrence: the words stay
    in ``remark``; with no date the text is unreadable.

Remarks
    Words around a single date that are not part of it are kept, tidied, in
    ``remark``: "Feb 2013 for validated data but earlier for unvalidated",
    "Review February 2013 as part of peer challenge", "March 2013 (TBC)".
    Small joining words next to the date ("by", "to", "until", "due", "in",
    "on", "from", "before", "no later than") belong to the date. The remark
    is taken from the cleaned-up text (no tags, single spaces) and loses
    joining punctuation and "and" at its ends.

Unreadable (``readable=False``, ``due=None``, ``precision="none"``; the text is
kept verbatim). The reader never guesses:
    - no date and no recurrence ("TBC", "every six weeks");
    - impossible dates ("31/09/2012", "30 February 2012"): never rolled over;
    - years outside 1900..9999, or periods that would run past 9999-12-31;
    - more than one date ("May 2012 June 2012", "May 2012 - 2013"), or a left
      over month, season, weekday, ordinal day or "FY" in the remark
      ("June/July 2012", "30th June");
    - a number touching the date ("WS 1,4 May 2012", "30 June 2012 5pm");
    - a wrong weekday ("Friday 30 September 2012": that day was a Sunday);
    - words that move the date inside its period ("early", "mid", "late",
      "after", "around", "circa"...), "w/c" before a date that is not a day;
    - two different recurrences ("Review Dec 2012 and ongoing").

Spreadsheet cells (:func:`read_date_cell`)
    date/datetime -> that day (text is the ISO date); an int or float Excel
    serial (1900 date system) for 1950-01-01..2099-12-31, e.g. 41182 ->
    2012-09-30 (a time-of-day fraction is dropped); a whole number 1900..9999
    -> that year, as the text "2013" would be; str -> :func:`read_date`;
    None -> blank; bool and anything else -> unreadable.
"""

from __future__ import annotations

import calendar
import html
import math
import numbers
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Literal

__all__ = [
    "MonthDay",
    "Precision",
    "ReadDate",
    "Recurrence",
    "latest",
    "read_date",
    "read_date_cell",
]

Precision = Literal["day", "month", "season", "year", "none"]
MonthDay = Literal["end", "start"]
RecurrenceKind = Literal["ongoing", "review", "every"]

MIN_YEAR = 1900
MAX_YEAR = 9999


# --------------------------------------------------------------------------- #
# Public types
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class Recurrence:
    """How an action repeats: ``ongoing``, ``review`` or ``every N months``."""

    kind: RecurrenceKind
    months: int | None = None  # only for kind == "every"

    def __post_init__(self) -> None:
        if self.kind not in ("ongoing", "review", "every"):
            raise ValueError(f"unknown recurrence kind {self.kind!r}")
        if self.kind == "every":
            months = self.months
            if isinstance(months, bool) or not isinstance(months, int) or months < 1:
                raise ValueError(f"'every' needs a whole number of months >= 1, got {months!r}")
        elif self.months is not None:
            raise ValueError(f"months is only allowed for kind 'every', not {self.kind!r}")

    def __str__(self) -> str:
        if self.kind == "every":
            unit = "month" if self.months == 1 else "months"
            return f"every {self.months} {unit}"
        return self.kind

    @classmethod
    def parse(cls, text: str) -> Recurrence | None:
        """Exact inverse of ``str()``; ``""`` gives ``None``."""
        if text == "":
            return None
        if text == "ongoing":
            return cls("ongoing")
        if text == "review":
            return cls("review")
        match = _CANONICAL_EVERY.fullmatch(text)
        if match is not None:
            candidate = cls("every", int(match.group(1)))
            if str(candidate) == text:
                return candidate
        raise ValueError(
            f"not a recurrence: {text!r}; expected '', 'ongoing', 'review', "
            "'every 1 month' or 'every N months' (N >= 2, no leading zeros)"
        )


@dataclass(frozen=True, slots=True)
class ReadDate:
    """The result of reading one date text. See the module docstring."""

    text: str
    due: date | None
    precision: Precision
    recurrence: Recurrence | None
    readable: bool
    remark: str = ""

    def __post_init__(self) -> None:
        if (self.due is None) != (self.precision == "none"):
            raise ValueError("precision must be 'none' exactly when due is None")
        if not self.readable and (self.due is not None or self.recurrence is not None):
            raise ValueError("an unreadable date has no due date and no recurrence")

    @property
    def is_empty(self) -> bool:
        """True when the text is blank (nothing left after tags and whitespace)."""
        return _normalise(self.text) == ""


# --------------------------------------------------------------------------- #
# Public functions
# --------------------------------------------------------------------------- #


def read_date(text: str | None, *, month_day: MonthDay = "end") -> ReadDate:
    """Read one date text. Never raises for any string (or None)."""
    _check_month_day(month_day)
    if text is None:
        return _blank("")
    if not isinstance(text, str):
        return _unreadable(_safe_str(text))
    norm = _normalise(text)
    if not norm:
        return _blank(text)
    reading = _interpret(norm, month_day)
    if reading is None:
        return _unreadable(text)
    due, precision, recurrence, remark = reading
    return ReadDate(text, due, precision, recurrence, True, remark)


def read_date_cell(value: object, *, month_day: MonthDay = "end") -> ReadDate:
    """Read a spreadsheet cell: date/datetime, Excel serial number, text or None."""
    _check_month_day(month_day)
    if value is None or isinstance(value, str):
        return read_date(value, month_day=month_day)
    if isinstance(value, bool):
        return _unreadable(str(value))
    if isinstance(value, datetime):
        return _exact_date(value.date())
    if isinstance(value, date):
        return _exact_date(value)
    if isinstance(value, numbers.Real):
        return _read_number(value, month_day)
    return _unreadable(_safe_str(value))


def latest(dates: Iterable[ReadDate]) -> ReadDate | None:
    """The item with the latest due date (first one on ties); None if none has one."""
    best: ReadDate | None = None
    best_due: date | None = None
    for item in dates:
        if item.due is not None and (best_due is None or item.due > best_due):
            best, best_due = item, item.due
    return best


# --------------------------------------------------------------------------- #
# Results and small helpers
# --------------------------------------------------------------------------- #

_Reading = tuple[date | None, Precision, Recurrence | None, str]


def _check_month_day(month_day: str) -> None:
    if month_day not in ("end", "start"):
        raise ValueError(f"month_day must be 'end' or 'start', got {month_day!r}")


def _blank(text: str) -> ReadDate:
    return ReadDate(text, None, "none", None, True)


def _unreadable(text: str) -> ReadDate:
    return ReadDate(text, None, "none", None, False)


def _exact_date(value: date) -> ReadDate:
    text = value.isoformat()
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        return _unreadable(text)
    return ReadDate(text, date(value.year, value.month, value.day), "day", None, True)


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:  # a broken __str__ must not make the reader raise
        return f"<{type(value).__name__}>"


# Excel's 1900 date system: serial 61 onwards is days since 1899-12-30.
# Only serials for 1950-01-01..2099-12-31 are "plausible" dates; smaller
# whole numbers 1900..9999 are years, as the text "2013" would be.
_EXCEL_EPOCH = date(1899, 12, 30)
_SERIAL_MIN = (date(1950, 1, 1) - _EXCEL_EPOCH).days
_SERIAL_MAX = (date(2099, 12, 31) - _EXCEL_EPOCH).days


def _read_number(value: numbers.Real, month_day: MonthDay) -> ReadDate:
    text = _safe_str(value)
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return _unreadable(text)
    if not math.isfinite(number):
        return _unreadable(text)
    if number.is_integer() and MIN_YEAR <= number <= MAX_YEAR:
        return replace(read_date(str(int(number)), month_day=month_day), text=text)
    if _SERIAL_MIN <= number < _SERIAL_MAX + 1:
        due = _EXCEL_EPOCH + timedelta(days=math.floor(number))
        return ReadDate(text, due, "day", None, True)
    return _unreadable(text)


# --------------------------------------------------------------------------- #
# Normalisation
# --------------------------------------------------------------------------- #

_INLINE_TAG = re.compile(
    r"</?(?:sup|sub|b|i|u|em|strong|span|font|small|big)\b[^<>]*>", re.I | re.A
)
_BLOCK_TAG = re.compile(
    r"<!--[^<>]*-->|</?(?:p|br|div|li|ul|ol|table|tbody|thead|tr|td|th|h[1-6]|hr|a|img"
    r"|blockquote|pre|del|s|strike|ins|section|header|footer)\b[^<>]*>",
    re.I | re.A,
)
_PUNCTUATION = str.maketrans(
    {
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2018": "'",
        "\u2019": "'",
    }
)


def _normalise(text: str) -> str:
    """Decode entities, drop tags, and turn all odd spacing into single spaces."""
    cleaned = html.unescape(text)
    cleaned = _INLINE_TAG.sub("", cleaned)
    cleaned = _BLOCK_TAG.sub(" ", cleaned)
    cleaned = cleaned.translate(_PUNCTUATION)
    cleaned = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in cleaned)
    return " ".join(cleaned.split())


# --------------------------------------------------------------------------- #
# Recurrence phrases
# --------------------------------------------------------------------------- #

_CANONICAL_EVERY = re.compile(r"every ([1-9][0-9]*) months?", re.A)

_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "other": 2,
}
_UNIT_MONTHS = {"month": 1, "quarter": 3, "year": 12}
_ADVERB_MONTHS = {"monthly": 1, "quarterly": 3, "annually": 12, "yearly": 12}

_RECURRENCE_RE = re.compile(
    r"""
    (?<![a-z0-9])
    (?:
        (?P<ongoing>(?:(?:and|then|&)\s+)?on[\s-]?going)
      | (?:review(?:ed)?\s+)?every\s+
        (?:(?P<n>\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|other)\s+)?
        (?P<unit>month|quarter|year|week|fortnight|day)s?
      | (?:review(?:ed)?\s+)?
        (?P<adverb>six[\s-]?monthly|half[\s-]?yearly|bi[\s-]?monthly|bi[\s-]?annually
          |bi[\s-]?weekly|monthly|quarterly|annually|yearly|weekly|fortnightly|daily)
    )
    (?![a-z0-9])
    """,
    re.I | re.A | re.X,
)


@dataclass(frozen=True, slots=True)
class _Phrase:
    """A recurrence phrase; ``recurrence`` is None for repeats we cannot express."""

    start: int
    end: int
    recurrence: Recurrence | None


def _find_recurrences(norm: str) -> list[_Phrase]:
    return [_Phrase(m.start(), m.end(), _recurrence_of(m)) for m in _RECURRENCE_RE.finditer(norm)]


def _recurrence_of(match: re.Match[str]) -> Recurrence | None:
    if match.group("ongoing"):
        return Recurrence("ongoing")
    adverb = match.group("adverb")
    if adverb:
        return _every(_adverb_months(adverb.lower()))
    unit = match.group("unit").lower()
    number = (match.group("n") or "1").lower()
    count = _NUMBER_WORDS.get(number) or int(number)
    if unit not in _UNIT_MONTHS:
        return None
    return _every(count * _UNIT_MONTHS[unit])


def _adverb_months(adverb: str) -> int:
    if adverb.startswith(("six", "half")):
        return 6
    return _ADVERB_MONTHS.get(adverb, 0)  # 0: bi-monthly, weekly... not whole months


def _every(months: int) -> Recurrence | None:
    return Recurrence("every", months) if months >= 1 else None


# --------------------------------------------------------------------------- #
# Date patterns
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class _Period:
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


def _day_period(year: int, month: int, day: int) -> _Period | None:
    found = _safe_date(year, month, day)
    return None if found is None else _Period(found, found, "day")


def _months_period(year: int, month: int, count: int, precision: Precision) -> _Period | None:
    """``count`` months starting with ``month`` of ``year``."""
    first = _safe_date(year, month, 1)
    last_index = year * 12 + (month - 1) + (count - 1)
    last_year, last_month = divmod(last_index, 12)
    if first is None or not MIN_YEAR <= last_year <= MAX_YEAR:
        return None
    last_day = calendar.monthrange(last_year, last_month + 1)[1]
    return _Period(first, date(last_year, last_month + 1, last_day), precision)


def _on_iso(m: re.Match[str]) -> _Period | None:
    return _day_period(int(m.group("y")), int(m.group("m")), int(m.group("d")))


def _on_numeric_day(m: re.Match[str]) -> _Period | None:
    return _day_period(_year_of(m.group("y")), int(m.group("m")), int(m.group("d")))


def _on_named_day(m: re.Match[str]) -> _Period | None:
    return _day_period(_year_of(m.group("y")), _month_of(m), int(m.group("d")))


def _on_named_month(m: re.Match[str]) -> _Period | None:
    return _months_period(_year_of(m.group("y") or m.group("yy")), _month_of(m), 1, "month")


def _on_numeric_month(m: re.Match[str]) -> _Period | None:
    month = int(m.group("m"))
    if not 1 <= month <= 12:
        return None
    return _months_period(int(m.group("y")), month, 1, "month")


def _on_season(m: re.Match[str]) -> _Period | None:
    season = m.group("season").lower()
    year = int(m.group("y"))
    following = m.group("y2")
    if following is not None and not (season == "winter" and _follows(year, following)):
        return None
    return _months_period(year, _SEASON_MONTHS[season], 3, "season")


def _on_quarter(m: re.Match[str]) -> _Period | None:
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


def _on_financial_year(m: re.Match[str]) -> _Period | None:
    year = int(m.group("y"))
    if not _follows(year, m.group("y2")):
        return None
    return _months_period(year, 4, 12, "year")


def _on_year(m: re.Match[str]) -> _Period | None:
    return _months_period(int(m.group("y")), 1, 12, "year")


_Handler = Callable[[re.Match[str]], _Period | None]
_FLAGS = re.I | re.A

# Order does not matter: the longest match at the leftmost position wins.
_DATE_PATTERNS: tuple[tuple[re.Pattern[str], _Handler], ...] = (
    (
        re.compile(
            rf"{_START}(?P<y>\d{{4}})(?P<s>[-/.])(?P<m>\d{{1,2}})(?P=s)(?P<d>\d{{1,2}}){_END}",
            _FLAGS,
        ),
        _on_iso,
    ),
    (
        re.compile(
            rf"{_START}(?P<d>\d{{1,2}})(?P<s>[-/.])(?P<m>\d{{1,2}})(?P=s)(?P<y>\d{{4}}|\d{{2}}){_END}",
            _FLAGS,
        ),
        _on_numeric_day,
    ),
    (
        re.compile(
            rf"{_START}(?P<d>\d{{1,2}})\s*(?:st|nd|rd|th)?(?:\s*of)?{_SEP}{_MONTH}{_SEP}"
            rf"(?P<y>\d{{4}}|\d{{2}}){_END}",
            _FLAGS,
        ),
        _on_named_day,
    ),
    (
        re.compile(
            rf"(?<!\w){_MONTH}\s+(?P<d>\d{{1,2}})\s*(?:st|nd|rd|th)?(?:\s*,\s*|\s+)"
            rf"(?P<y>\d{{4}}){_END}",
            _FLAGS,
        ),
        _on_named_day,
    ),
    (
        re.compile(
            rf"(?<!\w){_MONTH}(?:{_SEP}(?P<y>\d{{4}})|\s*[-/']\s*(?P<yy>\d{{2}})){_END}",
            _FLAGS,
        ),
        _on_named_month,
    ),
    (
        re.compile(rf"{_START}(?P<m>\d{{1,2}})[-/.](?P<y>\d{{4}}){_END}", _FLAGS),
        _on_numeric_month,
    ),
    (
        re.compile(
            rf"(?<!\w)(?P<season>spring|summer|autumn|fall|winter){_SEP}(?P<y>\d{{4}})"
            rf"{_FOLLOWING_YEAR}?{_END}",
            _FLAGS,
        ),
        _on_season,
    ),
    (
        re.compile(
            rf"(?<!\w)(?:q|quarter\s*)(?P<q>[1-4]){_SEP}(?P<y>\d{{4}}){_FOLLOWING_YEAR}?{_END}",
            _FLAGS,
        ),
        _on_quarter,
    ),
    (
        re.compile(
            rf"(?:(?<!\w)(?:fy|f/y|financial\s+year)\s*|{_START})(?P<y>\d{{4}})"
            rf"{_FOLLOWING_YEAR}{_END}",
            _FLAGS,
        ),
        _on_financial_year,
    ),
    (re.compile(rf"{_START}(?P<y>\d{{4}}){_END}", _FLAGS), _on_year),
)


@dataclass(frozen=True, slots=True)
class _Found:
    start: int
    end: int
    period: _Period | None  # None: it looks like a date but is not a real one


def _find_dates(masked: str) -> list[_Found] | None:
    """Leftmost-longest date matches; None when two readings partly overlap."""
    candidates = sorted(
        (
            _Found(match.start(), match.end(), handler(match))
            for pattern, handler in _DATE_PATTERNS
            for match in pattern.finditer(masked)
        ),
        key=lambda found: (found.start, -found.end),
    )
    chosen: list[_Found] = []
    for candidate in candidates:
        if chosen and candidate.start < chosen[-1].end:
            if candidate.end > chosen[-1].end:
                return None
            continue
        chosen.append(candidate)
    return chosen


# --------------------------------------------------------------------------- #
# Words around the date
# --------------------------------------------------------------------------- #

_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}

_PREFIXES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "modifier",
        re.compile(
            r"(?<!\w)(?:early|mid|middle\s+of|late|around|about|approx(?:imately)?|circa|c\."
            r"|after|not\s+before|beyond)[\s-]*$",
            _FLAGS,
        ),
    ),
    (
        "edge",
        re.compile(
            r"(?<!\w)(?:the\s+)?(?P<edge>end|start|beginning)(?:\s+of)?\s+(?:the\s+)?$", _FLAGS
        ),
    ),
    (
        "week",
        re.compile(
            r"(?<![\w/])(?:w/c|w/b|week\s+(?:commencing|beginning|starting))[\s:]*$", _FLAGS
        ),
    ),
    ("week_ending", re.compile(r"(?<![\w/])(?:w/e|week\s+ending)[\s:]*$", _FLAGS)),
    (
        "weekday",
        re.compile(
            r"(?<!\w)(?P<wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday"
            r"|mon|tues?|wed|thu(?:rs?)?|fri|sat|sun)\.?,?\s*$",
            _FLAGS,
        ),
    ),
    (
        "filler",
        re.compile(
            r"(?<!\w)(?:by|before|to|until|till|due(?:\s+(?:by|on|in))?|in|on"
            r"|from|not?\s+later\s+than)\s*[:,]?\s*$",
            _FLAGS,
        ),
    ),
    ("review", re.compile(r"(?<!\w)review(?:ed)?\s*[:,-]?\s*$", _FLAGS)),
)
_REVIEW_AFTER = re.compile(r"\s*[,;:-]?\s*(?:(?:and|then|&)\s+)?review(?:ed)?(?!\w)", _FLAGS)
_DIGIT_BEFORE = re.compile(r"\d[\s,]*$")
_DIGIT_AFTER = re.compile(r"[\s,]*\d")
_LOOK_BACK = 80


@dataclass(slots=True)
class _Context:
    """What the words next to the date said."""

    start: int
    end: int
    kinds: dict[str, re.Match[str]]
    review: bool = False


def _read_context(masked: str, found: _Found) -> _Context:
    context = _Context(found.start, found.end, {})
    progress = True
    while progress:
        progress = False
        for kind, pattern in _PREFIXES:
            if kind in context.kinds:
                continue
            match = pattern.search(masked, max(0, context.start - _LOOK_BACK), context.start)
            if match is not None and match.end() == context.start:
                context.kinds[kind] = match
                context.start = match.start()
                progress = True
                break
    after = _REVIEW_AFTER.match(masked, context.end)
    if after is not None:
        context.end = after.end()
        context.review = True
    context.review = context.review or "review" in context.kinds
    return context


def _touches_number(masked: str, context: _Context) -> bool:
    before = _DIGIT_BEFORE.search(masked, max(0, context.start - _LOOK_BACK), context.start)
    return before is not None or _DIGIT_AFTER.match(masked, context.end) is not None


def _due_date(
    period: _Period, context: _Context, month_day: MonthDay
) -> tuple[date, Precision] | None:
    kinds = context.kinds
    if "modifier" in kinds:
        return None
    if "edge" in kinds and period.precision != "day":
        edge = kinds["edge"].group("edge").lower()
        return (period.last if edge == "end" else period.first), "day"
    if period.precision != "day":
        if kinds.keys() & {"week", "week_ending", "weekday"}:
            return None
        return (period.last if month_day == "end" else period.first), period.precision
    return _day_due(period.first, kinds)


def _day_due(day: date, kinds: dict[str, re.Match[str]]) -> tuple[date, Precision] | None:
    if "weekday" in kinds:
        named = _WEEKDAYS[kinds["weekday"].group("wd")[:3].lower()]
        if named != day.weekday():
            return None
    if "week" in kinds and "week_ending" in kinds:
        return None
    if "week" in kinds:
        # Never overflows: date.max (9999-12-31) is itself a Friday.
        return day + timedelta(days=(4 - day.weekday()) % 7), "day"
    return day, "day"


# --------------------------------------------------------------------------- #
# Remarks
# --------------------------------------------------------------------------- #

_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]")
_EDGE_JUNK = " ,;:.-/"
_EDGE_WORDS = re.compile(r"^(?:and|then|&)(?:\s+|$)|(?:^|\s+)(?:and|then|&)$", _FLAGS)
_DATEISH = re.compile(
    r"(?<![a-z])(?:jan(?:uary)?|feb(?:ruary)?|apr(?:il)?|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
    r"|spring|summer|autumn|winter|(?:mon|tues|wednes|thurs|fri|satur|sun)day"
    r"|q[1-4]|fy|financial\s+year|w/[bce]|week\s+(?:commencing|beginning|ending|starting)"
    r"|\d{1,2}\s*(?:st|nd|rd|th))(?![a-z])",
    _FLAGS,
)
# "may" and "march" are also ordinary words: count them only when capitalised.
_DATEISH_CASED = re.compile(r"(?<![A-Za-z])(?:May|MAY|March|MARCH|Mar|MAR)(?![A-Za-z])")


def _remark(norm: str, consumed: list[tuple[int, int]]) -> str:
    pieces: list[str] = []
    position = 0
    for start, end in sorted(consumed):
        pieces.append(norm[position:start])
        position = max(position, end)
    pieces.append(norm[position:])
    return _tidy(" ".join(piece.strip() for piece in pieces if piece.strip()))


def _tidy(remark: str) -> str:
    previous = None
    while remark != previous:
        previous = remark
        remark = _EMPTY_BRACKETS.sub(" ", remark)
        remark = " ".join(remark.split()).strip(_EDGE_JUNK)
        remark = _EDGE_WORDS.sub("", remark)
    return remark


def _looks_dateish(remark: str) -> bool:
    return bool(_DATEISH.search(remark) or _DATEISH_CASED.search(remark))


# --------------------------------------------------------------------------- #
# Putting it together
# --------------------------------------------------------------------------- #


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
    phrases = _find_recurrences(norm)
    masked = _mask(norm, ((p.start, p.end) for p in phrases))
    consumed = [(p.start, p.end) for p in phrases if p.recurrence is not None]
    recurrences = {p.recurrence for p in phrases if p.recurrence is not None}
    found = _find_dates(masked)
    if found is None or len(found) > 1:
        return None
    if not found:
        return _recurrence_only(norm, consumed, recurrences)
    return _dated(norm, masked, found[0], consumed, recurrences, month_day)


def _recurrence_only(
    norm: str, consumed: list[tuple[int, int]], recurrences: set[Recurrence]
) -> _Reading | None:
    remark = _remark(norm, consumed)
    if not recurrences and remark.lower() in ("review", "reviewed"):
        return None, "none", Recurrence("review"), ""
    ok, recurrence = _single(recurrences)
    if not ok or recurrence is None or _looks_dateish(remark):
        return None
    return None, "none", recurrence, remark


def _dated(
    norm: str,
    masked: str,
    found: _Found,
    consumed: list[tuple[int, int]],
    recurrences: set[Recurrence],
    month_day: MonthDay,
) -> _Reading | None:
    if found.period is None:
        return None
    context = _read_context(masked, found)
    if _touches_number(masked, context):
        return None
    due = _due_date(found.period, context, month_day)
    if due is None:
        return None
    if context.review:
        recurrences = recurrences | {Recurrence("review")}
    ok, recurrence = _single(recurrences)
    remark = _remark(norm, [*consumed, (context.start, context.end)])
    if not ok or _looks_dateish(remark):
        return None
    return due[0], due[1], recurrence, remark
