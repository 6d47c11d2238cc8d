"""The Maildir mailer: each message a file in a folder, for a mail client to read."""

from __future__ import annotations

import email.policy
import errno
import mailbox
import tempfile
from pathlib import Path

from worker.mail.envelope import ENVELOPE_HEADER
from worker.mail.errors import PermanentError, TransientError
from worker.mail.mailer import Mailer

# Local files use the platform's line ending (what mail clients reading a Maildir expect);
# otherwise the same serialisation as on the wire.
_FILE_POLICY = email.policy.SMTP.clone(linesep="\n")


class MaildirMailer(Mailer):
    """Files each message into a Maildir folder, readable with `mutt -f <folder>`."""

    name = "maildir"

    def __init__(self, path: Path) -> None:
        self._path = Path(path)

    def deliver(self, data: bytes, sender: str, recipients: tuple[str, ...]) -> str:
        # A file has no envelope, so a trace header on top records who the message was for
        # (as delivery agents do); the message's own headers and body stay byte for byte,
        # only with the local line ending.
        if not all(addr.isascii() for addr in recipients):
            # Only SMTPUTF8 mail may carry such an address; the trace header is ASCII.
            wide = ", ".join(addr for addr in recipients if not addr.isascii())
            raise PermanentError(f"recipient {wide}: the part before the @ is not ASCII")
        trace = _FILE_POLICY.fold_binary(ENVELOPE_HEADER, ", ".join(recipients))
        content = trace + data.replace(b"\r\n", b"\n")
        try:
            # mailbox writes into tmp/ and then links into new/, so readers never see a
            # half-written message, and it removes the tmp file when writing fails.
            key = self._open().add(content)
        except (OSError, mailbox.Error) as exc:
            error = self._error(exc)
            error.backend = True
            raise error from exc
        return key

    def check(self) -> None:
        try:
            self._open()
            # Permission bits alone do not tell (root, read-only mounts): really write.
            with tempfile.NamedTemporaryFile(dir=self._path / "tmp", prefix=".check-"):
                pass
        except OSError as exc:
            raise self._error(exc) from exc

    def _open(self) -> mailbox.Maildir:
        # Create whatever part of the layout is missing, even inside an existing empty folder.
        for sub in ("tmp", "new", "cur"):
            path = self._path / sub
            try:
                path.mkdir(mode=0o700, parents=True, exist_ok=True)
            except FileExistsError:
                # exist_ok does not cover a file (or a broken link) where the folder should be.
                raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(path)) from None
        return mailbox.Maildir(self._path, factory=None, create=False)

    def _error(self, exc: BaseException) -> TransientError:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if isinstance(exc, OSError) and exc.filename and Path(exc.filename) != self._path:
            detail = f"{exc.filename}: {detail}"  # which part of the folder
        return TransientError(f"cannot write to Maildir {self._path}: {detail}")
