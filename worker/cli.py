"""The `planworker` command: parse arguments, call one function, print the result.

Heavy modules are imported inside commands so that `planworker --help` stays fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from worker.io.terminal import printable

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from worker.contacts import Directory
    from worker.models import Plan
    from worker.service import Service
    from worker.settings import Settings


# A simulation replays day by day; a few years is plenty and keeps it quick.
MAX_SIMULATED_DAYS = 5 * 366


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

    def session(self, *, migrated: bool = True) -> Session:
        from worker.db import session_factory

        if migrated:
            self.require_migrated()
        return session_factory(self.engine)()

    def require_migrated(self) -> None:
        from sqlalchemy.exc import DBAPIError, SQLAlchemyError

        from worker.db import database_error
        from worker.errors import PlanworkerError
        from worker.migrate import current_revision, head_revision

        try:
            current = current_revision(self.engine)
        except DBAPIError as exc:
            raise database_error(self.settings.database_url, exc, "open") from None
        except SQLAlchemyError as exc:
            raise PlanworkerError(
                f"cannot open the database: {exc.__class__.__name__}: {str(exc).splitlines()[0]}"
            ) from None
        if current != head_revision():
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


class _Group(click.Group):
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


def _print_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


plan_option = click.option(
    "--plan",
    "plan_slug",
    metavar="NAME",
    help="The plan to act on (needed only when the database holds several).",
)
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print a machine-readable summary."
)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
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
    ctx.obj = App(config)


# --- db --------------------------------------------------------------------------------------


@main.group(cls=_Group)
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(app: App) -> None:
    """Create or migrate the database schema to the latest version."""
    from worker.migrate import current_revision, upgrade

    app.creating = True
    upgrade(app.engine)
    click.echo(f"database schema at revision {current_revision(app.engine)}")


# --- plan ------------------------------------------------------------------------------------


@main.group(cls=_Group)
def plan() -> None:
    """Import, export, show and check action plans."""


def _terminal_progress(path: Path) -> Callable[[int, int], None] | None:
    """Progress of a long import on standard error, for a person watching a terminal only:
    a log or a pipe gets the summary alone."""
    if not sys.stderr.isatty():
        return None
    click.echo(f"reading {path} ...", err=True)

    def report(done: int, total: int) -> None:
        click.echo(f"\rwriting actions: {done:,} of {total:,}", nl=done == total, err=True)

    return report


@plan.command("import")
@click.argument("path", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@plan_option
@click.option("--by", default="", help="Who is importing (recorded with any status changes).")
@click.option(
    "--replace",
    "replace_plan",
    is_flag=True,
    help="Allow an import that archives or rewrites most of the plan's actions.",
)
@click.option("--diff", is_flag=True, help="List what would be added, changed and archived.")
@json_option
@click.pass_obj
def plan_import(
    app: App,
    path: Path,
    plan_slug: str | None,
    by: str,
    replace_plan: bool,
    diff: bool,
    as_json: bool,
) -> None:
    """Import a plan from the seed YAML format, CSV or XLSX.

    All or nothing: a file with any bad row imports nothing, and the error names the row,
    column and reason. Importing the same file again changes nothing. An import that would
    archive or rewrite most of the plan is refused without --replace; --diff writes nothing.
    """
    from worker.plan.importer import import_file, replacing
    from worker.plan.report import diff_json, render_diff

    # The directory is mirrored into the database with the plan, for set-based queries.
    directory = app.directory() if app.settings.contacts_file.is_file() else None
    with app.session() as session:
        result = import_file(
            session,
            path,
            plan_slug or app.settings.plan or None,
            by or f"import of {path.name}",
            app.settings.dates.month_day,
            directory,
            replace_plan=replace_plan,
            diff=diff,
            progress=_terminal_progress(path),
        )
    if diff:
        found = diff_json(result, None if replace_plan else replacing(result))
        if as_json:
            _print_json(found)
        else:
            click.echo(printable(render_diff(found)))
        return
    if directory is None:
        result.warnings.append(
            f"contacts file {app.settings.contacts_file} not found: no one can be reminded yet"
        )
    if as_json:
        _print_json({k: v for k, v in result.__dict__.items() if k != "changes"})
        return
    verb = "created" if result.created_plan else "updated" if result.changed else "unchanged"
    click.echo(
        f"plan {result.plan} {verb}: {result.added} added, {result.updated} updated, "
        f"{result.unchanged} unchanged, {result.archived} archived, "
        f"{result.status_changes} status changes"
    )
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)


@plan.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(["yaml", "csv", "xlsx"]), default="yaml", show_default=True
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Write here instead of standard output (required for xlsx).",
)
@plan_option
@click.pass_obj
def plan_export(app: App, fmt: str, output: Path | None, plan_slug: str | None) -> None:
    """Write the plan as YAML (the seed format), CSV or XLSX."""
    from worker.plan.exporter import export_plan

    with app.session() as session:
        export_plan(
            session, app.plan(session, plan_slug), fmt, output, app.settings.dates.month_day
        )


@plan.command("show")
@plan_option
@json_option
@click.pass_obj
def plan_show(app: App, plan_slug: str | None, as_json: bool) -> None:
    """Work streams with their action counts, the dates read, and a count of findings."""
    from worker.plan.report import plan_summary, render_summary

    with app.session() as session:
        summary = plan_summary(
            session, app.plan(session, plan_slug), app.directory(), app.settings.dates.month_day
        )
    if as_json:
        _print_json(summary)
    else:
        click.echo(printable(render_summary(summary)))


@plan.command("check")
@plan_option
@click.option("--strict", is_flag=True, help="Exit 1 when there are findings.")
@json_option
@click.pass_obj
def plan_check(app: App, plan_slug: str | None, strict: bool, as_json: bool) -> None:
    """Data-quality report: missing or unreadable dates, targets before starts, leads with
    no contact, dependencies that point nowhere, and how multi-item rows were read."""
    from worker.plan.check import check_plan
    from worker.plan.report import render_check
    from worker.store.plan import load_plan

    with app.session() as session:
        doc = load_plan(session, app.plan(session, plan_slug))
    report = check_plan(doc, app.directory(), app.settings.dates.month_day)
    if as_json:
        _print_json({"plan": doc.info.slug, **report.as_json()})
    else:
        click.echo(printable(render_check(doc, report)))
    if strict and report.findings:
        sys.exit(1)


# --- reminders -------------------------------------------------------------------------------


class _Day(click.DateTime):
    """A YYYY-MM-DD date within the years planworker works in: the day arithmetic of a run
    (stages, reviews, a simulation's days) would overflow near the year 9999."""

    name = "date"
    first, last = date(1900, 1, 1), date(2999, 12, 31)

    def __init__(self) -> None:
        super().__init__(formats=["%Y-%m-%d"])

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        day = super().convert(value, param, ctx)
        if not self.first <= day.date() <= self.last:
            self.fail(
                f"{day:%Y-%m-%d} is outside the dates planworker works with "
                f"({self.first:%Y-%m-%d} to {self.last:%Y-%m-%d})",
                param,
                ctx,
            )
        return day


as_of_option = click.option(
    "--as-of",
    "as_of",
    type=_Day(),
    metavar="YYYY-MM-DD",
    help="The date to act as of (default: today in the plan's time zone).",
)


def _date_or_today(value: datetime | None, timezone: str) -> date:
    return value.date() if value else _today(timezone)


def _today(timezone: str) -> date:
    """The wall-clock date in the plan's time zone: read here, at the edge, and passed in."""
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(timezone)).date()


