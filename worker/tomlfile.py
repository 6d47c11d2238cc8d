"""Reading an admin's TOML file with errors that name it."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from worker.errors import InputError, Problem


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The parsed file; InputError (file, line, reason) if it is missing or malformed."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise InputError(str(path), [Problem("", f"{what} not found")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(str(path), [Problem("", f"not valid TOML: {exc}")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), [Problem("", f"cannot read: {exc}")]) from None
    except RecursionError:  # tomllib nests one Python call per "[" or "{"
        raise InputError(
            str(path), [Problem("", "not valid TOML: arrays or tables are nested too deeply")]
        ) from None
