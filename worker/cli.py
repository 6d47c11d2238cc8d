"""The `planworker` command: parse arguments, call one function, print the result.

Heavy modules are imported inside commands so that `planworker --help` stays fast.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from worker.contacts import Directory
    from worker.models import Plan
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

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from worker.db import make_engine

            self._engine = make_engine(self.settings.database_url)
        return self._engine

    def session(self, *, migrated: bool = True) -> Session:
        from worker.db import session_factory

        if migrated:
            self.require_migrated()
        return session_factory(self.engine)()

    def require_migrated(self) -> None:
        from sqlalchemy.exc import SQLAlchemyError

        from worker.errors import PlanworkerError
        from worker.migrate import current_revision, head_revision

        try:
            current = current_revision(self.engine)
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

        return load_directory(self.settings.contacts_file)

    def plan(self, session: Session, slug: str | None) -> Plan:
        from worker.plan.store import find_plan

        return find_plan(session, slug or self.settings.plan or None)


class _Group(click.Group):
    """Shows planworker's own errors as one clear message, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from worker.errors import PlanworkerError

        try:
            return super().invoke(ctx)
        except PlanworkerError as exc:
            raise click.ClickException(str(exc)) from None


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
    help="Config file (default: $PLANWORKER_CONFIG, else config/planworker.toml).",
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

    upgrade(app.engine)
    click.echo(f"database schema at revision {current_revision(app.engine)}")


# --- plan ------------------------------------------------------------------------------------


@main.group(cls=_Group)
def plan() -> None:
    """Import, export, show and check action plans."""


@plan.command("import")
@click.argument("path", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@plan_option
@click.option("--by", default="", help="Who is importing (recorded with any status changes).")
@json_option
@click.pass_obj
def plan_import(app: App, path: Path, plan_slug: str | None, by: str, as_json: bool) -> None:
    """Import a plan from the seed YAML format, CSV or XLSX.

    All or nothing: a file with any bad row imports nothing, and the error names the row,
    column and reason. Importing the same file again changes nothing.
    """
    from worker.plan.importer import import_file

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
        )
    if directory is None:
        result.warnings.append(
            f"contacts file {app.settings.contacts_file} not found: no one can be reminded yet"
        )
    if as_json:
        _print_json(result.__dict__)
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
        click.echo(render_summary(summary))


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
    from worker.plan.store import load_plan

    with app.session() as session:
        doc = load_plan(session, app.plan(session, plan_slug))
    report = check_plan(doc, app.directory(), app.settings.dates.month_day)
    if as_json:
        _print_json({"plan": doc.info.slug, **report.as_json()})
    else:
        click.echo(render_check(doc, report))
    if strict and report.findings:
        sys.exit(1)


# --- reminders -------------------------------------------------------------------------------

as_of_option = click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="The date to act as of (default: today in the plan's time zone).",
)


def _date_or_today(value: datetime | None, timezone: str) -> date:
    from zoneinfo import ZoneInfo

    return value.date() if value else datetime.now(ZoneInfo(timezone)).date()


def _now() -> datetime:
    return datetime.now(UTC)


@main.command()
@as_of_option
@click.option("--dry-run", is_flag=True, help="Render and list what would be sent; send nothing.")
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
    from worker.configure import mailer, remind_config, where
    from worker.db import session_factory
    from worker.outbox import counts
    from worker.remind import run_reminders
    from worker.summaries import remind_json, render_remind

    config = remind_config(app.settings, app.directory())
    app.require_migrated()
    sessions = session_factory(app.engine)
    with sessions() as session:
        plan = app.plan(session, plan_slug)
        plan_id, timezone = plan.id, plan.timezone
    day = _date_or_today(as_of, timezone)
    backend = None if dry_run else mailer(app.settings, sys.stderr if as_json else sys.stdout)
    result = run_reminders(
        sessions, plan_id, config, day, clock=_now, mailer=backend, dry_run=dry_run
    )
    with sessions() as session:
        outbox_counts = counts(session, plan_id)
    if as_json:
        _print_json(remind_json(result, outbox_counts, dry_run))
    else:
        click.echo(render_remind(result, outbox_counts, where(app.settings), dry_run))
    delivery = result.delivery
    for error in result.render_errors + (delivery.errors if delivery else []):
        click.echo(f"error: {error}", err=True)
    if result.render_errors or (delivery and (delivery.failed or delivery.stopped_early)):
        sys.exit(1)


@main.command()
@click.option(
    "--from",
    "first",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="First day to replay.",
)
@click.option(
    "--to",
    "last",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="Last day to replay.",
)
@plan_option
@json_option
@click.pass_obj
def simulate(
    app: App, first: datetime, last: datetime, plan_slug: str | None, as_json: bool
) -> None:
    """Replay the reminder job on every working day from --from to --to, on a scratch copy of
    the database (the real one is not changed), and print who would get what, when."""
    from worker.configure import remind_config
    from worker.errors import PlanworkerError
    from worker.simulate import simulate as replay
    from worker.summaries import render_timeline, timeline_json

    if last < first:
        raise PlanworkerError("--to must not be before --from")
    if (last - first).days > MAX_SIMULATED_DAYS:
        raise PlanworkerError(f"simulate at most {MAX_SIMULATED_DAYS} days at a time")
    config = remind_config(app.settings, app.directory())
    with app.session() as session:
        plan = app.plan(session, plan_slug)
        plan_id, timezone = plan.id, plan.timezone
    timeline = replay(app.engine, plan_id, timezone, config, first.date(), last.date())
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
    from worker.outbox import counts, list_messages
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
        click.echo(render_message(message, items))
    click.echo("outbox: " + ", ".join(f"{n} {s}" for s, n in totals.items()))