def _refuse_far_ahead(app: App, day: date, today: date, option: str = "--as-of") -> None:
    """Stop a run that would record something dated beyond the as-of horizon."""
    from worker.errors import PlanworkerError
    from worker.rules.as_of import as_of_refusal

    reason = as_of_refusal(day, today, app.settings.service.as_of_horizon_days, option)
    if reason:
        raise PlanworkerError(reason)


def _now() -> datetime:
    return datetime.now(UTC)


dry_run_option = click.option(
    "--dry-run", is_flag=True, help="Render and list what would be sent; send and record nothing."
)


def _run_job(
    app: App,
    job: str,
    as_of: datetime | None,
    dry_run: bool,
    plan_slug: str | None,
    as_json: bool,
    only: list[str] | None = None,
) -> None:
    from worker.configure import mailer, remind_config, where
    from worker.db import session_factory
    from worker.jobs import catalogue
    from worker.jobs.pipeline import Request
    from worker.jobs.results import RemindResult
    from worker.store.outbox import counts
    from worker.summaries import remind_json, render_remind

    config = remind_config(app.settings, app.directory())
    app.require_migrated()
    sessions = session_factory(app.engine)
    with sessions() as session:
        plan = app.plan(session, plan_slug)
        plan_id, timezone = plan.id, plan.timezone
    today = _today(timezone)
    day = as_of.date() if as_of else today
    if not dry_run:
        _refuse_far_ahead(app, day, today)
    backend = None if dry_run else mailer(app.settings, sys.stderr if as_json else sys.stdout)
    request = Request(
        sessions, plan_id, config, day, _now, backend, dry_run, only=only, today=today
    )
    result = catalogue.run(job, request)
    assert isinstance(result, RemindResult)
    with sessions() as session:
        outbox_counts = counts(session, plan_id)
    quiet = job == "alert" and not result.planned  # after a status change that is not Red
    if as_json:
        _print_json(remind_json(result, outbox_counts, dry_run))
    elif not quiet:
        click.echo(render_remind(result, outbox_counts, where(app.settings), dry_run, job))
    delivery = result.delivery
    for error in result.render_errors + (delivery.errors if delivery else []):
        click.echo(f"error: {error}", err=True)
    if result.render_errors or (delivery and (delivery.failed or delivery.stopped_early)):
        sys.exit(1)


