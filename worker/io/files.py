"""Writing an output file (`-o FILE`) whole or not at all, never through a planted link.

The text goes to a new, randomly named file beside the target, created exclusively and not
through a symbolic link (O_EXCL | O_NOFOLLOW), which then replaces the target in one
rename. A reader sees the old file or the new one, never half of one; a link planted at
the temporary name cannot exist (the name is new), and one planted at the target is
refused rather than followed.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from worker.errors import PlanworkerError

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def write_file(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Have `write` fill a new file that then becomes `path`; a clear error if it cannot."""
    folder = path.parent
    if not folder.is_dir():
        raise PlanworkerError(f"cannot write {path}: the folder {folder} does not exist")
    if path.is_symlink():
        raise PlanworkerError(
            f"cannot write {path}: it is a symbolic link; remove it or choose another name"
        )
    partial = folder / f".{path.name}.{secrets.token_hex(8)}.partial"
    try:
        with os.fdopen(os.open(partial, _FLAGS, 0o666), "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise PlanworkerError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str, *, newline: str | None = None) -> None:
    """`text` as UTF-8; `newline` as `open` takes it ("" keeps the text's own line ends)."""
    if newline is None:
        text = text.replace("\n", os.linesep)
    elif newline:
        text = text.replace("\n", newline)
    data = text.encode("utf-8")

    def write(handle: BinaryIO) -> None:
        handle.write(data)

    write_file(path, write)
