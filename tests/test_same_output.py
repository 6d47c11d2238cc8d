"""bench/same_output.py, the check that a faster version of a run sends and records the
same thing: it must say "the same" for two identical runs and tell when one differs."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import ROOT, SEED, Cli


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("same_output", ROOT / "bench" / "same_output.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(folder: Path) -> Cli:
    folder.mkdir()
    cli = Cli(f"sqlite:///{folder / 'planworker.db'}", folder)
    cli("db", "upgrade")
    cli("plan", "import", str(SEED))
    cli("remind", "--as-of", "2012-09-24")
    return cli


def test_two_identical_runs_are_the_same_and_one_more_message_is_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tool = _tool()
    a, b = _run(tmp_path / "a"), _run(tmp_path / "b")
    args = [a.db_url, str(a.maildir), b.db_url, str(b.maildir)]

    sent = len(list((a.maildir / "new").iterdir()))
    assert sent > 0
    assert tool.main(args) == 0
    assert f"messages: {sent} and {sent}, the same" in capsys.readouterr().out

    b("remind", "--as-of", "2012-10-01")  # the second run sends a week more
    assert tool.main(args) == 1
    out = capsys.readouterr().out
    assert "DIFFERENT" in out and "only in the second" in out
