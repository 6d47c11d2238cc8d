"""The message as every mailer takes it (RFC 5322 bytes, CRLF line ends) and its envelope:
the sender for MAIL FROM and the recipients' addresses as servers read them."""

from __future__ import annotations

import email.policy
import re
from collections.abc import Sequence
from email.errors import MessageError
from email.message import EmailMessage, Message
from email.utils import getaddresses

from email_validator import EmailNotValidError, validate_email

from worker.mail.errors import PermanentError

# Names the envelope recipients in a Maildir file and in console output.
ENVELOPE_HEADER = "X-Envelope-To"

_ANY_EOL = re.compile(rb"\r\n|\r|\n")


def message_bytes(message: EmailMessage) -> bytes:
    """`message` as every backend takes it: RFC 5322 bytes with CRLF line ends.

    Raises PermanentError when the message cannot be encoded (nothing would ever send it).
    """
    try:
        return message.as_bytes(policy=email.policy.SMTP)
    except (UnicodeError, ValueError, TypeError, LookupError) as exc:
        raise PermanentError(f"cannot encode the message: {exc}") from exc


def envelope_sender(message: Message) -> str:
    """The first From address of `message` (or of just its headers), for MAIL FROM.

    Raises PermanentError when there is no usable one.
    """
    try:
        header = message.get("From")
        # Header objects of the modern policies carry the parsed addresses; compat32 has text.
        addresses = getattr(header, "addresses", None)
        if addresses is not None:
            found = addresses[0].addr_spec if addresses else ""
        else:
            found = getaddresses([str(header)])[0][1] if header else ""
    except (MessageError, ValueError, TypeError, LookupError, AttributeError) as exc:
        raise PermanentError(f"the message has an unreadable From header: {exc}") from exc
    if not found or found == "<>":
        raise PermanentError("the message has no usable From address")
    return found


def require_envelope(data: bytes, sender: str, recipients: Sequence[str]) -> tuple[str, ...]:
    if not isinstance(data, bytes):
        raise TypeError(f"data must be the message as bytes, not {type(data).__name__}")
    if not isinstance(sender, str):
        raise TypeError(f"sender must be an address string, not {type(sender).__name__}")
    # A bare string is a Sequence[str] too; sending to its letters would be a silly bug.
    if isinstance(recipients, str):
        raise TypeError("recipients must be a sequence of addresses, not a string")
    if not data:
        raise PermanentError("the message is empty")
    if not sender.strip() or "\r" in sender or "\n" in sender:
        raise PermanentError(f"the message has no usable From address: {sender!r}")
    if not recipients:
        raise PermanentError("the message has no envelope recipients")
    return tuple(envelope_address(addr) for addr in recipients)


def envelope_address(address: str) -> str:
    """`address` as the envelope carries it, an international domain as its A-label
    ("xn--..."), which every server reads. A non-ASCII part before the @ is left as it is (only
    a server offering SMTPUTF8 takes it). Raises PermanentError naming an address that no
    server could take, so that it fails alone and the run goes on."""
    if not isinstance(address, str):
        raise TypeError(f"a recipient must be an address string, not {type(address).__name__}")
    if not address or not address.isprintable() or " " in address:
        # A line break here would end the RCPT command and start one of the data's choosing.
        raise PermanentError(f"recipient {address!r} is not an address: blank or not one line")
    if address.isascii():
        return address
    try:
        checked = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise PermanentError(f"recipient {address!r} is not a valid address: {exc}") from None
    return checked.ascii_email or f"{checked.local_part}@{checked.ascii_domain}"


def with_crlf(data: bytes) -> bytes:
    # smtplib sends bytes as they are (it only dot-stuffs them), and servers disagree about a
    # bare CR or LF, so make sure every line ends in CRLF. Counting is cheap; copying is
    # needed only for bytes that did not come from message_bytes.
    crlf = data.count(b"\r\n")
    if data.count(b"\n") == crlf and data.count(b"\r") == crlf:
        return data
    return _ANY_EOL.sub(b"\r\n", data)


def parse_message(
    data: bytes, policy: email.policy.EmailPolicy[EmailMessage] = email.policy.SMTP
) -> EmailMessage:
    """`data` read back as a message, for showing or checking it (sending never parses)."""
    parsed = email.message_from_bytes(data, policy=policy)
    assert isinstance(parsed, EmailMessage)  # what the modern policies' factory makes
    return parsed
