"""Recurrence phrases: "ongoing", "every two months", "quarterly"..."""

from __future__ import annotations

import re
from dataclasses import dataclass

from worker.plan.dates.model import Recurrence

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
class Phrase:
    """A recurrence phrase; ``recurrence`` is None for repeats we cannot express."""

    start: int
    end: int
    recurrence: Recurrence | None


def find_recurrences(norm: str) -> list[Phrase]:
    return [Phrase(m.start(), m.end(), _recurrence_of(m)) for m in _RECURRENCE_RE.finditer(norm)]


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
