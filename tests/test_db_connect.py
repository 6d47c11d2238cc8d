"""A PostgreSQL server that does not answer: commands fail with the database named, promptly.

The "server" here is a loopback socket that accepts connections and never says a word, as a
host behind a firewall that drops packets looks to a client.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CONTACTS, ROOT

# Slow (waits out connection timeouts): left out by pytest -m 'not slow'.
pytestmark = pytest.mark.slow

PASSWORD = "s3cret-pw"


@pytest.fixture
def silent_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def planworker(url: str, *args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PLANWORKER_DATABASE_URL": url,
        "PLANWORKER_CONTACTS_FILE": str(CONTACTS),
        "PLANWORKER_CONFIG": "",
        "PLANWORKER_MAIL__MAILDIR": str(tmp_path / "outbox"),
    }
    # The timeout only stops a hung test; the default connect timeout is 10 seconds.
    return subprocess.run(
        [sys.executable, "-m", "worker", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_health_gives_up_on_a_silent_database_naming_it_without_the_password(
    silent_port: int, tmp_path: Path
) -> None:
    url = f"postgresql://planworker:{PASSWORD}@127.0.0.1:{silent_port}/council"
    result = planworker(url, "health", "--json", tmp_path=tmp_path)
    assert result.returncode == 1
    [problem] = json.loads(result.stdout)["problems"]
    assert f"postgresql://planworker:***@127.0.0.1:{silent_port}/council" in problem
    assert "timeout" in problem
    assert PASSWORD not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_a_connect_timeout_in_the_url_is_used(silent_port: int, tmp_path: Path) -> None:
    url = f"postgresql://planworker:{PASSWORD}@127.0.0.1:{silent_port}/council?connect_timeout=1"
    result = planworker(url, "plan", "show", tmp_path=tmp_path)
    assert result.returncode != 0
    assert f"planworker:***@127.0.0.1:{silent_port}/council" in result.stderr
    assert "timeout expired" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("timeout", ["soon", "0", "-5"])
def test_a_connect_timeout_that_is_not_whole_seconds_is_refused(
    silent_port: int, tmp_path: Path, timeout: str
) -> None:
    url = f"postgresql://planworker:{PASSWORD}@127.0.0.1:{silent_port}/council?connect_timeout={timeout}"
    result = planworker(url, "plan", "show", tmp_path=tmp_path)
    assert result.returncode != 0
    assert f"connect_timeout {timeout!r} is not a whole number of seconds" in result.stderr
    assert PASSWORD not in result.stderr and "Traceback" not in result.stderr
