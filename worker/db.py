"""Engine and sessions. SQLite gets WAL, a busy timeout, foreign keys and BEGIN IMMEDIATE.

A SQLite URL's `timeout` (seconds, as Python's sqlite3 takes it) sets how long a command
waits for another process's lock before it fails; the default is 5 seconds. A PostgreSQL
URL's `connect_timeout` sets how long to wait for the server to answer; the default is 10.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from worker.errors import PlanworkerError

SQLITE_BUSY_TIMEOUT_MS = 5000
# The databases planworker's migrations and queries are written and tested for.
SUPPORTED = ("sqlite", "postgresql")
# "scheme://user:password@": the password runs to the last "@" (an unescaped one included).
_PASSWORD = re.compile(r"([A-Za-z][\w+.-]*://[^:/@\s]*:)[^\s]*@")
# Seconds to wait for a PostgreSQL server to answer a new connection.
POSTGRES_CONNECT_TIMEOUT_S = 10


def _sqlite_pragmas(busy_timeout_ms: int) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    return on_connect


def _sqlite_busy_timeout_ms(url: URL) -> int:
    given = url.query.get("timeout")
    if given is None:
        return SQLITE_BUSY_TIMEOUT_MS
    try:
        seconds = float(given if isinstance(given, str) else given[-1])
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 24 * 3600:
        raise PlanworkerError(
            f"database_url {shown(url)}: timeout {given!r} is not a number of seconds"
        )
    return round(seconds * 1000)


# The execution option of an engine or connection that only reads (`read_only`).
READ_ONLY = "planworker_read_only"


def _sqlite_begin(conn: Any) -> None:
    # A writer takes the write lock at the start, so two writers queue instead of failing
    # mid-way. A reader does not: in WAL mode it reads a snapshot beside a writer, so an
    # export of a large plan does not lock out the daily run, nor a daily run's batch a
    # health check, a lead's page or `plan show` (docs/ledger.md, "Several workers").
    read_only = conn.get_execution_options().get(READ_ONLY, False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def read_only(engine: Engine) -> Engine:
    """`engine` for work that only reads: on SQLite its transactions wait for no writer and
    make none wait (elsewhere the same engine)."""
    return engine.execution_options(**{READ_ONLY: True})


def _private_sqlite_file(url: str) -> None:
    """Create a SQLite file's folder (0700) and the empty file (0600) where they are missing:
    the database holds message bodies and notes. SQLite gives its -wal and -shm files the
    database file's permissions."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    try:
        for folder in reversed([path.parent, *path.parent.parents]):
            if not folder.exists():
                folder.mkdir(mode=0o700)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
    except FileExistsError:
        pass  # an existing database keeps the permissions its owner gave it
    except OSError as exc:
        raise PlanworkerError(f"cannot create the database {path}: {exc.strerror}") from None