@main.command()
@as_of_option
@dry_run_option
@plan_option
@json_option
@click.pass_obj
def remind(
    app: App, as_of: datetime | None, dry_run: bool, plan_slug: str | None, as_json: bool
) -> None:
    """Send the lead reminders due on a date, then deliver anything waiting in the outbox.

    Each lead gets one message listing all their actions that are overdue, due soon or due
    for review. Running it again for the same date sends nothing new.
    """
    _run_job(app, "remind", as_of, dry_run, plan_slug, as_json)


@main.command()
@as_of_option
@dry_run_option
@plan_option
@json_option
@click.pass_obj
def escalate(
    app: App, as_of: datetime | None, dry_run: bool, plan_slug: str | None, as_json: bool
) -> None:
    """Escalate Amber, Red and long-overdue actions to their work stream's strategic lead
    (one message each, weekly while they stay so), and tell the strategic lead and the board
    at once when an action turns Red. Running it again for the same date sends nothing new.
    """
    _run_job(app, "escalate", as_of, dry_run, plan_slug, as_json)


@main.command()
@click.option(
    "--from",
    "first",
    required=True,
    type=_Day(),
    metavar="YYYY-MM-DD",
    help="First day to replay.",
)
@click.option(
    "--to",
    "last",
    required=True,
    type=_Day(),
    metavar="YYYY-MM-DD",
    help="Last day to replay.",
)
@click.option(
    "--job",
    "jobs",
    multiple=True,
    type=click.Choice(["remind", "escalate", "digest"]),
    help="Replay only this job (repeatable; default: all three).",
)
@plan_option
@json_option
@click.pass_obj
def simulate(
    app: App,
    first: datetime,
    last: datetime,
    jobs: tuple[str, ...],
    plan_slug: str | None,
    as_json: bool,
) -> None:
    """Replay the jobs on every working day from --from to --to on a scratch copy of the
    database (the real one is not changed), and print who would get what, when: lead
    reminders and escalations every working day, the board digest weekly."""
    from worker.configure import remind_config
    from worker.errors import PlanworkerError
    from worker.jobs.simulate import simulate as replay
    from worker.summaries import render_timeline, timeline_json

    if last < first:
        raise PlanworkerError("--to must not be before --from")
    if (last - first).days > MAX_SIMULATED_DAYS:
        raise PlanworkerError(f"simulate at most {MAX_SIMULATED_DAYS} days at a time")
    config = remind_config(app.settings, app.directory())
    with app.session() as session:
        plan = app.plan(session, plan_slug)
        plan_id, timezone = plan.id, plan.timezone
    weekdays = ["monday", "tuesday", "wednesday", "thursday", "friday"]
    timeline = replay(
        app.engine,
        plan_id,
        timezone,
        config,
        first.date(),
        last.date(),
        jobs=jobs or ("remind", "escalate", "digest"),
        digest_weekday=weekdays.index(app.settings.digest.weekday),
    )
    if as_json:
        _print_json(timeline_json(timeline))
    else:
        click.echo(render_timeline(timeline))


