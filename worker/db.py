"""Engine and sessions. SQLite gets WAL, a busy timeout, foreign keys and BEGIN IMMEDIATE.

A SQLite URL's `timeout` (seconds, as Python's sqlite3 takes it) sets how long a command
waits for another process's lock before it fails; the default is 5 seconds. A PostgreSQL
URL's `connect_timeout` sets how long to wait for the server to answer; the default is 10.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from worker.errors import PlanworkerError

SQLITE_BUSY_TIMEOUT_MS = 5000
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


def _sqlite_begin(conn: Any) -> None:
    # Take the write lock at the start, so two writers queue instead of failing mid-way.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _ensure_sqlite_folder(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


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
    """An engine for any SQLAlchemy URL; a SQLite file's folder is created if needed."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise PlanworkerError(f"database_url {url!r} is not a database URL: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        _ensure_sqlite_folder(url)
        busy_timeout_ms = _sqlite_busy_timeout_ms(parsed)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout_ms))
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        # psycopg 3 is the driver we install.
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if parsed.get_backend_name() == "postgresql":
        given = kwargs.get("connect_args", {})
        kwargs["connect_args"] = {**_postgres_connect_args(parsed), **given}
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
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


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def shown(url: str | URL) -> str:
    """A database URL as it may be shown to people: the password, if any, masked."""
    try:
        parsed = make_url(url)
    except Exception:
        return "(an unreadable database URL)"
    return parsed.render_as_string(hide_password=True)


def database_error(url: str | URL, exc: DBAPIError, doing: str = "use") -> PlanworkerError:
    """An error from the database driver as one line naming the database and the reason."""
    reason = str(exc.orig).strip() if exc.orig is not None else str(exc)
    first = reason.splitlines()[0].strip() if reason else exc.__class__.__name__
    return PlanworkerError(f"cannot {doing} the database {shown(url)}: {first}")
