"""`planworker run` and `planworker health`: the service and its health check."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from worker.cli.app import App, main, utc_now
from worker.cli.options import json_option, plan_option

if TYPE_CHECKING:
    from worker.service import Service


def _service(app: App, plan_slug: str | None) -> Service:
    from worker.cli.jobs import open_plan
    from worker.configure import mailer
    from worker.service import Service, job_specs

    settings = app.settings
    context = open_plan(app, plan_slug)
    timezone = settings.service.timezone or context.timezone
    service = Service(
        sessions=context.sessions,
        plan_id=context.plan_id,
        timezone=timezone,
        config=context.config,
        jobs=job_specs(settings, timezone),
        make_mailer=lambda: mailer(settings),
        lease=timedelta(minutes=settings.service.run_lease_minutes),
    )
    service.check_health = lambda: _health_problems(app, service, utc_now())
    return service


def _health_problems(app: App, service: Service, now: datetime, deep: bool = False) -> list[str]:
    from worker.configure import mailer
    from worker.db import session_factory
    from worker.health import problems

    grace = timedelta(minutes=app.settings.service.health_grace_minutes)
    # Logging in to the SMTP server is for --deep only; a Maildir check is a local write.
    backend = mailer(app.settings)
    checked = backend if deep or backend.name != "smtp" else None
    # Read-only: a daily run's batch holding SQLite's write lock must not make it unhealthy.
    sessions = session_factory(app.engine, reads_only=True)
    return problems(sessions, service.plan_id, service.jobs, now, grace, checked)


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
    from worker.cli.output import print_json, render_health
    from worker.errors import PlanworkerError

    try:
        service = _service(app, plan_slug)
        found = _health_problems(app, service, utc_now(), deep)
    except PlanworkerError as exc:
        found = [str(exc)]
    if as_json:
        print_json({"healthy": not found, "problems": found})
    else:
        click.echo(render_health(found))
    if found:
        sys.exit(1)