@main.command()
@click.option("--state", type=click.Choice(["pending", "sending", "sent", "failed"]))
@click.option("--to", "recipient", metavar="EMAIL", help="Only messages to this address.")
@click.option("--limit", default=50, show_default=True, help="How many of the newest to list.")
@plan_option
@json_option
@click.pass_obj
def outbox(
    app: App,
    state: str | None,
    recipient: str | None,
    limit: int,
    plan_slug: str | None,
    as_json: bool,
) -> None:
    """List the outbox, newest first: each message's state and, for each action in it, why it
    was sent (the rule, the target date as written and read, the RAG, the role)."""
    from worker.store.outbox import counts, list_messages
    from worker.summaries import message_json, render_message

    with app.session() as session:
        plan_id = app.plan(session, plan_slug).id
        found = list_messages(
            session, plan_id=plan_id, state=state, recipient=recipient, limit=limit
        )
        totals = counts(session, plan_id)
    if as_json:
        _print_json(
            {
                "counts": totals,
                "messages": [message_json(m, items) for m, items in found],
            }
        )
        return
    for message, items in found:
        click.echo(printable(render_message(message, items)))
    click.echo("outbox: " + ", ".join(f"{n} {s}" for s, n in totals.items()))


# --- status ----------------------------------------------------------------------------------


@main.group(cls=_Group)
def status() -> None:
    """Progress: set an action's RAG and state, import a status return, show history."""


def _alert_after(app: App, plan_slug: str | None, as_of: datetime | None, refs: list[str]) -> None:
    """Tell the strategic lead and the board at once if these actions are now Red."""
    if not app.settings.escalation.red_alert:
        return
    _run_job(app, "alert", as_of, False, plan_slug, False, only=refs)


@status.command("set")
@click.argument("action_id")
@click.option("--rag", help="Green, Amber or Red (G, A, R).")
@click.option("--state", "state_", help="not started, in progress, completed or dropped.")
@click.option("--note", required=True, help="What happened: recorded in the history.")
@click.option("--by", required=True, help="Who reports it.")
@click.option("--no-alert", is_flag=True, help="Do not send the Red alert now.")
@as_of_option
@plan_option
@click.pass_obj
def status_set(
    app: App,
    action_id: str,
    rag: str | None,
    state_: str | None,
    note: str,
    by: str,
    no_alert: bool,
    as_of: datetime | None,
    plan_slug: str | None,
) -> None:
    """Record a progress update for one action (ACTION_ID as in the plan, e.g. WS1-01).

    If it leaves the action Red, its strategic lead and the board are told at once (unless
    --no-alert; the daily escalation job would tell them anyway).
    """
    from worker.errors import PlanworkerError
    from worker.plan.data import parse_rag, parse_state
    from worker.store.status import StatusUpdate, apply_updates

    try:
        parsed_rag = parse_rag(rag) if rag else None
        parsed_state = parse_state(state_) if state_ else None
    except ValueError as exc:
        raise PlanworkerError(str(exc)) from None
    if not note.strip() or not by.strip():
        raise PlanworkerError("--note and --by must not be empty")
    with app.session() as session:
        plan = app.plan(session, plan_slug)
        plan_id = plan.id
        today = _today(plan.timezone)
        if as_of:
            _refuse_far_ahead(app, as_of.date(), today)
        update = StatusUpdate(
            action_id.strip(),
            parsed_rag,
            parsed_state,
            note.strip(),
            by.strip(),
            _changed_at(as_of, today, plan.timezone),
            "cli",
        )
        result = apply_updates(session, plan_id, [update], ["command line"], "status set")
        session.commit()
    click.echo(f"{action_id}: " + ("recorded" if result.changed else "no change (same as now)"))
    if result.changed and not no_alert:
        _alert_after(app, plan_slug, as_of, result.refs or [])


