"""Turn a reminder Digest into an email: subject, plain text, HTML with inlined CSS, and an
.ics file of the upcoming deadlines. Templates live in folders searched in order, so an admin's
folder can override single files of the shipped `templates/`.

No clock and no network: the same Digest and templates always render the same.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

import jinja2

from worker.mail import ics
from worker.mail.filters import longdate, read_as, shorten
from worker.mail.headers import one_line
from worker.mail.item_view import digest_view
from worker.mail.message import CALENDAR_FILE, check_domain, hex_id
from worker.mail.templating import Rendered, render_email
from worker.rules.digest import Digest, Item, Section

# Used in PRODID and event UIDs when the caller names no domain of its own; ".invalid" can never
# clash with a real host (RFC 2606).
DEFAULT_DOMAIN = "planworker.invalid"
# Sections whose future deadlines go into the calendar file (overdue ones are already past).
CALENDAR_SECTIONS = frozenset({"due_soon", "review"})
SUMMARY_LIMIT = 80
# The messages that carry the recipient's link to their page: a lead's reminders and a
# strategic lead's escalations. The administrator's notices (no one to remind, not
# delivered) and the weekly summary are about fixing contacts and the plan: none.
LINKED_SECTIONS: tuple[Section, ...] = (
    "turned_red",
    "escalated",
    "overdue",
    "due_soon",
    "starting",
    "review",
)


def render_digest(
    env: jinja2.Environment,
    digest: Digest,
    *,
    template: str = "reminder",
    prodid_domain: str = DEFAULT_DOMAIN,
    link: str | None = None,
    link_days: int = 0,
) -> Rendered:
    """Render `<template>/subject.txt`, `body.txt` and `body.html` for one digest.

    The templates see `digest`, `shown` (its items worked out for display once for both
    parts, worker/mail/item_view.py), `calendar_file` (the attachment's name, or None when
    there is no calendar file), `link` (the recipient's signed link to their page, or None)
    and `link_days` (how long it works). Raises TemplateError naming the template file and
    line.
    """
    ics = deadlines_ics(digest, prodid_domain=prodid_domain)
    context = {
        "digest": digest,
        "shown": digest_view(digest, link),
        "calendar_file": CALENDAR_FILE if ics else None,
        "link": link,
        "link_days": link_days,
    }
    return render_email(env, template, context, ics)


def _event_uid(digest: Digest, item: Item, domain: str) -> str:
    # One identity per deadline in one person's calendar: recipient, action and kind. The
    # ledger key also holds the threshold and the due date, so a UID made from it would add a
    # second event at the 7-day reminder after the 14-day one, and leave the old date behind
    # when a target moves; with this one, re-imports update the same event.
    # Each milestone of a target cell with several dates is an event of its own.
    milestone = item.milestone.partition(":")[0]
    name = f"{digest.recipient.email}|{item.action_id}|{item.kind}" + (
        f"|{milestone}" if milestone else ""
    )
    return f"{hex_id(name)}@{domain}"


def _event_description(item: Item) -> str:
    assert item.due is not None  # only dated items become events
    hint = read_as(item)
    lines = [
        f"Action: {item.title}",
        f"Target date as written: {'; '.join(item.targets)}",
        *([item.milestone] if item.milestone else []),
        f"{'Review date' if item.kind == 'review' else 'Read as'}: {longdate(item.due)}"
        + (f" ({hint})" if hint else ""),
        f"Work stream {item.work_stream_number}: {one_line(item.work_stream_title)}",
    ]
    if item.key_deliverable:
        lines.append(f"Key deliverable: {one_line(item.key_deliverable)}")
    return "\n".join(lines)


def _event(digest: Digest, item: Item, domain: str) -> ics.AllDayEvent:
    assert item.due is not None  # only dated items become events
    what = "review due" if item.kind == "review" else "due"
    return ics.AllDayEvent(
        uid=_event_uid(digest, item, domain),
        # Midnight UTC of the run's date, not the clock: the same digest gives the same bytes.
        stamp=datetime.combine(digest.as_of, time(0), tzinfo=UTC),
        day=item.due,
        # Never an empty title: many rows have only a Description (Item.title).
        summary=f"{item.ref} {what}: {shorten(item.title, SUMMARY_LIMIT)}",
        description=_event_description(item),
    )


def deadlines_ics(digest: Digest, *, prodid_domain: str) -> bytes | None:
    """An iCalendar file with one all-day event per deadline still ahead; None if none is."""
    domain = check_domain(prodid_domain)
    events: dict[str, ics.AllDayEvent] = {}
    for item in digest.items:
        if item.section in CALENDAR_SECTIONS and item.due is not None and item.due >= digest.as_of:
            event = _event(digest, item, domain)
            events.setdefault(event.uid, event)  # one event per UID in one file
    if not events:
        return None
    prodid = f"-//{domain}//planworker action plan reminders//EN"
    return ics.calendar(prodid, list(events.values()))
