"""Turn a reminder Digest into an email: subject, plain text, HTML with inlined CSS, and an
.ics file of the upcoming deadlines. Templates live in folders searched in order, so an admin's
folder can override single files of the shipped `templates/`.

No clock and no network: the same Digest and templates always render the same.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import css_inline
import jinja2

from worker.errors import PlanworkerError
from worker.mail import ics
from worker.mail.headers import header_block

# Re-exported: callers build addresses and one-line text from here, as before headers.py.
from worker.mail.headers import make_address as make_address
from worker.mail.headers import one_line as one_line
from worker.rules.digest import Digest, Item

CALENDAR_FILE = "deadlines.ics"
# Used in PRODID and event UIDs when the caller names no domain of its own; ".invalid" can never
# clash with a real host (RFC 2606).
DEFAULT_DOMAIN = "planworker.invalid"
# Sections whose future deadlines go into the calendar file (overdue ones are already past).
CALENDAR_SECTIONS = frozenset({"due_soon", "review"})
SUMMARY_LIMIT = 80

_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_PERIODS = frozenset({"month", "season", "year"})
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})
# Headers build_message sets itself: extra headers may not replace them or add recipients.
_RESERVED_HEADERS = frozenset(
    {
        "subject",
        "from",
        "sender",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "date",
        "message-id",
        "auto-submitted",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
    }
)
_HEADER_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322 field name: printable ASCII except ":"
_MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


class TemplateError(PlanworkerError):
    """A template that cannot be found, parsed or rendered; names the file and the line."""

    def __init__(self, template: str, reason: str, *, line: int | None = None) -> None:
        self.template = template
        self.reason = reason
        self.line = line
        where = f"{template}, line {line}" if line else template
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    ics: bytes | None

    def __post_init__(self) -> None:
        # The subject becomes a header: a line break in it could start a new header.
        if self.subject != one_line(self.subject) or not self.subject:
            raise ValueError(f"subject must be one non-empty line: {self.subject!r}")


# --- Filters the templates use -------------------------------------------------------------


def longdate(day: date) -> str:
    """'Sunday 30 September 2012', the same whatever the machine's locale."""
    return f"{_DAY_NAMES[day.weekday()]} {day.day} {_MONTH_NAMES[day.month - 1]} {day.year}"


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def when(item: Item) -> str:
    """The item's days in words: 'due in 6 days', 'due today', 'overdue by 14 days'."""
    prefix = "review " if item.kind == "review" else ""
    if item.due is None:
        return "no target date could be read"
    if item.days == 0:
        return f"{prefix}due today"
    if item.days > 0:
        return f"{prefix}due in {_count(item.days, 'day')}"
    return f"{prefix}overdue by {_count(-item.days, 'day')}"


def read_as(item: Item) -> str:
    """For a target that named a period, how it became a day; '' for a day date.

    A period read at its start always falls on the 1st, and one read at its end never does,
    so the day itself says which end the `dates.month_day` setting chose.
    """
    if item.precision not in _PERIODS or item.due is None:
        return ""
    edge = "first" if item.due.day == 1 else "last"
    return f"{item.precision} given, read as its {edge} day"


def rag_label(rag: str | None) -> str:
    """'amber' -> 'Amber'; '' when no RAG has been reported."""
    if not rag or rag == "none":
        return ""
    return rag.strip().capitalize()


_FILTERS: Mapping[str, Any] = {
    "oneline": one_line,
    "longdate": longdate,
    "when": when,
    "read_as": read_as,
    "rag_label": rag_label,
}


# --- Environment and rendering -------------------------------------------------------------


def make_environment(folders: Sequence[Path]) -> jinja2.Environment:
    """Templates from `folders`, first match wins (an admin's folder, then the shipped one)."""
    if not folders:
        raise ValueError("make_environment needs at least one templates folder")
    for folder in folders:
        if not folder.is_dir():
            # A mistyped override folder would otherwise be skipped without a word.
            raise TemplateError(str(folder), "templates folder not found")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(list(folders)),
        undefined=jinja2.StrictUndefined,
        # Only .html files are escaped: escaping the .txt files would put "&amp;" in the plain
        # text and the subject. A template made from a string has no name to judge by, so it is
        # escaped: a stray "&amp;" is a visible nuisance, unescaped markup in HTML is not.
        autoescape=jinja2.select_autoescape(["html"], default_for_string=True, default=False),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(_FILTERS)
    return env


