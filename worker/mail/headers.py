"""Header fields written by hand, so that data can never become a header of its own.

The email package decodes RFC 2047 encoded words in any value it is given ("=?utf-8?q?=0D=0A
Bcc:...?=" becomes a line break and a Bcc header) and, before Python 3.12.5, writes what it
decoded as it is. Here every value is first made one line of printable text; words that are not
plain ASCII, or that a reader could take for an encoded word, are written as encoded words of
our own; addresses go out in ASCII (an international domain as its A-label). The finished block
is then parsed back and must decode to exactly the fields intended, or nothing is sent.

Also the mailer's address rules (`mail_address`), which the contacts and settings use when they
are read, so that an address that passes `config check` is one every backend can send to.
"""

from __future__ import annotations

import binascii
import email.policy
import re
from collections.abc import Callable, Sequence
from email.errors import HeaderDefect
from email.headerregistry import Address
from email.parser import BytesHeaderParser
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from worker.errors import PlanworkerError

# A display name longer than this is shortened: a name is for people to read, and a long one
# made To: lines that servers refuse.
MAX_NAME = 200
MAX_LINE = 78  # RFC 5322's recommended line length; the hard limit is 998
_CRLF = b"\r\n"
# An encoded word holds at most 75 characters (RFC 2047): "=?utf-8?b?" and "?=" leave 63 for
# base64, which is 15 groups of 4, each 3 bytes of UTF-8.
_WORD_BYTES = 45
# Words that may stand unquoted in a display name (RFC 5322 atext without "=" and "?", which
# could start an encoded word).
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/^_`{|}~-]+")
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")


class HeaderError(PlanworkerError, ValueError):
    """A header field that cannot be written safely; says which field and why. (A
    PlanworkerError, so that wherever it is not caught for one recipient it reaches the user
    as a message, not a traceback.)"""


def one_line(value: object) -> str:
    """Any run of whitespace (line breaks included) as one space; control characters dropped."""
    joined = " ".join(str(value).split())
    if joined.isprintable():  # the usual case, checked in C rather than character by character
        return joined
    text = "".join(ch for ch in joined if ch.isprintable() or ch.isspace())
    return " ".join(text.split())


def display_name(name: str) -> str:
    """A name as it may appear in an address: one printable line of at most MAX_NAME."""
    text = one_line(name)
    if len(text) <= MAX_NAME:
        return text
    return text[: MAX_NAME - 1].rstrip() + "…"


# --- Addresses -----------------------------------------------------------------------------


def mail_address(value: str) -> str:
    """The address as headers and the envelope carry it: ASCII, an international domain as
    its A-label ("xn--..."). Raises ValueError saying why an address cannot be sent to."""
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"{value!r} is not a valid email address: {exc}") from None
    if checked.ascii_email is None:
        # Such an address needs SMTPUTF8 end to end; planworker writes ASCII headers only.
        raise ValueError(
            f"{value!r}: the part before the @ has non-ASCII characters, which only mail "
            "servers offering SMTPUTF8 accept; use an ASCII address (a domain with non-ASCII "
            "letters is fine)"
        )
    if "=?" in checked.local_part:
        raise ValueError(f"{value!r}: the part before the @ looks like an RFC 2047 encoded word")
    return checked.ascii_email


def make_address(name: str, email: str) -> Address:
    """An address to send to: `email` checked by `mail_address`, the name made a display name.
    Raises ValueError for an address that cannot be sent to."""
    local, _, domain = mail_address(email).rpartition("@")
    return Address(display_name=display_name(name), username=local, domain=domain)


def addr_spec(address: Address) -> str:
    """`address`'s local@domain, checked to be plain ASCII with nothing a reader would decode."""
    local, domain = address.username, address.domain
    if not _DOT_ATOM.fullmatch(local) or "=?" in local or not _DOMAIN.fullmatch(domain):
        raise HeaderError(f"{address.addr_spec!r} is not an address that can go in a header")
    return f"{local}@{domain}"


# --- Values ----------------------------------------------------------------------------------


def _encoded_words(text: str) -> list[str]:
    """`text` as base64 encoded words of UTF-8, each whole characters and at most 75 long."""
    words: list[str] = []
    chunk: list[str] = []
    size = 0
    for ch in text:
        width = len(ch.encode("utf-8"))
        if size + width > _WORD_BYTES:
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(ch)
        size += width
    if chunk:
        words.append("".join(chunk))
    return [
        "=?utf-8?b?" + binascii.b2a_base64(w.encode("utf-8"), newline=False).decode() + "?="
        for w in words
    ]


def _plain(word: str) -> bool:
    # A word a reader shows as it is: printable ASCII, short enough to fold around, and
    # nothing a decoder could take for the start of an encoded word.
    return word.isascii() and word.isprintable() and "=?" not in word and len(word) <= 75


def _mixed(text: str, plain: Callable[[str], bool]) -> list[str]:
    """Words that are `plain` as they are, each run of other words as encoded words (the
    spaces inside a run encoded with it: readers drop the space between two encoded words)."""
    tokens: list[str] = []
    run: list[str] = []
    for word in text.split(" "):
        if plain(word):
            if run:
                tokens += _encoded_words(" ".join(run))
                run = []
            tokens.append(word)
        elif word:
            run.append(word)
    if run:
        tokens += _encoded_words(" ".join(run))
    return tokens


def unstructured(value: str) -> list[str]:
    """Tokens of an unstructured value (Subject), made one line first."""
    return _mixed(one_line(value), _plain)


def _phrase(name: str) -> list[str]:
    """A display name's tokens: one quoted string when that is plain ASCII, else
    words that need no quoting as they are and the others as encoded words."""
    # A quoted name cannot be folded, but at MAX_NAME its line stays far below 998 characters,
    # and it reads back exactly (Python's reader puts spaces between encoded words of a name).
    if name.isascii() and name.isprintable() and "=?" not in name:
        if all(_ATOM.fullmatch(w) for w in name.split(" ")):
            return name.split(" ")
        return ['"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"']
    return _mixed(name, lambda word: _ATOM.fullmatch(word) is not None and len(word) <= 75)


def mailbox(address: Address) -> list[str]:
    """Tokens of one address: display name (if any) and <local@domain>."""
    spec = addr_spec(address)
    name = display_name(address.display_name)
    return [*_phrase(name), f"<{spec}>"] if name else [spec]


def fold(name: str, tokens: Sequence[str]) -> bytes:
    """One header field, folded between tokens to keep lines near MAX_LINE, ending CRLF."""
    lines, line = [], f"{name}:"
    for token in tokens:
        if len(line) + 1 + len(token) > MAX_LINE and line != f"{name}:":
            lines.append(line)
            line = ""
        line += " " + token
    lines.append(line)
    return "\r\n".join(lines).encode("ascii") + _CRLF


# --- The block -------------------------------------------------------------------------------

Field = tuple[str, "str | Address"]


def _tokens(value: str | Address) -> list[str]:
    return mailbox(value) if isinstance(value, Address) else unstructured(value)


def header_block(fields: Sequence[Field]) -> bytes:
    """The header fields, in order, as bytes (without the blank line after them).

    A value is text (written as unstructured) or an Address. Raises HeaderError when the
    written block does not read back as exactly these fields.

    Each field is written and checked on its own: a field reads back alone as exactly its
    name and value, and ends with a line break, so the block of them reads back field by
    field the same. The fields that are the same on every message of a run (From, Reply-To,
    Date, the job's own) are then checked once, not on each message."""
    return b"".join(_field(name, _key(value)) for name, value in fields)


# ("text", value, "", "") or ("address", display name, username, domain): an Address is not
# hashable.
_FieldKey = tuple[str, str, str, str]


def _key(value: str | Address) -> _FieldKey:
    if isinstance(value, Address):
        return ("address", value.display_name, value.username, value.domain)
    return ("text", value, "", "")


@lru_cache(maxsize=1024)
def _field(name: str, key: _FieldKey) -> bytes:
    kind, text, username, domain = key
    value: str | Address = Address(text, username, domain) if kind == "address" else text
    folded = fold(name, _tokens(value))
    _check(folded, [(name, value)])
    return folded


def _expected(value: str | Address) -> str | tuple[str, str]:
    if isinstance(value, Address):
        return (display_name(value.display_name), addr_spec(value))
    return one_line(value)


def _check(block: bytes, fields: Sequence[Field]) -> None:
    """Parse the block as a mail reader would (encoded words decoded) and compare."""
    parsed = BytesHeaderParser(policy=email.policy.default).parsebytes(block + _CRLF)
    got_names = [name.lower() for name in parsed]
    want_names = [name.lower() for name, _ in fields]
    if got_names != want_names:
        raise HeaderError(f"the header fields read back as {got_names}, not {want_names}")
    for (name, value), raw in zip(fields, parsed.values(), strict=True):
        want = _expected(value)
        got: str | tuple[str, str]
        if isinstance(want, tuple):
            addresses: tuple[Address, ...] = getattr(raw, "addresses", ())
            if len(addresses) != 1:
                raise HeaderError(f"{name} reads back as {len(addresses)} addresses: {raw!r}")
            got = (addresses[0].display_name, addresses[0].addr_spec)
        else:
            got = str(raw)
        text = " ".join(got) if isinstance(got, tuple) else got
        defects = [d for d in getattr(raw, "defects", ()) if isinstance(d, HeaderDefect)]
        if _seen(got) != _seen(want) or not text.isprintable() or defects:
            raise HeaderError(f"{name} would read as {got!r}, not {want!r}")


def _seen(value: str | tuple[str, str]) -> str | tuple[str, str]:
    # Python's reader puts a space between two encoded words of a display name, where RFC 2047
    # (and mail clients) join them: names are compared without their spaces.
    if isinstance(value, tuple):
        return ("".join(value[0].split()), value[1])
    return value
