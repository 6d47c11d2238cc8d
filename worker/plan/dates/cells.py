"""Read a spreadsheet cell as a date: a date or datetime, an Excel serial, a year, or text."""

from __future__ import annotations

import math
import numbers
from dataclasses import replace
from datetime import date, datetime, timedelta

from worker.plan.dates.model import MAX_YEAR, MIN_YEAR, MonthDay, ReadDate
from worker.plan.dates.reader import check_month_day, read_date, safe_str


def read_date_cell(value: object, *, month_day: MonthDay = "end") -> ReadDate:
    """Read a spreadsheet cell: date/datetime, Excel serial number, text or None."""
    check_month_day(month_day)
    if value is None or isinstance(value, str):
        return read_date(value, month_day=month_day)
    if isinstance(value, bool):
        return ReadDate.unreadable(str(value))
    if isinstance(value, datetime):
        return _exact_date(value.date())
    if isinstance(value, date):
        return _exact_date(value)
    if isinstance(value, numbers.Real):
        return _read_number(value, month_day)
    return ReadDate.unreadable(safe_str(value))


def _exact_date(value: date) -> ReadDate:
    text = value.isoformat()
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        return ReadDate.unreadable(text)
    return ReadDate(text, date(value.year, value.month, value.day), "day", None, True)


# Excel's 1900 date system: serial 61 onwards is days since 1899-12-30.
# Only serials for 1950-01-01..2099-12-31 are "plausible" dates; smaller
# whole numbers 1900..9999 are years, as the text "2013" would be.
_EXCEL_EPOCH = date(1899, 12, 30)
_SERIAL_MIN = (date(1950, 1, 1) - _EXCEL_EPOCH).days
_SERIAL_MAX = (date(2099, 12, 31) - _EXCEL_EPOCH).days


def _read_number(value: numbers.Real, month_day: MonthDay) -> ReadDate:
    text = safe_str(value)
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return ReadDate.unreadable(text)
    if not math.isfinite(number):
        return ReadDate.unreadable(text)
    if number.is_integer() and MIN_YEAR <= number <= MAX_YEAR:
        return replace(read_date(str(int(number)), month_day=month_day), text=text)
    if _SERIAL_MIN <= number < _SERIAL_MAX + 1:
        due = _EXCEL_EPOCH + timedelta(days=math.floor(number))
        return ReadDate(text, due, "day", None, True)
    return ReadDate.unreadable(text)
