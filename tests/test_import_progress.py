"""A long `plan import` shows progress to a person at a terminal, and only to them."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.conftest import CONTACTS, SEED, Cli

SEED_ACTIONS = 110


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANWORKER_")}
    return env | {
        "PLANWORKER_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
        "PLANWORKER_CONTACTS_FILE": str(CONTACTS),
    }


def _planworker(tmp_path: Path, *args: str, stderr: int) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "worker", *args],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=stderr,
        timeout=120,
        check=True,
    )


def test_an_import_at_a_terminal_shows_its_progress_on_stderr(tmp_path: Path) -> None:
    _planworker(tmp_path, "db", "upgrade", stderr=subprocess.PIPE)
    leader, follower = pty.openpty()
    try:
        done = _planworker(tmp_path, "plan", "import", str(SEED), stderr=follower)
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed: everything has been read
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
    shown = seen.decode()
    assert f"reading {SEED}" in shown
    assert f"writing actions: {SEED_ACTIONS} of {SEED_ACTIONS}" in shown
    # The summary stays on standard output, for scripts.
    assert b"110 added" in done.stdout and b"writing actions" not in done.stdout


def test_an_import_into_a_pipe_or_log_shows_no_progress(cli: Cli) -> None:
    result = cli("plan", "import", str(SEED))
    assert "writing actions" not in result.output
    assert "110 added" in result.output
