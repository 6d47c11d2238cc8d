"""`planworker status`: set an action's RAG and state, import a status return, history."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from worker.cli.app import App, CommandGroup, main, run_dates, utc_now
from worker.cli.jobs import alert_after
from worker.cli.options import as_of_option, json_option, plan_option

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from worker.models import Plan


@main.group(cls=CommandGroup)
def status() -> None:
    """Progress: set an action's RAG and state, import a status return, show history."""


@status.command("set")
@click.argument("action_id")
@click.option("--rag", help="Green, Amber or Red (G, A, R).")
@click.option(
    "--state",
    "state_",
    help="not started, in progress, on hold (say why in --note), completed or dropped.",
)
@click.option("--note", required=True, help="What happened: recorded in the history.")
@click.option("--by", required=True, help="Who reports it.")
@click.option("--no-alert", is_flag=True, help="Do not send the Red alert now.")
@click.option(
    "--confirm-date",
    is_flag=True,
    help="The target date is right as written, though it is before the start date.",
)
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
    confirm_date: bool,
    as_of: datetime | None,
    plan_slug: str | None,
) -> None:
    """Record a progress update for one action (ACTION_ID as in the plan, e.g. WS1-01).

    If it leaves the action Red, its strategic lead is told at once and the board in its next
    digest (unless --no-alert; the daily escalation job would tell them anyway).
    --confirm-date releases a target that reads as before its start (held back from overdue
    reminders and Red until then, see `plan check`); the note says why, in the history.
    """
    from worker.errors import PlanworkerError
    from worker.plan.data import parse_rag, parse_state
    from worker.store.status import StatusUpdate, apply_updates, confirm_dates

    try:
        parsed_rag = parse_rag(rag) if rag else None
        parsed_state = parse_state(state_) if state_ else None
    except ValueError as exc:
        raise PlanworkerError(str(exc)) from None
    if not note.strip() or not by.strip():
        raise PlanworkerError("--note and --by must not be empty")
    with app.session() as session:
        plan, today = plan_on(app, session, plan_slug, as_of)
        update = StatusUpdate(
            action_id.strip(),
            parsed_rag,
            parsed_state,
            note.strip(),
            by.strip(),
            changed_at(as_of, today, plan.timezone),
            "cli",
        )
        if confirm_date and not confirm_dates(session, plan.id, update.ref):
            raise PlanworkerError(f"no action {update.ref!r} in this plan")
        result = apply_updates(session, plan.id, [update], ["command line"], "status set")
        session.commit()
    if confirm_date:
        click.echo(f"{action_id}: target date confirmed as written")
    click.echo(f"{action_id}: " + ("recorded" if result.changed else "no change (same as now)"))
    if result.changed and not no_alert:
        alert_after(app, plan_slug, as_of, result.refs or [])


def plan_on(
    app: App, session: Session, plan_slug: str | None, as_of: datetime | None
) -> tuple[Plan, date]:
    """The plan and today's date in its zone; a change dated too far ahead is refused."""
    plan = app.plan(session, plan_slug)
    _, today = run_dates(app, as_of, plan.timezone, check=as_of is not None)
    return plan, today


def changed_at(as_of: datetime | None, today: date, timezone: str) -> datetime:
    """When a change given --as-of happened: midday that day (as a dated status return row
    is recorded), or now when it is today's."""
    from zoneinfo import ZoneInfo

    if as_of is None or as_of.date() == today:
        return utc_now()
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

    from worker.cli.output import print_json, render_status_return, status_return_json
    from worker.status_return import read_status_return
    from worker.store.status import StatusUpdate, apply_updates

    with app.session() as session:
        plan, today = plan_on(app, session, plan_slug, as_of)
        zone = ZoneInfo(plan.timezone)
        read = read_status_return(path, today=today)
        now = utc_now()
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
        print_json(status_return_json(result))
    else:
        click.echo(render_status_return(path, result))
    for warning in read.warnings:
        click.echo(f"warning: {warning}", err=True)
    if result.changed and not no_alert:
        alert_after(app, plan_slug, as_of, result.refs or [])


@status.command("history")
@click.argument("action_id")
@plan_option
@json_option
@click.pass_obj
def status_history(app: App, action_id: str, plan_slug: str | None, as_json: bool) -> None:
    """Every change of an action's RAG and state: who, when, what, and their note."""
    from worker.cli.output import history_json, print_json
    from worker.store.status import history, render_history

    with app.session(reads_only=True) as session:
        plan = app.plan(session, plan_slug)
        changes = history(session, plan.id, action_id.strip())
    if as_json:
        print_json(history_json(action_id, changes))
    else:
        click.echo(render_history(action_id, changes, plan.timezone))
