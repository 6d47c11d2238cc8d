"""The reminder and digest emails on the wire: headers, the text and HTML alternatives and
the calendar file, encoded as RFC 5322 bytes with CRLF line ends, and the same every time for
the same content (Message-IDs and MIME boundaries are made from it, not from chance).
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from types import MappingProxyType
from typing import NotRequired, TypedDict, Unpack

from worker.mail.envelope import parse_message
from worker.mail.headers import header_block
from worker.mail.templating import Rendered

# The calendar file's name, as attached and as the templates mention it.
CALENDAR_FILE = "deadlines.ics"
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


def hex_id(text: str) -> str:
    """A short hash of `text`: the same text always gives the same id."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def check_domain(domain: str) -> str:
    """`domain`, or ValueError when it is not a domain name."""
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"{domain!r} is not a domain name")
    return domain


def message_id_for(key: str, domain: str) -> str:
    """A Message-ID that is the same every time for the same key: `<hex@domain>`."""
    return f"<{hex_id(key)}@{check_domain(domain)}>"


def message_id_of(keys: Iterable[str], domain: str, chunk: int = 1000) -> str:
    """`message_id_for` the keys in sorted order, one per line: hashed `chunk` keys at a
    time, so a message about hundreds of thousands of items never holds their joined text
    (once as str and again as bytes: 40 MB for an escalation of a 1M-action plan)."""
    ordered = sorted(keys)
    digest = hashlib.sha256()
    for start in range(0, len(ordered), chunk):
        if start:
            digest.update(b"\n")
        digest.update("\n".join(ordered[start : start + chunk]).encode("utf-8"))
    return f"<{digest.hexdigest()[:32]}@{check_domain(domain)}>"


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
    attachments: Sequence[Attachment] = (),
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
    # Each part is a list of byte strings, joined once at the end: the bodies (megabytes in
    # a large run) are copied into the message once, not again at each level of nesting.
    seed = message_id.encode("ascii")
    alternative = _multipart(
        "alternative",
        "alt",
        seed,
        [_text_part("plain", rendered.text), _text_part("html", rendered.html)],
    )
    extra = [_calendar_part(rendered.ics)] if rendered.ics is not None else []
    extra += [_attachment_part(a) for a in attachments]
    if extra:
        # The outer boundary is made from the inner one (itself a hash of the text and HTML)
        # and the files: hashing the text and HTML a second time adds nothing.
        alternative = _multipart("mixed", "mix", seed + alternative.tag, [alternative.part, *extra])
    return b"".join([header_block(fields), *alternative.part])


def with_subject(content: bytes, old: str, new: str) -> bytes:
    """A message from message_bytes with subject `old`, given subject `new` instead: the
    same bytes as message_bytes would give with `new` (the Subject is the first field, and
    each field is written on its own), without encoding the bodies again."""
    before = header_block([("Subject", old)])
    if not content.startswith(before):
        raise ValueError("not a message whose subject is the one given")
    return header_block([("Subject", new)]) + memoryview(content)[len(before) :]


_CRLF = b"\r\n"
Chunks = list[bytes]  # a MIME part as byte strings to be joined; each ends CRLF (see _boundary)


# RFC 5322: at most 998 octets on a line, not counting the CRLF.
MAX_LINE = 998


def has_c1_control(data: bytes) -> bool:
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


# In UTF-8 every noncharacter starts with one of these lead bytes: EF for U+FDD0 to U+FDEF,
# U+FFFE and U+FFFF; F0 to F4 for the last two code points of planes 1 to 16.
_NONCHARACTER_LEADS = (b"\xef", b"\xf0", b"\xf1", b"\xf2", b"\xf3", b"\xf4")
_LAST_TWO = (b"\xbf\xbe", b"\xbf\xbf")  # how U+FFFE and U+FFFF (and U+nFFFE, U+nFFFF) end


def has_noncharacter(data: bytes) -> bool:
    """Whether UTF-8 `data` holds a noncharacter (U+FDD0 to U+FDEF, or the last two code
    points of any plane, such as U+FFFE). Readers of HTML differ on a reference to one
    (browsers keep the character, Python's html module drops it), so HTML holding one is
    sent as it is, encoded. (A scan for the lead bytes, which most text lacks, as
    has_c1_control does.)"""
    for lead in _NONCHARACTER_LEADS:
        at = data.find(lead)
        while at != -1:
            if _noncharacter_at(data, at):
                return True
            at = data.find(lead, at + 1)
    return False


def _noncharacter_at(data: bytes, at: int) -> bool:
    if data[at] == 0xEF:  # EF B7 90..AF: U+FDD0..U+FDEF; EF BF BE, EF BF BF: U+FFFE, U+FFFF
        two = data[at + 1 : at + 3]
        return two in _LAST_TWO or (len(two) == 2 and two[0] == 0xB7 and 0x90 <= two[1] <= 0xAF)
    # U+nFFFE, U+nFFFF: the second byte 8F, 9F, AF or BF (the plane's last 64 Ki code
    # points), then BF BE or BF BF.
    three = data[at + 1 : at + 4]
    return len(three) == 3 and three[0] in (0x8F, 0x9F, 0xAF, 0xBF) and three[1:] in _LAST_TWO


