"""Text in spreadsheet cells: the formula guard, both ways, and characters a cell cannot hold.

Every CSV/XLSX reader and writer uses these, so an exported cell reads back as it was.
"""

from __future__ import annotations

import re

# Spreadsheet programs run a cell that starts like a formula; some strip a leading tab or
# carriage return first, so those count too.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# Characters XML 1.0 (so an .xlsx cell) cannot hold: C0 controls other than tab, line feed
# and carriage return. They never belong in a plan's text either.
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _needs_guard(text: str) -> bool:
    # Text that already starts with guard apostrophes is guarded once more, so that taking
    # one apostrophe off on import always gives back exactly what was written.
    return text.lstrip("'").startswith(FORMULA_START)


def csv_safe(value: object) -> str:
    """The value as a CSV cell that a spreadsheet program shows as text, never runs: one
    starting like a formula gets a leading apostrophe. Every CSV writer uses this one."""
    text = str(value)
    return "'" + text if _needs_guard(text) else text


def unguard_formula(text: str) -> str:
    """A cell read from a file: the apostrophe `csv_safe` added is taken off again."""
    if text.startswith("'") and _needs_guard(text[1:]):
        return text[1:]
    return text


def unwritable_character(text: str) -> str | None:
    """The first character of `text` that a workbook cannot hold, as U+XXXX; None if none."""
    found = _UNWRITABLE.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def writable(text: str) -> str:
    """The text with each character a workbook cannot hold replaced by U+FFFD."""
    return _UNWRITABLE.sub("\ufffd", text)