def _template_line(exc: BaseException) -> tuple[str | None, int | None]:
    """The innermost template frame of a runtime error (Jinja maps its frames to templates)."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if not frame.filename.endswith(".py"):
            return frame.filename, frame.lineno
    return None, None


def _render(env: jinja2.Environment, name: str, context: Mapping[str, object]) -> str:
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            exc.filename or exc.name or name, exc.message or str(exc), line=exc.lineno
        ) from exc
    except jinja2.TemplateNotFound as exc:
        folders = ", ".join(str(p) for p in getattr(env.loader, "searchpath", []))
        path, line = _template_line(exc)
        where = path if exc.name != name and path else name
        raise TemplateError(
            where, f"template {exc.name!r} not found in {folders}", line=line
        ) from exc
    except jinja2.TemplateError as exc:  # UndefinedError and other errors while rendering
        path, line = _template_line(exc)
        raise TemplateError(path or name, exc.message or str(exc), line=line) from exc


def _inline_css(html: str, name: str) -> str:
    # No stylesheet is fetched, remote or local: the message must not depend on anything but
    # the template, and a <link> in an admin's template must not read files from this machine.
    inliner = css_inline.CSSInliner(
        load_remote_stylesheets=False, keep_style_tags=False, keep_link_tags=False
    )
    try:
        return inliner.inline(html)
    except ValueError as exc:  # css_inline.InlineError
        raise TemplateError(name, f"cannot inline its CSS: {exc}") from exc


def _newlines(text: str) -> str:
    """One kind of line ending, ending with one; the email package writes CRLF on the wire."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") else text + "\n"


def render_digest(
    env: jinja2.Environment,
    digest: Digest,
    *,
    template: str = "reminder",
    prodid_domain: str = DEFAULT_DOMAIN,
) -> Rendered:
    """Render `<template>/subject.txt`, `body.txt` and `body.html` for one digest.

    The templates see `digest` and `calendar_file` (the attachment's name, or None when there
    is no calendar file). Raises TemplateError naming the template file and line.
    """
    ics = deadlines_ics(digest, prodid_domain=prodid_domain)
    context = {"digest": digest, "calendar_file": CALENDAR_FILE if ics else None}
    subject_name = f"{template}/subject.txt"
    subject = one_line(_render(env, subject_name, context))
    if not subject:
        raise TemplateError(subject_name, "renders an empty subject")
    text = _newlines(_render(env, f"{template}/body.txt", context))
    html_name = f"{template}/body.html"
    html = _newlines(_inline_css(_render(env, html_name, context), html_name))
    return Rendered(subject=subject, text=text, html=html, ics=ics)


# --- Calendar file -------------------------------------------------------------------------


def _shorten(text: str, limit: int = SUMMARY_LIMIT) -> str:
    flat = one_line(text)
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:  # end on a whole word unless that loses half the text
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def _hex_id(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _event_uid(digest: Digest, item: Item, domain: str) -> str:
    # One identity per deadline in one person's calendar: recipient, action and kind. The
    # ledger key also holds the threshold and the due date, so a UID made from it would add a
    # second event at the 7-day reminder after the 14-day one, and leave the old date behind
    # when a target moves; with this one, re-imports update the same event.
    return f"{_hex_id(f'{digest.recipient.email}|{item.action_id}|{item.kind}')}@{domain}"


def _event_description(item: Item) -> str:
    assert item.due is not None  # only dated items become events
    hint = read_as(item)
    lines = [
        f"Action: {one_line(item.action_text)}",
        f"Target date as written: {one_line(item.target_text)}",
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
        summary=f"{item.ref} {what}: {_shorten(item.action_text)}",
        description=_event_description(item),
    )


def _check_domain(domain: str) -> str:
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"{domain!r} is not a domain name")
    return domain


