"""Naming the lead roles in a lead cell when the file does not list them.

The seed lists each row's roles by hand, because the document runs several titles together
("SMT Head of QA and Audit manager"). CSV/XLSX files may give a "Lead Roles" column; when
they do not, we split the text at the separators councils use. Splitting at " and " can
break a post such as "HOS Fostering and Adoption" in two: `plan check` then shows roles with
no contact, and a "Lead Roles" column fixes it.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"\s*(?:/|;|,|&|\band\b|\n|\s{2,})\s*", re.IGNORECASE)
_TRIM = " \t.,;:-–"


def split_roles(lead_text: str) -> tuple[str, ...]:
    """Role names in a lead text, in order, without repeats (case-insensitively)."""
    seen: dict[str, str] = {}
    for part in _SEPARATORS.split(lead_text):
        role = part.strip(_TRIM)
        if role:
            seen.setdefault(role.casefold(), role)
    return tuple(seen.values())


def role_key(name: str) -> str:
    """The key two spellings of one role share: case, spacing and end punctuation ignored."""
    return " ".join(name.split()).strip(_TRIM).casefold()
