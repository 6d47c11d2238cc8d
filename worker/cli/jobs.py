"""The commands that run jobs: remind, escalate, digest, simulate and the board report.

Every call the command line makes into worker/jobs/ is here, and every run goes through
`run_job`, which sets up a `Request` the one way (the Red alert of `status` too).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from worker.cli.app import App, main, run_dates, utc_now
from worker.cli.options import as_of_option, day_option, dry_run_option, json_option, plan_option

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from worker.jobs.config import RemindConfig
    from worker.jobs.request import RequestResult
    from worker.jobs.results import JobResult

# A simulation replays day by day; a few years is plenty and keeps it quick.
MAX_SIMULATED_DAYS = 5 * 366


@dataclass(frozen=True, slots=True)
class PlanContext:
    """What a job needs from the command line: the database, the plan, the job config."""

    sessions: sessionmaker[Session]
    plan_id: int
    timezone: str  # the plan's
    config: RemindConfig


def open_plan(app: App, plan_slug: str | None) -> PlanContext:
    """Read the config and contacts, check the schema is current, and find the plan."""
    from worker.configure import remind_config
    from worker.db import session_factory

    config = remind_config(app.settings, app.directory())
    app.require_migrated()
    # Found by a reader: `planworker health` (the container's probe) must not wait for a
    # run that is writing.
    with session_factory(app.engine, reads_only=True)() as session:
        plan = app.plan(session, plan_slug)
        return PlanContext(session_factory(app.engine), plan.id, plan.timezone, config)


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How to run a job, as the command line gives it."""

    as_of: datetime | None
    dry_run: bool
    plan_slug: str | None
    as_json: bool
    only: list[str] | None = None  # only these action refs (the Red alert after a change)


def run_options(command: Callable[[App, RunOptions], None]) -> Callable[..., None]:
    """The options every job command takes (--as-of, --dry-run, --plan, --json), handed to
    the command as one RunOptions."""

    @functools.wraps(command)
    def parsed(
        app: App, as_of: datetime | None, dry_run: bool, plan_slug: str | None, as_json: bool
    ) -> None:
        command(app, RunOptions(as_of, dry_run, plan_slug, as_json))

    options = (as_of_option, dry_run_option, plan_option, json_option)
    decorated: Callable[..., None] = click.pass_obj(parsed)
    for option in reversed(options):  # listed in --help in this order
        decorated = option(decorated)
    return decorated


# The items of each message a command's summary names; the rest are counted ("and 96 more"):
# a large plan's run would otherwise hold every item to the end, to print a wall of refs.
REPORTED_ITEMS = 25


def run_job(app: App, job: str, run: RunOptions) -> tuple[JobResult, PlanContext]:
    """Run a job for a date through the one entry point (worker/jobs/catalogue.py)."""
    from worker.configure import mailer
    from worker.jobs import catalogue
    from worker.jobs.pipeline import Request

    context = open_plan(app, run.plan_slug)
    day, today = run_dates(app, run.as_of, context.timezone, check=not run.dry_run)
    # With --json standard output is the summary alone: the backend reports on stderr.
    out = sys.stderr if run.as_json else sys.stdout
    backend = None if run.dry_run else mailer(app.settings, out)
    request = Request(
        context.sessions,
        context.plan_id,
        context.config,
        day,
        utc_now,
        backend,
        run.dry_run,
        only=run.only,
        today=today,
        keep_items=REPORTED_ITEMS,
    )
    return catalogue.run(job, request), context


def remind_job(app: App, job: str, run: RunOptions) -> None:
    """Run a job that writes to people about actions (remind, escalate, alert) and report."""
    from worker.cli.output import print_json, remind_json, render_remind
    from worker.configure import where
    from worker.jobs.results import RemindResult
    from worker.store.outbox import counts

    result, context = run_job(app, job, run)
    assert isinstance(result, RemindResult)
    with context.sessions() as session:
        outbox_counts = counts(session, context.plan_id)
    quiet = job == "alert" and not result.planned  # after a status change that is not Red
    if run.as_json:
        print_json(remind_json(result, outbox_counts, run.dry_run))
    elif not quiet:
        click.echo(render_remind(result, outbox_counts, where(app.settings), run.dry_run, job))
    delivery = result.delivery
    for error in result.render_errors + (delivery.errors if delivery else []):
        click.echo(f"error: {error}", err=True)
    if result.render_errors or (delivery and (delivery.failed or delivery.stopped_early)):
        sys.exit(1)


def alert_after(app: App, plan_slug: str | None, as_of: datetime | None, refs: list[str]) -> None:
    """Tell the strategic lead and the board at once if these actions are now Red."""
    if app.settings.escalation.red_alert:
        remind_job(app, "alert", RunOptions(as_of, False, plan_slug, False, only=refs))


def alert_run(
    app: App, plan_slug: str | None, as_of: datetime | None, refs: list[str]
) -> JobResult | None:
    """`alert_after` without printing, for the web page: the same Red alert job after a
    change of progress; None when Red alerts are off."""
    if not app.settings.escalation.red_alert:
        return None
    result, _ = run_job(app, "alert", RunOptions(as_of, False, plan_slug, True, only=refs))
    return result