def _text_part(subtype: str, text: str) -> Chunks:
    # `text` ends with one "\n" (_newlines). Plain ASCII in short lines goes as it is
    # ("7bit": nothing to encode, and readable as sent). HTML is made ASCII first, each other
    # character written as a character reference ("&#8212;"), which HTML reads back as the
    # same character. Otherwise the encoding estimated shorter: quoted-printable stays
    # readable; HTML full of "=" and text with many non-ASCII letters are shorter in base64.
    data = text.encode("utf-8")
    if (
        subtype == "html"
        and not data.isascii()
        and not has_c1_control(data)
        and not has_noncharacter(data)
    ):
        data = text.encode("ascii", "xmlcharrefreplace")
    if data.isascii() and _short_lines(data):
        cte, body = "7bit", data.replace(b"\n", _CRLF)
    elif _quoted_is_shorter(data):
        cte, body = "quoted-printable", binascii.b2a_qp(data, istext=True).replace(b"\n", _CRLF)
    else:
        cte, body = "base64", _base64_lines(data)
    header = (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n\r\n'
    )
    return [header.encode("ascii"), body]


def _short_lines(data: bytes) -> bool:
    """Whether no line of `data` is longer than MAX_LINE. (A search from each line break:
    twice as fast as splitting a large message into its lines.)"""
    first = data.find(b"\n")
    if (first if first != -1 else len(data)) > MAX_LINE:
        return False
    return _LONG_LINE.search(data) is None


_LONG_LINE = re.compile(rb"\n[^\n]{%d}" % (MAX_LINE + 1))


_HIGH_BYTES = bytes(range(0x80, 0x100))


def _quoted_is_shorter(data: bytes) -> bool:
    """Whether quoted-printable comes out shorter than base64 on the wire, estimated without
    encoding both: each byte it escapes (non-ASCII, "=") takes three, each line end two, a
    soft line break three about every 73 bytes; base64 is 4 per 3 bytes, CRLF every 76."""
    n = len(data)
    escaped = n - len(data.translate(None, _HIGH_BYTES)) + data.count(b"=")
    quoted = n + 2 * escaped + data.count(b"\n") + 3 * (n // 73)
    return quoted <= (n + 2) // 3 * 4 * 78 // 76


def _base64_lines(data: bytes) -> bytes:
    """base64 in lines of 76 characters, each ending CRLF (RFC 2045)."""
    encoded = binascii.b2a_base64(data, newline=False)
    lines = [encoded[i : i + 76] for i in range(0, len(encoded), 76)]
    return _CRLF.join(lines) + _CRLF if lines else b""


def _calendar_part(ics: bytes) -> Chunks:
    # base64 keeps the file's own CRLF line endings, which iCalendar requires.
    header = (
        'Content-Type: text/calendar; method="PUBLISH"; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        f'Content-Disposition: attachment; filename="{CALENDAR_FILE}"\r\n\r\n'
    )
    return [header.encode("ascii"), _base64_lines(ics)]


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file attached to a message (a status-return spreadsheet)."""

    filename: str  # ASCII letters, digits, "-", "_" and "." only: no header encoding needed
    content_type: str
    data: bytes

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", self.filename):
            raise ValueError(f"attachment name must be plain ASCII: {self.filename!r}")


def _attachment_part(attachment: Attachment) -> Chunks:
    header = (
        f"Content-Type: {attachment.content_type}\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        f'Content-Disposition: attachment; filename="{attachment.filename}"\r\n\r\n'
    )
    return [header.encode("ascii"), _base64_lines(attachment.data)]


def _boundary(kind: str, seed: bytes, parts: Sequence[Chunks]) -> tuple[str, bytes]:
    """A boundary found in no part, and the hash it was made from. Parts sent as 7bit hold
    their text as it is, so a note could hold a line made to match a boundary it can
    predict: this one is a hash of the parts themselves (no one can write text that contains
    its own hash), and checked against them anyway. Made from the content, the same message
    gives the same bytes.

    Each piece of a part is searched on its own: a boundary holds no line break, and every
    piece ends with one or is followed by one, so no boundary can straddle two pieces."""
    digest = hashlib.sha256(seed)
    for part in parts:
        for piece in part:
            digest.update(piece)
    tag = digest.hexdigest()[:32]
    while True:
        boundary = f"=_{kind}_{tag}"
        found = boundary.encode("ascii")
        if not any(found in piece for part in parts for piece in part):
            return boundary, tag.encode("ascii")
        tag = hex_id(tag)  # next in a fixed sequence, so still the same bytes every time


@dataclass(frozen=True, slots=True)
class _Multipart:
    part: Chunks  # its Content-Type field, a blank line and the body
    tag: bytes  # what its boundary was made from


def _multipart(subtype: str, kind: str, seed: bytes, parts: Sequence[Chunks]) -> _Multipart:
    """A multipart entity (RFC 2046) with its Content-Type; each part ends with CRLF."""
    boundary, tag = _boundary(kind, seed, parts)
    delimiter = b"--" + boundary.encode("ascii")
    chunks = [f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode("ascii")]
    for part in parts:
        chunks += [delimiter, _CRLF, *part, _CRLF]
    chunks += [delimiter, b"--\r\n"]
    return _Multipart(chunks, tag)


class MessageFields(TypedDict):
    """The header fields message_bytes takes besides the rendered content."""

    sender: Address
    to: Address
    reply_to: Address | None
    message_id: str
    date: datetime
    headers: NotRequired[Mapping[str, str]]


def build_message(rendered: Rendered, **fields: Unpack[MessageFields]) -> EmailMessage:
    """The message (message_bytes) parsed, for reading it back."""
    return parse_message(message_bytes(rendered, **fields))