def deadlines_ics(digest: Digest, *, prodid_domain: str) -> bytes | None:
    """An iCalendar file with one all-day event per deadline still ahead; None if none is."""
    domain = _check_domain(prodid_domain)
    events: dict[str, ics.AllDayEvent] = {}
    for item in digest.items:
        if item.section in CALENDAR_SECTIONS and item.due is not None and item.due >= digest.as_of:
            event = _event(digest, item, domain)
            events.setdefault(event.uid, event)  # one event per UID in one file
    if not events:
        return None
    prodid = f"-//{domain}//planworker action plan reminders//EN"
    return ics.calendar(prodid, list(events.values()))


# --- The message ---------------------------------------------------------------------------


def message_id_for(key: str, domain: str) -> str:
    """A Message-ID that is the same every time for the same key: `<hex@domain>`."""
    return f"<{_hex_id(key)}@{_check_domain(domain)}>"


def _check_headers(message_id: str, when_sent: datetime, headers: Mapping[str, str]) -> None:
    if not _MESSAGE_ID.fullmatch(message_id):
        raise ValueError(f"Message-ID must look like <id@domain>: {message_id!r}")
    if when_sent.utcoffset() is None:
        raise ValueError("the Date must be timezone-aware")
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name) or name.lower() in _RESERVED_HEADERS:
            raise ValueError(f"cannot set header {name!r} as an extra header")
        if not value.isprintable():  # a line break here would start a header of its own
            raise ValueError(f"header {name} must be one line of text: {value!r}")


def message_bytes(
    rendered: Rendered,
    *,
    sender: Address,
    to: Address,
    reply_to: Address | None,
    message_id: str,
    date: datetime,
    headers: Mapping[str, str] = _NO_HEADERS,
) -> bytes:
    """The message as it goes on the wire (CRLF line endings): text and HTML as
    alternatives, plus the calendar file when there is one.

    The headers are written by worker/mail/headers.py, which refuses (HeaderError, a
    ValueError) a block that would not read back as exactly these fields. The bodies are
    encoded here with binascii, in C, because the email package's own encoders are pure
    Python and were the largest single cost of a large run (docs/benchmarks.md).
    """
    _check_headers(message_id, date, headers)
    fields: list[tuple[str, str | Address]] = [
        ("Subject", rendered.subject),
        ("From", sender),
        ("To", to),
    ]
    if reply_to is not None:
        fields.append(("Reply-To", reply_to))
    fields += [
        ("Date", format_datetime(date)),
        ("Message-ID", message_id),
        ("Auto-Submitted", "auto-generated"),  # RFC 3834: no out-of-office replies to this
        *headers.items(),
        ("MIME-Version", "1.0"),
    ]
    seed = message_id.encode("ascii")
    alternative = _multipart(
        "alternative",
        "alt",
        seed,
        [_text_part("plain", rendered.text), _text_part("html", rendered.html)],
    )
    if rendered.ics is None:
        content_type, body = alternative
    else:
        content_type, body = _multipart(
            "mixed", "mix", seed, [_join(*alternative), _calendar_part(rendered.ics)]
        )
    return header_block(fields) + _join(content_type, body)


_CRLF = b"\r\n"


def _join(content_type: str, body: bytes) -> bytes:
    return f"Content-Type: {content_type}".encode("ascii") + _CRLF + _CRLF + body


# RFC 5322: at most 998 octets on a line, not counting the CRLF.
MAX_LINE = 998


def _has_c1_control(data: bytes) -> bool:
    """Whether UTF-8 `data` holds a C1 control (U+0080 to U+009F, b"\xc2\x80" to b"\xc2\x9f").
    HTML reads a reference to one as a Windows-1252 character ("&#128;" is "€"), so HTML
    holding one is sent as it is, encoded. (A scan for the lead byte: a regular expression
    over a 200 KB message took half a millisecond.)"""
    at = data.find(b"\xc2")
    while at != -1:
        if 0x80 <= data[at + 1] <= 0x9F:
            return True
        at = data.find(b"\xc2", at + 1)
    return False


