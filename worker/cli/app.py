"""The `planworker` command group and what every command shares: the App (settings, the
database, the contacts directory), its errors shown as one line, and the dates and clock
a command runs with (read here, at the edge, and passed in).

Heavy modules are imported inside functions so that `planworker --help` stays fast.
"""

from __future__ import annotations

import atexit
import gc
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from worker.contacts import Directory
    from worker.models import Plan
    from worker.settings import Settings


@dataclass
class App:
    """What every command shares: settings, the database, the contacts directory."""

    config: Path | None
    _engine: Engine | None = field(default=None, init=False)

    @cached_property
    def settings(self) -> Settings:
        from worker.settings import load_settings

        return load_settings(self.config)

    # Set by `db upgrade`, the one command that may create the database.
    creating: bool = field(default=False, init=False)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from worker.db import make_engine

            self._require_database()
            self._engine = make_engine(self.settings.database_url)
        return self._engine

    def close(self) -> None:
        """Close the database's pooled connections when the command ends, not whenever the
        process gets round to it: SQLite then folds its write-ahead log back into the file."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _require_configured(self, what: str, key: str) -> None:
        """Refuse to fall back on a built-in default for a file or database nobody chose."""
        import os

        from worker.errors import PlanworkerError
        from worker.settings import ENV_PREFIX

        source = self.settings.source
        if source.path is None and ENV_PREFIX + key not in os.environ:
            raise PlanworkerError(
                f"no {what} configured: {source.how}, and {ENV_PREFIX}{key} is not set. "
                "Start a site with 'planworker init DIR', then give --config DIR/planworker.toml"
            )

    def _require_database(self) -> None:
        """Refuse to guess a database, or to leave an empty file where none was."""
        from worker.db import missing_sqlite_file
        from worker.errors import PlanworkerError

        settings = self.settings
        self._require_configured("database", "DATABASE_URL")
        missing = missing_sqlite_file(settings.database_url)
        if missing is not None and not self.creating:
            raise PlanworkerError(
                f"the database {missing} does not exist: run 'planworker db upgrade' "
                f"(config file: {settings.source.path or 'none'})"
            )

    def session(self, *, migrated: bool = True, reads_only: bool = False) -> Session:
        """A session on the configured database; `reads_only` for a command that only reads,
        which then neither waits for a job that is writing nor makes one wait."""
        from worker.db import session_factory

        if migrated:
            self.require_migrated()
        return session_factory(self.engine, reads_only=reads_only)()

    def require_migrated(self) -> None:
        from sqlalchemy.exc import DBAPIError, SQLAlchemyError

        from worker.db import database_error, read_only
        from worker.errors import PlanworkerError
        from worker.schema_version import HEAD, current_revision

        try:
            current = current_revision(read_only(self.engine))
        except DBAPIError as exc:
            raise database_error(self.settings.database_url, exc, "open") from None
        except SQLAlchemyError as exc:
            raise PlanworkerError(
                f"cannot open the database: {exc.__class__.__name__}: {str(exc).splitlines()[0]}"
            ) from None
        if current != HEAD:
            raise PlanworkerError(
                "the database schema is not up to date: run 'planworker db upgrade'"
            )

    def directory(self) -> Directory:
        from worker.contacts import load_directory

        self._require_configured("contacts file", "CONTACTS_FILE")
        return load_directory(self.settings.contacts_file)

    def plan(self, session: Session, slug: str | None) -> Plan:
        from worker.store.plan import find_plan

        return find_plan(session, slug or self.settings.plan or None)


class CommandGroup(click.Group):
    """Shows planworker's own errors as one clear message, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from worker.errors import PlanworkerError

        try:
            return super().invoke(ctx)
        except PlanworkerError as exc:
            raise click.ClickException(str(exc)) from None
        except Exception as exc:
            # The database going away or staying locked mid-command is not a bug: say which
            # database and why, in one line. (Each transaction either committed or rolled
            # back, so nothing is half-written.) Other errors are bugs and keep their traceback.
            from sqlalchemy.exc import InterfaceError, OperationalError

            from worker.db import database_error

            app = ctx.find_object(App)
            if not isinstance(exc, OperationalError | InterfaceError) or app is None:
                raise
            raise click.ClickException(
                str(database_error(app.settings.database_url, exc))
            ) from None


# How often CPython's cycle collector runs: after this many new container objects, not the
# default 700. Reference counting frees nearly everything a run makes; what the collector
# costs is traversing what a run keeps (pass one's ranked entries), once per collection. At
# 700 that was 10-15% of a large run's CPU, and still 11% of the 1M `remind` at 50,000;
# at 500,000 the 100k quick check never collects and the 1M run collects twice. A 1M run
# leaves a few thousand objects in cycles, so collecting rarely costs no measurable memory
# (docs/benchmarks.md, "eleventh session").
COLLECTOR_THRESHOLDS = (500_000, 20, 100)


@cache
def _no_collecting_at_exit() -> None:
    """At exit the interpreter collects cycles among everything still alive, over and over
    as it clears each module: a third of a second of a quick `remind`, freeing memory the
    OS takes back anyway. Freezing the heap first skips that; the database is closed by
    then (App.close), files are closed where written, and Python never promised to finalise
    objects still alive at exit."""
    atexit.register(gc.freeze)


@click.group(cls=CommandGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help=(
        "Config file (default: $PLANWORKER_CONFIG, else ./config/planworker.toml, else "
        "/etc/planworker/planworker.toml)."
    ),
)
@click.version_option(package_name="planworker")
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    """planworker: reminders and escalations for improvement action plans."""
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    _no_collecting_at_exit()
    app = ctx.obj = App(config)
    ctx.call_on_close(app.close)


def today_in(timezone: str) -> date:
    """The wall-clock date in the plan's time zone: read here, at the edge, and passed in."""
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(timezone)).date()


def run_dates(
    app: App, as_of: datetime | None, timezone: str, *, check: bool = True
) -> tuple[date, date]:
    """The day a command acts on (--as-of, else today) and today in `timezone`. With `check`,
    a day beyond the as-of horizon is refused: what a run records there would stand as sent."""
    from worker.errors import PlanworkerError
    from worker.rules.as_of import as_of_refusal

    today = today_in(timezone)
    day = as_of.date() if as_of else today
    reason = as_of_refusal(day, today, app.settings.service.as_of_horizon_days) if check else ""
    if reason:
        raise PlanworkerError(reason)
    return day, today


def utc_now() -> datetime:
    """The clock of a command run: read here, at the edge, and passed in."""
    return datetime.now(UTC)
