"""The reader's result types: a read date, its precision and its recurrence."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from worker.plan.dates.text import normalise

Precision = Literal["day", "month", "season", "year", "none"]
MonthDay = Literal["end", "start"]
RecurrenceKind = Literal["ongoing", "review", "every"]

MIN_YEAR = 1900
MAX_YEAR = 9999

# The canonical text of an "every" recurrence, as str() writes it.
_CANONICAL_EVERY = re.compile(r"every ([1-9][0-9]*) months?", re.A)


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

    @classmethod
    def blank(cls, text: str) -> ReadDate:
        """Readable, with no date and no recurrence: nothing left after the clean-up."""
        return cls(text, None, "none", None, True)

    @classmethod
    def unreadable(cls, text: str) -> ReadDate:
        """Not read: no date, no recurrence, the text kept verbatim."""
        return cls(text, None, "none", None, False)

    @property
    def is_empty(self) -> bool:
        """True when the text is blank (nothing left after tags and whitespace)."""
        return normalise(self.text) == ""
