"""Writing iCalendar (RFC 5545) files of all-day deadline events.

The icalendar package reads these back in the tests; it is not used to write them because
its writer folds every line one character at a time, which made calendar files the largest
cost of a large daily run (docs/benchmarks.md). Only what planworker writes is covered: a
few properties, TEXT values, dates and one UTC timestamp.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

LIMIT = 75  # octets per line, not counting the CRLF (RFC 5545, 3.1)
_ESCAPES = str.maketrans({"\\": "\\\\", ";": "\\;", ",": "\\,", "\n": "\\n", "\r": ""})


@dataclass(frozen=True, slots=True)
class AllDayEvent:
    uid: str
    stamp: datetime  # UTC
    day: date
    summary: str
    description: str
    transparent: bool = True  # a deadline, not a meeting: it does not block the day


def text(value: str) -> str:
    """A TEXT value: backslash, semicolon, comma and line breaks escaped."""
    return value.translate(_ESCAPES)


def fold(line: str) -> bytes:
    """One content line in UTF-8, folded so that no line exceeds 75 octets: a break falls
    between characters, never inside one or just after an escaping backslash."""
    data = line.encode("utf-8")
    if len(data) <= LIMIT:
        return data + b"\r\n"
    out: list[bytes] = []
    start, room = 0, LIMIT
    while len(data) - start > room:
        end = start + room
        while data[end] & 0xC0 == 0x80:  # a UTF-8 continuation byte: back up to the start
            end -= 1
        if data[end - 1] == 0x5C and end - 1 > start:  # keep "\;" and the like together
            end -= 1
        out.append(data[start:end])
        start, room = end, LIMIT - 1  # a continuation line begins with a space
    out.append(data[start:])
    return b"\r\n ".join(out) + b"\r\n"


def _event_lines(event: AllDayEvent) -> Iterable[str]:
    yield "BEGIN:VEVENT"
    yield f"UID:{text(event.uid)}"
    yield f"DTSTAMP:{event.stamp:%Y%m%dT%H%M%SZ}"
    yield f"DTSTART;VALUE=DATE:{event.day:%Y%m%d}"
    yield f"DTEND;VALUE=DATE:{date.fromordinal(event.day.toordinal() + 1):%Y%m%d}"
    yield f"SUMMARY:{text(event.summary)}"
    yield f"DESCRIPTION:{text(event.description)}"
    yield f"TRANSP:{'TRANSPARENT' if event.transparent else 'OPAQUE'}"
    yield "END:VEVENT"


def calendar(prodid: str, events: Sequence[AllDayEvent]) -> bytes:
    """A VCALENDAR published to be added to the reader's own calendar."""
    lines = ["BEGIN:VCALENDAR", f"PRODID:{text(prodid)}", "VERSION:2.0", "METHOD:PUBLISH"]
    for event in events:
        lines.extend(_event_lines(event))
    lines.append("END:VCALENDAR")
    return b"".join(fold(line) for line in lines)
