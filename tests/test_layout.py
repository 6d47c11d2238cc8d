"""The layout keeps its promises (docs/architecture.md): modules stay small, no module reaches
into another's private names, and the pure rules never touch the database."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "worker"
MOST_LINES = 500


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _private_uses(path: Path, own: str) -> list[str]:
    """Private names this module (named `own`) takes from other worker modules, as
    `module.name`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    imported: dict[str, str] = {}  # local name -> worker module
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("worker"):
            module = node.module or ""
            for alias in node.names:
                if _private(alias.name) and module != own:
                    found.append(f"{module}.{alias.name}")
                imported[alias.asname or alias.name] = f"{module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("worker"):
                    imported[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in imported
            and _private(node.attr)
        ):
            found.append(f"{imported[node.value.id]}.{node.attr}")
    return found


def test_the_layout_check_sees_a_private_import(tmp_path: Path) -> None:
    # The check below must be able to fail: a module written the forbidden ways is caught.
    sample = tmp_path / "probe.py"
    sample.write_text(
        "from worker.rules.reminders import _hidden\nimport worker.store.facts as f\nf._x\n",
        encoding="utf-8",
    )
    found = _private_uses(sample, "worker.jobs.probe")
    assert found == ["worker.rules.reminders._hidden", "worker.store.facts._x"]


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_uses_another_modules_private_names(path: Path) -> None:
    assert _private_uses(path, _name(path)) == []


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_module_is_short_enough_to_read_as_one_thing(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MOST_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines"


@pytest.mark.parametrize("path", sorted((PACKAGE / "rules").glob("*.py")), ids=lambda p: p.name)
def test_the_rules_never_see_the_database(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    forbidden = {
        m for m in modules if m.startswith(("sqlalchemy", "worker.store", "worker.models"))
    }
    assert forbidden == set()