def missing_sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names when it does not exist yet (None for anything else)."""
    try:
        parsed = make_url(url)
    except Exception:  # make_engine reports a bad URL
        return None
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None
    path = Path(database)
    return None if path.exists() else path


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for a SQLite or PostgreSQL URL; a SQLite file is created private if needed."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        reason = _redacted(str(exc), url)
        raise PlanworkerError(
            f"database_url {shown(url)} is not a database URL: {reason}"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED:
        raise PlanworkerError(
            f"database_url {shown(url)}: planworker works with {' or '.join(SUPPORTED)} "
            f"databases, not {backend!r}"
        )
    if backend == "sqlite":
        busy_timeout_ms = _sqlite_busy_timeout_ms(parsed)
        engine = _create_engine(url, **kwargs)
        _private_sqlite_file(url)
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout_ms))
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        # psycopg 3 is the driver we install.
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if parsed.get_backend_name() == "postgresql":
        given = kwargs.get("connect_args", {})
        kwargs["connect_args"] = {**_postgres_connect_args(parsed), **given}
    engine = _create_engine(url, pool_pre_ping=True, **kwargs)
    if parsed.get_backend_name() == "postgresql":
        event.listen(engine, "connect", _postgres_settings)
    return engine


def _postgres_connect_args(url: URL) -> dict[str, Any]:
    """A connect timeout, unless the URL gives its own (`?connect_timeout=30`): an unreachable
    server or a firewall that drops packets would otherwise hang a command, or the health
    probe, for as long as the operating system keeps trying (minutes)."""
    given = url.query.get("connect_timeout")
    if given is None:
        return {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S}
    text = given if isinstance(given, str) else given[-1]
    if not text.isdigit() or int(text) < 1:
        raise PlanworkerError(
            f"database_url {shown(url)}: connect_timeout {text!r} is not a whole number of "
            "seconds from 1"
        )
    return {}


def _create_engine(url: str, **kwargs: Any) -> Engine:
    try:
        return create_engine(url, **kwargs)
    except (NoSuchModuleError, ImportError) as exc:
        driver = make_url(url).drivername
        raise PlanworkerError(
            f"database_url {shown(url)}: the database driver {driver!r} is not available "
            f"({_redacted(str(exc), url)}); use postgresql:// (psycopg) or sqlite:///"
        ) from None
    except (ArgumentError, TypeError, ValueError) as exc:
        raise PlanworkerError(f"database_url {shown(url)}: {_redacted(str(exc), url)}") from None


def _postgres_settings(dbapi_connection: Any, _record: Any) -> None:
    # psycopg prepares a statement it has run five times, and PostgreSQL may then keep one
    # generic plan for it. A plan made while the ledger was empty (a sequential scan) stays
    # while the ledger grows to hundreds of thousands of rows, and each lookup of keys
    # became a scan of the table (seconds each, in the 1M benchmark). Planning every
    # execution for its own values keeps the indexes in use; parsing is still saved.
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_custom_plan")
    dbapi_connection.commit()


# What a plan import writes: the tables the daily run's queries are planned over.
PLAN_TABLES = (
    "work_streams",
    "lead_roles",
    "actions",
    "action_leads",
    "action_dependencies",
    "status_history",
)


def refresh_statistics(session: Session, tables: tuple[str, ...] = PLAN_TABLES) -> None:
    """Have PostgreSQL sample `tables` now, after a bulk write, in a transaction of its own.

    Rows written in bulk have no statistics until autovacuum gets to them (never, where it
    is off), and the planner then guesses: deciding at 1M took twice as long. SQLite is
    left as it is: its plans are chosen by the indexes alone, as the migrations expect.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    with session.begin():
        session.execute(text(f"ANALYZE {', '.join(tables)}"))


def session_factory(engine: Engine, *, reads_only: bool = False) -> sessionmaker[Session]:
    """Sessions on `engine`; `reads_only` for work that never writes (see `read_only`)."""
    return sessionmaker(read_only(engine) if reads_only else engine, expire_on_commit=False)


def readers_of(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions on the same engine as `sessions`, for work that only reads (`read_only`)."""
    return session_factory(sessions.kw["bind"], reads_only=True)


def shown(url: str | URL) -> str:
    """A database URL as it may be shown to people: the password, if any, masked. The one
    way every message, log and --json output shows a database URL."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        # Unreadable to SQLAlchemy: mask everything between the user name and the last "@".
        return _PASSWORD.sub(r"\1***@", str(url))


def _redacted(text: str, url: str) -> str:
    """A message about `url` (which may quote it) with its password masked."""
    return _PASSWORD.sub(r"\1***@", text.replace(url, shown(url)))


def database_error(url: str | URL, exc: DBAPIError, doing: str = "use") -> PlanworkerError:
    """An error from the database driver as one line naming the database and the reason."""
    reason = str(exc.orig).strip() if exc.orig is not None else str(exc)
    first = reason.splitlines()[0].strip() if reason else exc.__class__.__name__
    return PlanworkerError(f"cannot {doing} the database {shown(url)}: {first}")
