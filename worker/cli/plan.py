"""`planworker plan`: import, export, show, check and re-baseline action plans."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import click

from worker.cli.app import App, CommandGroup, main
from worker.cli.options import as_of_option, json_option, plan_option


@main.group(cls=CommandGroup)
def plan() -> None:
    """Import, export, show, check and re-baseline action plans."""


# How often a terminal is told how far a long import has got.
PROGRESS_SECONDS = 2.0


def _terminal_progress(
    path: Path, every: float = PROGRESS_SECONDS
) -> Callable[[int, int, bool], None] | None:
    """Progress of a long import on standard error, for a person watching a terminal only:
    a log or a pipe gets the summary alone. Actions read and written, every few seconds,
    and the total at the end."""
    if not sys.stderr.isatty():
        return None
    click.echo(f"reading {path} ...", err=True)
    last = time.monotonic()

    def report(read: int, written: int, done: bool) -> None:
        nonlocal last
        now = time.monotonic()
        if done or now - last >= every:
            last = now
            line = f"\rread {read:,} actions; writing actions: {written:,} of {read:,}"
            click.echo(line, nl=done, err=True)

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
    from worker.cli.output import import_json, print_json, render_import
    from worker.io.terminal import printable
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
            print_json(found)
        else:
            click.echo(printable(render_diff(found)))
        return
    if directory is None:
        result.warnings.append(
            f"contacts file {app.settings.contacts_file} not found: no one can be reminded yet"
        )
    if as_json:
        print_json(import_json(result))
        return
    click.echo(render_import(result))
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

    with app.session(reads_only=True) as session:
        warnings = export_plan(
            session, app.plan(session, plan_slug), fmt, output, app.settings.dates.month_day
        )
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)


@plan.command("show")
@plan_option
@json_option
@click.pass_obj
def plan_show(app: App, plan_slug: str | None, as_json: bool) -> None:
    """Work streams with their action counts, the dates read, and a count of findings."""
    from worker.cli.output import print_json
    from worker.io.terminal import printable
    from worker.plan.report import plan_summary, render_summary

    with app.session(reads_only=True) as session:
        summary = plan_summary(
            session, app.plan(session, plan_slug), app.directory(), app.settings.dates.month_day
        )
    if as_json:
        print_json(summary)
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
    from worker.cli.output import print_json
    from worker.io.terminal import printable
    from worker.plan.check import check_plan
    from worker.plan.report import render_check
    from worker.store.plan import load_plan
    from worker.store.status import confirmed_refs

    with app.session(reads_only=True) as session:
        found = app.plan(session, plan_slug)
        doc = load_plan(session, found)
        confirmed = confirmed_refs(session, found.id)
    report = check_plan(doc, app.directory(), app.settings.dates.month_day, confirmed)
    if as_json:
        print_json({"plan": doc.info.slug, **report.as_json()})
    else:
        click.echo(printable(render_check(doc, report)))
    if strict and report.findings:
        sys.exit(1)


@plan.command("rebaseline")
@click.argument("action_id")
@click.option(
    "--to", "to", required=True, help="The new target: 31 October 2012, 2012-10-31, October 2012."
)
@click.option("--note", required=True, help="Why the target moves: recorded in the history.")
@click.option("--by", required=True, help="Who decided the move.")
@as_of_option
@plan_option
@click.pass_obj
def plan_rebaseline(
    app: App,
    action_id: str,
    to: str,
    note: str,
    by: str,
    as_of: datetime | None,
    plan_slug: str | None,
) -> None:
    """Move one action's target date (ACTION_ID as in the plan, e.g. WS1-01) on purpose.

    Its target text and due date change, and its history records the old and the new target
    with the note and name, so reminders follow the new date and the board reads
    "re-baselined from ... to ...". A later import of a file with the old target moves it back
    (and records that too): correct the plan file as well.
    """
    from worker.cli.status import changed_at, plan_on
    from worker.io.terminal import printable
    from worker.store.rebaseline import Rebaseline, rebaseline
    from worker.store.status import target_change

    with app.session() as session:
        found, today = plan_on(app, session, plan_slug, as_of)
        change = Rebaseline(
            action_id.strip(),
            to,
            note.strip(),
            by.strip(),
            changed_at(as_of, today, found.timezone),
        )
        moved = rebaseline(session, found.id, change, app.settings.dates.month_day)
        session.commit()
    said = target_change(moved.target_from, moved.target_to) or "no change (target already so)"
    click.echo(printable(f"{moved.ref}: {said}"))
