"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, and the CLI.

PostgreSQL tests use the server on this machine (PLANWORKER_TEST_POSTGRES_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/test), each test in a schema of its own. When
the server is not reachable they fail: the suite is meant to prove both databases work.
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


@cache
def seed_data() -> dict[str, Any]:
    """The seed file as plain YAML data, read without planworker's own loader."""
    data = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _postgres_schema_url() -> Iterator[str]:
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        pytest.fail(f"PostgreSQL at {POSTGRES_URL} is not reachable: {exc}")
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