def _changed_at(as_of: datetime | None, today: date, timezone: str) -> datetime:
    """When a change given --as-of happened: midday that day (as a dated status return row
    is recorded), or now when it is today's."""
    from zoneinfo import ZoneInfo

    if as_of is None or as_of.date() == today:
        return _now()
    return datetime.combine(as_of.date(), time(12), ZoneInfo(timezone))


@status.command("import")
@click.argument("path", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--no-alert", is_flag=True, help="Do not send Red alerts now.")
@as_of_option
@plan_option
@json_option
@click.pass_obj
def status_import(
    app: App,
    path: Path,
    no_alert: bool,
    as_of: datetime | None,
    plan_slug: str | None,
    as_json: bool,
) -> None:
    """Import a status return (CSV or XLSX with ID, RAG, Status, Note, Updated By and an
    optional Date). All or nothing: any bad row imports nothing, and the error names the row,
    column and reason. Importing the same return again changes nothing."""
    from zoneinfo import ZoneInfo

    from worker.status_return import read_status_return
    from worker.store.status import StatusUpdate, apply_updates

    with app.session() as session:
        plan = app.plan(session, plan_slug)
        zone = ZoneInfo(plan.timezone)
        today = _today(plan.timezone)
        if as_of:
            _refuse_far_ahead(app, as_of.date(), today)
        read = read_status_return(path, today=today)
        now = _now()
        updates = [
            StatusUpdate(
                u.ref,
                u.rag,
                u.state,
                u.note,
                u.by,
                # A dated row is recorded at midday, so the day reads the same in any zone.
                datetime.combine(u.on, time(12), zone) if u.on else now,
                f"status return {path.name}",
            )
            for u in read.updates
        ]
        places = [f"row {u.row}" for u in read.updates]
        result = apply_updates(session, plan.id, updates, places, str(path))
        session.commit()
    if as_json:
        _print_json({"changed": result.changed, "unchanged": result.unchanged, "refs": result.refs})
    else:
        click.echo(
            f"status return {path.name}: {result.changed} actions updated, "
            f"{result.unchanged} unchanged"
        )
    for warning in read.warnings:
        click.echo(f"warning: {warning}", err=True)
    if result.changed and not no_alert:
        _alert_after(app, plan_slug, as_of, result.refs or [])


@status.command("history")
@click.argument("action_id")
@plan_option
@json_option
@click.pass_obj
def status_history(app: App, action_id: str, plan_slug: str | None, as_json: bool) -> None:
    """Every change of an action's RAG and state: who, when, what, and their note."""
    from worker.store.status import history, render_history

    with app.session() as session:
        changes = history(session, app.plan(session, plan_slug).id, action_id.strip())
    rows = [
        {
            "at": c.changed_at.isoformat(),
            "by": c.changed_by,
            "source": c.source,
            "rag": [c.rag_from, c.rag_to],
            "state": [c.state_from, c.state_to],
            "note": c.note,
        }
        for c in changes
    ]
    if as_json:
        _print_json({"action": action_id, "changes": rows})
        return
    click.echo(render_history(action_id, changes))


# --- the board -------------------------------------------------------------------------------


@main.command()
@as_of_option
@dry_run_option
@plan_option
@json_option
@click.pass_obj
def digest(
    app: App, as_of: datetime | None, dry_run: bool, plan_slug: str | None, as_json: bool
) -> None:
    """Send the project board its escalation digest for a date: every Amber and Red action,
    what changed since the previous digest, and a RAG summary per work stream. Once per
    date: running it again sends nothing new."""
    from worker.configure import mailer, remind_config, where
    from worker.db import session_factory
    from worker.jobs import catalogue
    from worker.jobs.pipeline import Request
    from worker.jobs.results import DigestResult, effective_counts

    config = remind_config(app.settings, app.directory())
    app.require_migrated()
    sessions = session_factory(app.engine)
    with sessions() as session:
        plan = app.plan(session, plan_slug)
        plan_id, timezone = plan.id, plan.timezone
    today = _today(timezone)
    day = as_of.date() if as_of else today
    if not dry_run:
        _refuse_far_ahead(app, day, today)
    backend = None if dry_run else mailer(app.settings, sys.stderr if as_json else sys.stdout)
    request = Request(sessions, plan_id, config, day, _now, backend, dry_run, today=today)
    result = catalogue.run("digest", request)
    assert isinstance(result, DigestResult)
    board = result.digest
    delivery = result.delivery
    if board is None:
        if as_json:
            _print_json({"as_of": day.isoformat(), "dry_run": dry_run, "skipped": result.skipped})
        else:
            click.echo(f"Board digest: {result.skipped}")
        return
    summary = {
        "as_of": day.isoformat(),
        "dry_run": dry_run,
        "already_sent": result.already_sent,
        "skipped": "",
        "previous": board.previous.isoformat() if board.previous else None,
        "subject": result.subject,
        "recipients": result.recipients,
        "rag": effective_counts(board),
        "changes": [
            {"kind": c.kind, "ref": c.ref, "before": c.before, "after": c.after}
            for c in board.changes
        ],
        "attention": [
            {
                "ref": v.ref,
                "effective": v.effective,
                "reported": v.reported,
                "derived": v.derived,
                "disagreement": v.disagreement,
            }
            for v in board.attention
        ],
        "counts": {
            "sent": delivery.sent if delivery else 0,
            "failed": delivery.failed if delivery else 0,
            "retrying": delivery.retrying if delivery else 0,
        },
    }
    if as_json:
        _print_json(summary)
    else:
        verb = "would send" if dry_run else ("already sent" if result.already_sent else "planned")
        counts = effective_counts(board)
        click.echo(f"Board digest for {day:%A} {day.day} {day:%B %Y}: {result.subject}")
        click.echo(
            f"  {counts['red']} Red, {counts['amber']} Amber, {counts['green']} Green, "
            f"{counts['none']} not assessed; {len(board.changes)} changes since "
            + (f"{board.previous}" if board.previous else "(first digest)")
        )
        click.echo(f"  {verb} to: {', '.join(result.recipients)}")
        if delivery:
            click.echo(
                f"  delivered to {where(app.settings)}: {delivery.sent} sent, "
                f"{delivery.failed} failed, {delivery.retrying} to retry later"
            )
    for error in delivery.errors if delivery else []:
        click.echo(f"error: {error}", err=True)
    if delivery and (delivery.failed or delivery.stopped_early):
        sys.exit(1)


@main.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "md", "csv"]),
    required=True,
    help="html: a page to open or print; md: Markdown for board papers; csv: a table.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    metavar="FILE",
    help="The file to write.",
)
@as_of_option
@plan_option
@click.pass_obj
def report(app: App, fmt: str, output: Path, as_of: datetime | None, plan_slug: str | None) -> None:
    """Write the board report (the digest's content) to a file for board papers. Changes
    are counted from the last digest sent before the date."""
    from worker.configure import remind_config
    from worker.errors import PlanworkerError
    from worker.io.files import write_text
    from worker.jobs.compose import environment
    from worker.jobs.digest import board_view
    from worker.mail.board import report_csv, report_html, report_markdown

    config = remind_config(app.settings, app.directory())
    with app.session() as session:
        plan = app.plan(session, plan_slug)
        board, _ = board_view(session, plan, config, _date_or_today(as_of, plan.timezone))
    if fmt == "html":
        text = report_html(environment(config), board)
    elif fmt == "md":
        text = report_markdown(board)
    else:
        text = report_csv(board)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PlanworkerError(f"cannot write {output}: {exc.strerror}") from None
    # Whole or not at all, and never through a link planted at the name (worker/io/files.py).
    write_text(output, text, newline="" if fmt == "csv" else None)
    click.echo(f"wrote the board report as of {board.as_of} to {output}")