def _text_part(subtype: str, text: str) -> bytes:
    # `text` ends with one "\n" (_newlines). Plain ASCII in short lines goes as it is
    # ("7bit": nothing to encode, and readable as sent). HTML is made ASCII first, each other
    # character written as a character reference ("&#8212;"), which HTML reads back as the
    # same character. Otherwise the encoding estimated shorter: quoted-printable stays
    # readable; HTML full of "=" and text with many non-ASCII letters are shorter in base64.
    data = text.encode("utf-8")
    if subtype == "html" and not data.isascii() and not _has_c1_control(data):
        text = text.encode("ascii", "xmlcharrefreplace").decode("ascii")
        data = text.encode("ascii")
    if data.isascii() and max(map(len, data.split(b"\n"))) <= MAX_LINE:
        cte, body = "7bit", data.replace(b"\n", _CRLF)
    elif _quoted_is_shorter(text, data):
        cte, body = "quoted-printable", binascii.b2a_qp(data, istext=True).replace(b"\n", _CRLF)
    else:
        cte, body = "base64", _base64_lines(data)
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n\r\n'
    ).encode("ascii") + body


def _quoted_is_shorter(text: str, data: bytes) -> bool:
    """Whether quoted-printable comes out shorter than base64 on the wire, estimated without
    encoding both: each byte it escapes (non-ASCII, "=") takes three, each line end two, a
    soft line break three about every 73 bytes; base64 is 4 per 3 bytes, CRLF every 76."""
    n = len(data)
    escaped = n - len(text.encode("ascii", "ignore")) + data.count(b"=")
    quoted = n + 2 * escaped + data.count(b"\n") + 3 * (n // 73)
    return quoted <= (n + 2) // 3 * 4 * 78 // 76


def _base64_lines(data: bytes) -> bytes:
    """base64 in lines of 76 characters, each ending CRLF (RFC 2045)."""
    encoded = binascii.b2a_base64(data, newline=False)
    lines = [encoded[i : i + 76] for i in range(0, len(encoded), 76)]
    return _CRLF.join(lines) + _CRLF if lines else b""


def _calendar_part(ics: bytes) -> bytes:
    # base64 keeps the file's own CRLF line endings, which iCalendar requires.
    return (
        'Content-Type: text/calendar; method="PUBLISH"; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        f'Content-Disposition: attachment; filename="{CALENDAR_FILE}"\r\n\r\n'
    ).encode("ascii") + _base64_lines(ics)


def _boundary(kind: str, seed: bytes, parts: Sequence[bytes]) -> str:
    """A boundary found in no part. Parts sent as 7bit hold their text as it is, so a note
    could hold a line made to match a boundary it can predict: this one is a hash of the
    parts themselves (no one can write text that contains its own hash), and checked
    against them anyway. Made from the content, the same message gives the same bytes."""
    digest = hashlib.sha256(seed)
    for part in parts:
        digest.update(part)
    tag = digest.hexdigest()[:32]
    while True:
        boundary = f"=_{kind}_{tag}"
        if not any(boundary.encode("ascii") in part for part in parts):
            return boundary
        tag = _hex_id(tag)  # next in a fixed sequence, so still the same bytes every time


def _multipart(subtype: str, kind: str, seed: bytes, parts: Sequence[bytes]) -> tuple[str, bytes]:
    """A multipart body (RFC 2046) and its Content-Type; each part ends with CRLF."""
    boundary = _boundary(kind, seed, parts)
    delimiter = b"--" + boundary.encode("ascii")
    body = b"".join(delimiter + _CRLF + part + _CRLF for part in parts) + delimiter + b"--\r\n"
    return f'multipart/{subtype}; boundary="{boundary}"', body


def build_message(
    rendered: Rendered,
    *,
    sender: Address,
    to: Address,
    reply_to: Address | None,
    message_id: str,
    date: datetime,
    headers: Mapping[str, str] = _NO_HEADERS,
) -> EmailMessage:
    """The message (message_bytes) parsed, for reading it back."""
    content = message_bytes(
        rendered,
        sender=sender,
        to=to,
        reply_to=reply_to,
        message_id=message_id,
        date=date,
        headers=headers,
    )
    parsed = BytesParser(policy=SMTP).parsebytes(content)
    assert isinstance(parsed, EmailMessage)
    return parsed
