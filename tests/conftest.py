"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, and the CLI.

PostgreSQL tests use the server on this machine (PLANWORKER_TEST_POSTGRES_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/test), each test in a schema of its own.

What a developer's machine may lack — the PostgreSQL server, Debian's Chromium, the council's
source document (beside the repository in ../shared/ only in this project's own workspace) —
makes the tests that need it skip with the reason, listed in the summary. With
PLANWORKER_TEST_REQUIRE_ALL=1 (set by .ci/run) every skip is a failure instead, so CI proves
everything on both databases.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from worker.cli import main
from worker.db import make_engine
from worker.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seed" / "cbc-action-plan-2012-13.yaml"
CONTACTS = ROOT / "config" / "contacts.toml"
# The council's document: the repository is checked out beside the shared/ folder.
SOURCE = ROOT.parent / "shared" / "source-documents" / "cbc-action-plan-2012-13.txt"
POSTGRES_URL = os.environ.get(
    "PLANWORKER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


REQUIRE_ALL = os.environ.get("PLANWORKER_TEST_REQUIRE_ALL", "") not in ("", "0")
# `-n auto` (pyproject.toml): a test process per core this process may run on, at most this
# many. Beyond it the longest test file sets the suite's time anyway, while the timing tests
# (deadlines, the service's clock) and the one PostgreSQL server would be crowded.
MOST_TEST_PROCESSES = 4


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    cores = len(usable) if usable else (os.cpu_count() or 1)
    return max(1, min(cores, MOST_TEST_PROCESSES))


def source_text() -> str:
    """The council's document, or a skip saying where it was looked for."""
    if not SOURCE.is_file():
        pytest.skip(
            f"the council's source document is not at {SOURCE} "
            "(only this project's own workspace and CI have it)"
        )
    return SOURCE.read_text(encoding="utf-8")


@cache
def postgres_unreachable() -> str | None:
    """Why the test PostgreSQL server cannot be used, or None when it can."""
    probe = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 5})
    try:
        with probe.connect():
            return None
    except Exception as exc:
        said = str(getattr(exc, "orig", None) or exc).strip() or type(exc).__name__
        return f"PostgreSQL at {POSTGRES_URL} is not reachable: {said.splitlines()[0]}"
    finally:
        probe.dispose()


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres") is not None:
        reason = postgres_unreachable()
        if reason:
            pytest.skip(reason + "; set PLANWORKER_TEST_POSTGRES_URL to use another")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    # Under CI a skipped test proves nothing: report it as the failure it hides.
    if REQUIRE_ALL and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under PLANWORKER_TEST_REQUIRE_ALL=1: {reason}"


@cache
def seed_data() -> dict[str, Any]:
    """The seed file as plain YAML data, read without planworker's own loader."""
    data = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _postgres_schema_url() -> Iterator[str]:
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'planworker.db'}"
    else:
        yield from _postgres_schema_url()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """An empty schema on the PostgreSQL server, for tests that need PostgreSQL itself."""
    yield from _postgres_schema_url()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated database."""
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


class Cli:
    """Runs `planworker` in-process against one database, as a user would type it."""

    def __init__(self, db_url: str, workdir: Path) -> None:
        self.db_url = db_url
        self.workdir = workdir
        # Settings a test adds for every later call (mail backend, SMTP server...).
        self.env: dict[str, str] = {}

    @property
    def maildir(self) -> Path:
        return self.workdir / "outbox"

    def environment(self) -> dict[str, str]:
        return {
            "PLANWORKER_DATABASE_URL": self.db_url,
            "PLANWORKER_CONTACTS_FILE": str(CONTACTS),
            "PLANWORKER_CONFIG": "",
            "PLANWORKER_PLAN": "",
            "PLANWORKER_MAIL__MAILDIR": str(self.maildir),
            **self.env,
        }

    def __call__(self, *args: str, ok: bool = True) -> Result:
        result = CliRunner().invoke(
            main, list(args), env=self.environment(), catch_exceptions=False
        )
        if ok:
            assert result.exit_code == 0, result.output
        return result


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> Cli:
    runner = Cli(db_url, tmp_path)
    runner("db", "upgrade")
    return runner


@pytest.fixture
def seed_copy(tmp_path: Path) -> Path:
    """A copy of the seed that a test may edit."""
    target = tmp_path / "plan.yaml"
    shutil.copy(SEED, target)
    return target
