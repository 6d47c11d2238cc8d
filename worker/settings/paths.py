"""File names in a config file are relative to that file's folder: make them absolute."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

# Settings that name files: written in a config file, they are relative to that file's folder,
# so a site's folder works wherever planworker is started from; given in the environment,
# they are relative to the current folder, as anything typed in a shell is.
_PATH_KEYS: tuple[tuple[str, ...], ...] = (
    ("contacts_file",),
    ("templates_dir",),
    ("mail", "maildir"),
    ("smtp", "ca_file"),
    ("smtp", "password_file"),
    ("web", "secret_key_file"),
)
_DEFAULT_PATHS: dict[tuple[str, ...], str] = {
    ("database_url",): "sqlite:///var/planworker.db",
    ("contacts_file",): "contacts.toml",  # beside the config file
    ("mail", "maildir"): "var/outbox",
}


def _sqlite_url_in(folder: Path, url: str) -> str:
    """A SQLite URL whose relative file name is taken as relative to `folder`."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # a bad URL is reported by the validator, as the admin wrote it
        return url
    database = parsed.database
    if (
        parsed.get_backend_name() != "sqlite"
        or not database
        or database == ":memory:"
        or database.startswith("file:")
        or Path(database).is_absolute()
    ):
        return url
    return parsed.set(database=os.path.normpath(folder / database)).render_as_string(
        hide_password=False
    )


def _parent(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any] | None:
    """The table holding keys[-1], created when absent; None if a non-table is in the way."""
    table = data
    for key in keys[:-1]:
        inner = table.setdefault(key, {})
        if not isinstance(inner, dict):
            return None  # the validator names the key
        table = inner
    return table


def resolve_paths(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The file's data with its relative paths (and the defaults') made absolute in `folder`."""
    resolved = copy.deepcopy(data)
    for keys, default in _DEFAULT_PATHS.items():
        table = _parent(resolved, keys)
        if table is not None:
            table.setdefault(keys[-1], default)
    if isinstance(resolved["database_url"], str):
        resolved["database_url"] = _sqlite_url_in(folder, resolved["database_url"])
    for keys in _PATH_KEYS:
        table = _parent(resolved, keys)
        value = table.get(keys[-1]) if table is not None else None
        if table is not None and isinstance(value, str) and value and not Path(value).is_absolute():
            # Normalised, so messages say /site/var/outbox, not /site/config/../var/outbox.
            table[keys[-1]] = os.path.normpath(folder / value)
    return resolved
