"""`planworker web`: serve the leads' page (docs/web.md), and print a lead's signed link."""

from __future__ import annotations

import click

from worker.cli.app import App, CommandGroup, main, today_in, utc_now


@main.group(cls=CommandGroup, invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--forwarded-allow-ips",
    default="127.0.0.1",
    show_default=True,
    metavar="IPS",
    help="The proxies whose X-Forwarded-For/-Proto headers are believed (comma-separated, or *).",
)
@click.pass_context
def web(ctx: click.Context, host: str, port: int, forwarded_allow_ips: str) -> None:
    """Serve the page where leads report progress from their signed links, until
    SIGTERM/SIGINT. Run it behind the council's HTTPS proxy (web.base_url)."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from worker import logs
    from worker.web.app import create_app

    app: App = ctx.obj
    logs.setup(app.settings.service.log_format)
    site = create_app(app)
    click.echo(f"planworker web: serving on http://{host}:{port}", err=True)
    # No access log: it would write the path, and a lead's link carries its token there
    # (the app logs each request with the token cut out).
    uvicorn.run(
        site,
        host=host,
        port=port,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        log_config=None,
        server_header=False,
    )


@web.command("link")
@click.argument("email")
@click.option(
    "--purpose",
    type=click.Choice(["lead", "board", "ack"]),
    default="lead",
    show_default=True,
    help="lead: the actions routed to EMAIL, to report on; board: the board's page (a "
    "[[board]] member); ack: the escalated actions a strategic lead or board member may "
    "acknowledge.",
)
@click.pass_obj
def web_link(app: App, email: str, purpose: str) -> None:
    """Print the signed link to EMAIL's page (their actions, and the form to report on
    them; with --purpose board, the board's read-only page; with --purpose ack, the
    escalated actions to acknowledge), valid for web.link_days. For administrators: anyone
    holding it can use it."""
    from worker.errors import PlanworkerError
    from worker.store.facts import load_facts, load_schedule, plan_actions
    from worker.web.access import routed_refs
    from worker.web.ack import acknowledger
    from worker.web.links import BOARD, link, sign

    settings = app.settings.web
    if not settings.base_url:
        raise PlanworkerError(
            "web.base_url is not set: the public https:// address of `planworker web` "
            "(PLANWORKER_WEB__BASE_URL)"
        )
    key = settings.secret_key()
    directory = app.directory()
    if purpose == BOARD:
        if email.strip().lower() not in {p.email.lower() for p in directory.board}:
            raise PlanworkerError(
                f"{email} is not in the contacts file's [[board]] list: "
                "a board link would be refused"
            )
        with app.session() as session:
            plan = app.plan(session, None)
        click.echo(link(settings.base_url, sign(key, plan.id, email, BOARD, utc_now()), BOARD))
        return
    with app.session() as session:
        plan = app.plan(session, None)
        schedule = load_schedule(session, plan_actions(plan.id))
        if purpose == "ack":
            # Who may acknowledge depends on the strategic leads alone, not on the day; the
            # day is still the plan's, as everywhere else.
            facts = load_facts(session, plan_actions(plan.id), plan.id, today_in(plan.timezone))
            if not acknowledger(facts, directory, email).anyone:
                click.echo(
                    f"warning: {email.strip().lower()} is neither on the board nor a strategic "
                    "lead of this plan",
                    err=True,
                )
        elif not (routed := routed_refs(schedule, directory, email)).refs:
            click.echo(f"warning: no action of this plan is routed to {routed.email}", err=True)
    token = sign(key, plan.id, email, purpose, utc_now())
    click.echo(link(settings.base_url, token, purpose))
