"""Text for a terminal: stored text shown, never obeyed.

Notes, names and plan texts come from files and people. A control character in them (an
escape sequence can clear the screen, retitle the window, hide or fake lines) or a
bidirectional override (it reorders what is shown) is printed as a visible escape such as
``\\x1b`` instead. JSON output is left exact: JSON escapes C0 controls itself.
"""

from __future__ import annotations

import re

# C0 controls but tab and line feed, DEL, C1 controls, and the bidirectional overrides,
# embeddings and isolates.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_IN_A_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every character that would act on a terminal shown as an escape; line
    breaks and tabs kept."""
    return _UNSAFE.sub(_escape, text)


def one_line(text: str) -> str:
    """`printable`, with line breaks escaped too: a field that must not start a fake line."""
    return _UNSAFE_IN_A_LINE.sub(_escape, text)
