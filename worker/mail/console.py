"""The console mailer: prints what would be sent, for trying a configuration out."""

from __future__ import annotations

import email.policy
from collections.abc import Sequence
from email.errors import MessageError
from email.message import EmailMessage, MIMEPart
from typing import TextIO

from worker.mail.envelope import ENVELOPE_HEADER, parse_message
from worker.mail.errors import PermanentError, TransientError, as_text
from worker.mail.mailer import Mailer


class ConsoleMailer(Mailer):
    """Prints what would be sent: headers and the plain-text part, attachments by name."""

    name = "console"

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def deliver(self, data: bytes, sender: str, recipients: tuple[str, ...]) -> str:
        try:
            # Parsed for display only; printing is not the fast path.
            text = _render(parse_message(data, email.policy.default), recipients)
        except (MessageError, ValueError, TypeError, LookupError, IndexError) as exc:
            raise PermanentError(f"cannot show the message: {exc}") from exc
        try:
            self._stream.write(text)
            self._stream.flush()
        except OSError as exc:
            raise TransientError(f"cannot write to the console: {exc}") from exc
        return "printed"


def _render(message: EmailMessage, recipients: Sequence[str]) -> str:
    lines = ["=" * 72, f"{ENVELOPE_HEADER}: {', '.join(recipients)}"]
    lines += [f"{name}: {value}" for name, value in message.items()]
    lines.append("")
    body = message.get_body(preferencelist=("plain",))
    lines.append(_part_text(body).rstrip("\n") if body is not None else "[no text/plain part]")
    for part in message.walk():
        if part is not body and (part.is_attachment() or part.get_filename()):
            name = part.get_filename() or "unnamed"
            lines.append(f"[attachment: {name}, {part.get_content_type()}]")
    return "\n".join(lines) + "\n"


def _part_text(part: MIMEPart) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, KeyError):
        # An unknown charset should not hide the text entirely.
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else as_text(bytes(content))