@main.command()
@run_options
def remind(app: App, run: RunOptions) -> None:
    """Send the lead reminders due on a date, then deliver anything waiting in the outbox.

    Each lead gets one message listing all their actions that are overdue, due soon or due
    for review. Running it again for the same date sends nothing new.
    """
    remind_job(app, "remind", run)


@main.command()
@run_options
def escalate(app: App, run: RunOptions) -> None:
    """Escalate Amber, Red and long-overdue actions to their work stream's strategic lead
    (one message each, weekly while they stay so), and tell the strategic lead and the board
    at once when an action turns Red. Running it again for the same date sends nothing new.
    """
    remind_job(app, "escalate", run)


@main.command()
@run_options
def digest(app: App, run: RunOptions) -> None:
    """Send the project board its escalation digest for a date: every Amber and Red action,
    what changed since the previous digest, and a RAG summary per work stream. Once per
    date: running it again sends nothing new."""
    from worker.cli.output import digest_json, print_json, render_digest
    from worker.configure import where
    from worker.jobs.results import DigestResult

    result, _ = run_job(app, "digest", run)
    assert isinstance(result, DigestResult)
    if run.as_json:
        print_json(digest_json(result, run.dry_run))
    else:
        click.echo(render_digest(result, run.dry_run, where(app.settings)))
    delivery = result.delivery
    for error in delivery.errors if delivery else []:
        click.echo(f"error: {error}", err=True)
    if delivery and (delivery.failed or delivery.stopped_early):
        sys.exit(1)


@main.command()
@run_options
def request(app: App, run: RunOptions) -> None:
    """Ask each lead with open actions for a status return before the board digest (their
    actions, last reports, link and a spreadsheet to fill in), and chase once those who have
    not returned by the chase day. Once per lead per week: running it again sends nothing new.
    """
    from worker.cli.output import print_json
    from worker.jobs.request import RequestResult

    result, _ = run_job(app, "request", run)
    assert isinstance(result, RequestResult)
    cycle = result.cycle
    assert cycle is not None
    if run.as_json:
        print_json(
            {
                "as_of": result.as_of.isoformat(),
                "digest": cycle.digest.isoformat(),
                "request_day": cycle.request.isoformat(),
                "chase_day": cycle.chase.isoformat(),
                "step": result.step,
                "dry_run": run.dry_run,
                "messages": [{"to": to, "kind": kind} for to, kind in result.sent_to],
                "returned": result.returned,
                "errors": result.render_errors,
            }
        )
    else:
        click.echo(request_report(result, run.dry_run))
    delivery = result.delivery
    for error in result.render_errors + (delivery.errors if delivery else []):
        click.echo(f"error: {error}", err=True)
    if result.render_errors or (delivery and (delivery.failed or delivery.stopped_early)):
        sys.exit(1)


def request_report(result: RequestResult, dry_run: bool) -> str:
    """What a request run did, for people."""
    cycle = result.cycle
    assert cycle is not None
    head = (
        f"status returns for the board digest of {cycle.digest:%A %-d %B %Y}: requests on "
        f"{cycle.request:%a %-d %b}, chasers from {cycle.chase:%a %-d %b}"
    )
    lines = [head]
    if result.step:
        lines.append(f"{len(result.returned)} lead(s) have returned this week")
    else:
        lines.append(f"no requests or chasers on {result.as_of:%A %-d %B %Y}")
    verb = "would send" if dry_run else "sent"
    names = {"request": "request", "chase": "chaser", "noreturn": "'no return' notice"}
    lines += [f"{verb} {names.get(kind, kind)} to {to}" for to, kind in result.sent_to]
    if not result.sent_to:
        lines.append("nothing new to send")
    return "\n".join(lines)


@main.command()
@day_option("--from", "first", "First day to replay.", required=True)
@day_option("--to", "last", "Last day to replay.", required=True)
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
    from worker.cli.output import print_json, render_timeline, timeline_json
    from worker.errors import PlanworkerError
    from worker.jobs.simulate import simulate as replay
    from worker.jobs.volume import per_person, per_week

    if last < first:
        raise PlanworkerError("--to must not be before --from")
    if (last - first).days > MAX_SIMULATED_DAYS:
        raise PlanworkerError(f"simulate at most {MAX_SIMULATED_DAYS} days at a time")
    context = open_plan(app, plan_slug)
    timeline = replay(
        app.engine,
        context.plan_id,
        context.timezone,
        context.config,
        first.date(),
        last.date(),
        jobs=jobs or ("remind", "escalate", "digest"),
        digest_weekday=context.config.digest_weekday,
    )
    people, weeks = per_person(timeline, context.config.days), per_week(timeline)
    if as_json:
        print_json(timeline_json(timeline, people, weeks))
    else:
        click.echo(render_timeline(timeline, people, weeks))


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

    config = remind_config(app.settings, app.directory(), links=False)
    with app.session(reads_only=True) as session:
        plan = app.plan(session, plan_slug)
        day, _ = run_dates(app, as_of, plan.timezone, check=False)
        board, _ = board_view(session, plan, config, day)
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
