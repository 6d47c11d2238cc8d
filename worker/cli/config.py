"""Setting up a site: `planworker init`, `db upgrade` and `config check`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from worker.cli.app import App, CommandGroup, main, utc_now
from worker.cli.options import json_option


@main.group(cls=CommandGroup)
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(app: App) -> None:
    """Create or migrate the database schema to the latest version."""
    from worker.migrate import upgrade
    from worker.schema_version import current_revision

    app.creating = True
    upgrade(app.engine)
    click.echo(f"database schema at revision {current_revision(app.engine)}")


@main.command("init")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
def init(folder: Path) -> None:
    """Start a new site in FOLDER: a commented config, a contacts file and the example plan.

    Edit the contacts (names and addresses for each lead role), then use the config with
    --config FOLDER/planworker.toml. Existing files are never overwritten.
    """
    from worker.cli.output import render_init
    from worker.site_init import init_site

    click.echo(render_init(init_site(folder)))


@main.group(cls=CommandGroup)
def config() -> None:
    """The configuration files."""


def _schedules(app: App, timezone: str, now: datetime) -> list[dict[str, Any]]:
    """Each job of the [jobs] table: enabled or not, its schedule, its next five runs."""
    from worker.schedule import trigger, upcoming
    from worker.service import JOB_NAMES

    jobs = []
    for name in JOB_NAMES:
        job = getattr(app.settings.jobs, name)
        times = upcoming(trigger(job.schedule, timezone), now, 5) if job.enabled else []
        jobs.append(
            {
                "job": name,
                "enabled": job.enabled,
                "schedule": job.schedule,
                "next": [t.isoformat() for t in times],
            }
        )
    return jobs


@config.command("check")
@json_option
@click.pass_obj
def config_check(app: App, as_json: bool) -> None:
    """Check the config and contacts files, and show each job's next five run times."""
    from worker import config_report
    from worker.cli.output import print_json, render_config_check
    from worker.configure import template_folders
    from worker.db import shown as shown_url
    from worker.errors import PlanworkerError
    from worker.mail.samples import template_problems

    settings = app.settings
    directory = app.directory()
    timezone = settings.service.timezone or "Europe/London"
    now = utc_now()
    jobs = _schedules(app, timezone, now)
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
        print_json({"ok": True, **summary})
    else:
        click.echo(render_config_check(summary, config_report.policy_lines(settings)))