# --- the service -----------------------------------------------------------------------------


def _service(app: App, plan_slug: str | None) -> Service:
    from worker.configure import mailer, remind_config
    from worker.db import session_factory
    from worker.service import Service, job_specs

    settings = app.settings
    config = remind_config(settings, app.directory())
    app.require_migrated()
    sessions = session_factory(app.engine)
    with sessions() as session:
        plan = app.plan(session, plan_slug)
        plan_id = plan.id
        timezone = settings.service.timezone or plan.timezone
    service = Service(
        sessions=sessions,
        plan_id=plan_id,
        timezone=timezone,
        config=config,
        jobs=job_specs(settings, timezone),
        make_mailer=lambda: mailer(settings),
        lease=timedelta(minutes=settings.service.run_lease_minutes),
    )
    service.check_health = lambda: _health_problems(app, service, _now())
    return service


def _health_problems(app: App, service: Service, now: datetime, deep: bool = False) -> list[str]:
    from worker.configure import mailer
    from worker.health import problems

    grace = timedelta(minutes=app.settings.service.health_grace_minutes)
    # Logging in to the SMTP server is for --deep only; a Maildir check is a local write.
    backend = mailer(app.settings)
    checked = backend if deep or backend.name != "smtp" else None
    return problems(service.sessions, service.plan_id, service.jobs, now, grace, checked)


