"""The calendar files planworker writes, read back by the icalendar package: every text
comes back as written, and no line is longer than RFC 5545 allows."""

from __future__ import annotations

from datetime import UTC, date, datetime

import icalendar
from hypothesis import given
from hypothesis import strategies as st

from worker.mail.ics import LIMIT, AllDayEvent, calendar, fold

# Any text a plan can hold, bar the control characters iCalendar cannot carry.
texts = st.text(st.characters(exclude_categories=("Cs", "Cc")) | st.sampled_from("\n\\;,"))


@given(summary=texts, description=texts, day=st.dates(date(2000, 1, 1), date(9998, 12, 30)))
def test_an_event_reads_back_as_written(summary: str, description: str, day: date) -> None:
    stamp = datetime(2012, 11, 15, tzinfo=UTC)
    event = AllDayEvent("abc@example.org", stamp, day, summary, description)
    data = calendar("-//example.org//test//EN", [event])
    (read,) = icalendar.Calendar.from_ical(data).walk("VEVENT")
    assert str(read["SUMMARY"]) == summary
    assert str(read["DESCRIPTION"]) == description
    assert read.decoded("DTSTART") == day
    assert (read.decoded("DTEND") - day).days == 1
    assert read.decoded("DTSTAMP") == stamp
    assert str(read["UID"]) == "abc@example.org"


@given(st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=400))
def test_folded_lines_fit_and_unfold_to_the_line(line: str) -> None:
    folded = fold(line)
    assert folded.endswith(b"\r\n")
    parts = folded[:-2].split(b"\r\n")
    assert all(len(p) <= LIMIT for p in parts)
    assert all(p.startswith(b" ") for p in parts[1:])
    unfolded = parts[0] + b"".join(p[1:] for p in parts[1:])
    assert unfolded.decode("utf-8") == line
