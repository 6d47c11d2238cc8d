"""`planworker init DIR`: a starting folder for a new council (config, contacts, a plan).

The config written is the shipped, commented one, with its paths pointing into DIR itself:
the database and outbox in DIR/var, the contacts beside the config. Nothing is overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from worker.errors import PlanworkerError
from worker.shipped import SEED_FILE, shipped

CONFIG_NAME = "planworker.toml"
CONTACTS_NAME = "contacts.toml"

# The shipped config is the checkout's config/planworker.toml, whose database and outbox sit
# one folder up (in the checkout's var/); a site keeps them in its own var/.
_SITE_PATHS = {
    '"sqlite:///../var/planworker.db"': '"sqlite:///var/planworker.db"',
    '"../var/outbox"': '"var/outbox"',
    (
        "(here: the checkout's config/ folder, so\n"
        "# the database and outbox are in the checkout's var/)"
    ): "(here: the database and\n# outbox are in var/ beside this file)",
}


@dataclass(frozen=True)
class SiteFiles:
    config: Path
    contacts: Path
    plan: Path


def site_config(shipped_text: str) -> str:
    """The shipped config's text with every path made relative to the site's own folder."""
    text = shipped_text
    for old, new in _SITE_PATHS.items():
        if old not in text:
            # The shipped file changed: fail loudly rather than write a config that points
            # into a folder the site does not have.
            raise PlanworkerError(f"the shipped config no longer contains {old!r}")
        text = text.replace(old, new)
    return text


def init_site(folder: Path) -> SiteFiles:
    """Write the starting files into `folder` (created if needed); refuse to overwrite."""
    files = SiteFiles(folder / CONFIG_NAME, folder / CONTACTS_NAME, folder / SEED_FILE)
    existing = [str(path) for path in (files.config, files.contacts, files.plan) if path.exists()]
    if existing:
        raise PlanworkerError(f"not overwriting {', '.join(existing)}: choose an empty folder")
    config_text = site_config((shipped("config") / CONFIG_NAME).read_text(encoding="utf-8"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        files.config.write_text(config_text, encoding="utf-8")
        files.contacts.write_bytes((shipped("config") / CONTACTS_NAME).read_bytes())
        files.plan.write_bytes((shipped("seed") / SEED_FILE).read_bytes())
    except OSError as exc:
        raise PlanworkerError(f"cannot write {exc.filename or folder}: {exc.strerror}") from None
    return files