def _single_sqlite_instance(app: App) -> Any:
    """Hold a lock beside a SQLite database: several instances need PostgreSQL."""
    import fcntl

    from sqlalchemy.engine import make_url

    from worker.errors import PlanworkerError

    url = make_url(app.settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    handle = open(f"{url.database}.run-lock", "w")  # noqa: SIM115 - held until exit
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise PlanworkerError(
            f"another 'planworker run' is using {url.database}: run one instance on SQLite, "
            "or use PostgreSQL for several"
        ) from None
    return handle


@main.command()
@plan_option
@click.option("--replay-from", type=click.DateTime(formats=["%Y-%m-%d"]), hidden=True)
@click.option("--replay-to", type=click.DateTime(formats=["%Y-%m-%d"]), hidden=True)
@click.pass_obj
def run(
    app: App, plan_slug: str | None, replay_from: datetime | None, replay_to: datetime | None
) -> None:
    """Run the service: the jobs in the config file's [jobs] table on their schedules, until
    SIGTERM or SIGINT. Runs missed while it was down are caught up once at start."""
    from zoneinfo import ZoneInfo

    from worker import logs
    from worker.service import replay, serve

    logs.setup(app.settings.service.log_format)
    lock = _single_sqlite_instance(app)
    service = _service(app, plan_slug)
    if replay_from is None:
        serve(service)
    else:
        # Hidden: drive the service through a period of scheduled times on a simulated clock.
        zone = ZoneInfo(service.timezone)
        end = (replay_to or replay_from).replace(hour=23, minute=59, tzinfo=zone)
        replay(service, replay_from.replace(tzinfo=zone), end)
    del lock


@main.command()
@plan_option
@json_option
@click.option(
    "--deep", is_flag=True, help="Also connect and log in to the SMTP server (not every probe)."
)
@click.pass_obj
def health(app: App, plan_slug: str | None, as_json: bool, deep: bool) -> None:
    """Exit 0 when the service is healthy; 1, with the reasons, when a job's run is late or
    failed, mail failed or is stuck in the outbox, or the database is unreachable. Only
    --deep connects to the SMTP server."""
    from worker.errors import PlanworkerError

    try:
        service = _service(app, plan_slug)
        found = _health_problems(app, service, _now(), deep)
    except PlanworkerError as exc:
        found = [str(exc)]
    if as_json:
        _print_json({"healthy": not found, "problems": found})
    else:
        click.echo("healthy" if not found else "\n".join(f"unhealthy: {p}" for p in found))
    if found:
        sys.exit(1)


@main.command("init")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
def init(folder: Path) -> None:
    """Start a new site in FOLDER: a commented config, a contacts file and the example plan.

    Edit the contacts (names and addresses for each lead role), then use the config with
    --config FOLDER/planworker.toml. Existing files are never overwritten.
    """
    from worker.site_init import init_site

    files = init_site(folder)
    config = files.config
    click.echo(f"wrote {config}, {files.contacts} and {files.plan}")
    click.echo("next:")
    click.echo(f"  edit {files.contacts}: the people and addresses behind each lead role")
    for step in ("db upgrade", f"plan import {files.plan}", "config check", "remind --dry-run"):
        click.echo(f"  planworker --config {config} {step}")


@main.group(cls=_Group)
def config() -> None:
    """The configuration files."""


@config.command("check")
@json_option
@click.pass_obj
def config_check(app: App, as_json: bool) -> None:
    """Check the config and contacts files, and show each job's next five run times."""
    from worker.schedule import trigger, upcoming
    from worker.service import JOB_NAMES

    settings = app.settings
    directory = app.directory()
    timezone = settings.service.timezone or "Europe/London"
    now = _now()
    jobs = []
    for name in JOB_NAMES:
        job = getattr(settings.jobs, name)
        times = upcoming(trigger(job.schedule, timezone), now, 5) if job.enabled else []
        jobs.append(
            {
                "job": name,
                "enabled": job.enabled,
                "schedule": job.schedule,
                "next": [t.isoformat() for t in times],
            }
        )
    from worker import config_report
    from worker.configure import template_folders
    from worker.db import shown as shown_url
    from worker.errors import PlanworkerError
    from worker.mail.samples import template_problems

    source = settings.source
    warnings = config_report.warnings(settings, directory, now)
    folders = template_folders(settings)
    broken = template_problems(folders)
    if broken:
        raise PlanworkerError(
            "templates fail with sample data:\n" + "\n".join(f"  {p}" for p in broken)
        )
    summary = {
        "config": str(source.path) if source.path else None,
        "config_found": source.how,
        "database": shown_url(settings.database_url),
        "contacts": str(settings.contacts_file),
        "roles": len(directory.roles),
        "board": len(directory.board),
        "timezone": timezone,
        "jobs": jobs,
        "templates": [str(folder) for folder in folders],
        "policy": config_report.policy(settings),
        "warnings": warnings,
    }
    if as_json:
        _print_json({"ok": True, **summary})
        return
    click.echo(f"config file: {source.path} ({source.how})" if source.path else source.how)
    click.echo(f"database: {summary['database']}")
    click.echo(
        f"config OK; contacts OK ({len(directory.roles)} roles, "
        f"{len(directory.board)} on the board) from {settings.contacts_file}"
    )
    shown_folders = ", ".join(str(folder) for folder in folders)
    click.echo(f"templates OK (every message rendered with sample data) from {shown_folders}")
    click.echo("policy:")
    for line in config_report.policy_lines(settings):
        click.echo(f"  {line}")
    click.echo(f"schedules in {timezone}:")
    for job in jobs:
        if not job["enabled"]:
            click.echo(f"  {job['job']:<10} disabled")
            continue
        shown = ", ".join(datetime.fromisoformat(t).strftime("%a %d %b %H:%M") for t in job["next"])
        click.echo(f"  {job['job']:<10} {job['schedule']:<18} next: {shown}")
    for warning in warnings:
        click.echo(f"warning: {warning}")
