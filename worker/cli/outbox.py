"""`planworker outbox`: the messages, newest first, and why each was sent."""

from __future__ import annotations

import click

from worker.cli.app import App, main
from worker.cli.options import json_option, plan_option


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
    from worker.cli.output import outbox_json, print_json, render_outbox
    from worker.store.outbox import counts, list_messages

    with app.session(reads_only=True) as session:
        plan_id = app.plan(session, plan_slug).id
        found = list_messages(
            session, plan_id=plan_id, state=state, recipient=recipient, limit=limit
        )
        totals = counts(session, plan_id)
    if as_json:
        print_json(outbox_json(found, totals))
    else:
        click.echo(render_outbox(found, totals))
