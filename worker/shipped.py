"""The files planworker ships: templates, the example config and contacts, the seed plan.

In an installed package they live inside it (the build maps the top-level `templates/`,
`config/` and `seed/` folders to `worker/templates` etc., see pyproject.toml); in a checkout
they are the top-level folders themselves. Either way the caller gets a real folder, which is
what Jinja2's loader and `planworker init` need.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

Shipped = Literal["templates", "config", "seed"]

SEED_FILE = "cbc-action-plan-2012-13.yaml"


def shipped(name: Shipped) -> Path:
    """The folder of shipped files called `name`."""
    inside = resources.files("worker") / name
    if inside.is_dir():
        # pip always unpacks a wheel, so this is a plain folder, not a zip member.
        return Path(str(inside))
    return Path(__file__).resolve().parents[1] / name
