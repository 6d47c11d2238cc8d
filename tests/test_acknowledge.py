"""Acknowledgements (issue 17): a strategic lead acknowledges an escalated action from their
signed /ack link, with a note; the weekly escalation is then not repeated to them until the
action changes (its lead reports again), and the board's digest says who acknowledged it. A
GET records nothing, and a lead's link (or someone who is neither a strategic lead nor on the
board) cannot acknowledge. Against the real app served by uvicorn, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
import urllib.request
from dataclasses import replace
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from sqlalchemy import create_engine, func, select

from tests.conftest import Cli
from tests.test_red_alerts import AD, CHAIR, run
from tests.test_reminder_rules import facts
from tests.test_web import KEY, LEAD_EMAIL, OWN, Served, fetch, ours, served, token_of
from worker.models import Acknowledgement
from worker.rules.acknowledge import Acknowledged
from worker.rules.reminders import ActionFacts
from worker.web.links import ACK, LEAD, sign

__all__ = ["served"]  # the fixture, shared with tests/test_web.py

# WS1's strategic lead in the shipped contacts (on the board too: Monday is the board's
# digest morning, so their escalations come on Tuesdays).
STRATEGIC = "assistant-director-childrens-services-operations@example.org"
BOARD = "director-of-nursing-and-quality@example.org"


def escalated_to(cli: Cli, day: str, email: str = STRATEGIC) -> list[str]:
    """The refs `escalate` sends `email` on `day`."""
    result = json.loads(cli("escalate", "--as-of", day, "--json").stdout)
    return [
        item["ref"]
        for message in result["messages"]
        if message["to"] == email
        for item in message["items"]
    ]


def acknowledgements(cli: Cli) -> int:
    engine = create_engine(cli.db_url)
    try:
        with engine.connect() as connection:
            count = connection.execute(select(func.count()).select_from(Acknowledgement))
            return int(count.scalar_one())
    finally:
        engine.dispose()


def post_ack(served: Served, fields: dict[str, str]) -> tuple[int, str]:
    data = urllib.parse.urlencode(fields).encode()
    request = urllib.request.Request(f"{served.base_url}/ack", data=data, method="POST")
    return fetch(request)


def texts(cli: Cli) -> list[str]:
    """The plain-text part of every message in the Maildir."""
    found = []
    for path in sorted((cli.maildir / "new").iterdir()):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        body = message.get_body(("plain",))
        assert body is not None
        found.append(str(body.get_content()))
    return found


def test_an_acknowledged_escalation_is_not_repeated_until_the_action_changes(
    served: Served,
) -> None:
    cli = served.cli
    lead = ("--by", "Head of QA", "--no-alert")
    cli(
        "status",
        "set",
        OWN,
        "--rag",
        "amber",
        "--note",
        "Audit slipped",
        *lead,
        "--as-of",
        "2012-10-01",
    )
    assert OWN in escalated_to(cli, "2012-10-02")

    served.now = datetime(2012, 10, 3, 9, tzinfo=UTC)
    token = sign(KEY, 1, STRATEGIC, ACK, served.now)
    # A mail scanner opens the link first: the page lists the action, and nothing is recorded.
    for _ in range(2):
        status, page = fetch(f"{served.base_url}/ack/{token}")
        assert status == 200
        assert OWN in page and "Audit slipped" in page
    assert acknowledgements(cli) == 0

    status, page = post_ack(served, {"token": token, "ref": OWN, "note": ""})
    assert status == 400 and acknowledgements(cli) == 0  # a note is required
    status, page = post_ack(served, {"token": token, "ref": OWN, "note": "x" * 1001})
    assert status == 400 and acknowledgements(cli) == 0  # and bounded
    note = "Spoke to the Head of QA: audit re-booked"
    status, page = post_ack(served, {"token": token, "ref": OWN, "note": note})
    assert status == 200 and "acknowledged" in page
    status, page = post_ack(served, {"token": token, "ref": OWN, "note": note})
    assert status == 200 and acknowledgements(cli) == 1  # a resubmitted form: still one

    # The board's digest says who acknowledged it, and when.
    cli("digest", "--as-of", "2012-10-08")
    digest = "\n".join(t for t in texts(cli) if "Needs the board" in t)
    assert "acknowledged by" in digest and "on 3 October 2012" in digest

    # The next week's escalation does not repeat it to them...
    assert OWN not in escalated_to(cli, "2012-10-09")
    # ...until its lead reports a change.
    cli("status", "set", OWN, "--note", "Auditor off sick", *lead, "--as-of", "2012-10-12")
    assert OWN in escalated_to(cli, "2012-10-16")


def test_only_a_strategic_lead_or_board_member_with_an_ack_link_can_acknowledge(
    served: Served,
) -> None:
    cli = served.cli
    cli(
        "status",
        "set",
        OWN,
        "--rag",
        "amber",
        "--note",
        "Audit slipped",
        "--by",
        "Head of QA",
        "--no-alert",
        "--as-of",
        "2012-10-01",
    )
    served.now = datetime(2012, 10, 3, 9, tzinfo=UTC)
    fields = {"ref": OWN, "note": "Seen"}
    # The lead's own link is for reporting, not acknowledging.
    lead_token = sign(KEY, 1, LEAD_EMAIL, LEAD, served.now)
    assert post_ack(served, {"token": lead_token, **fields})[0] == 403
    # An ack link for the lead, who is neither a strategic lead nor on the board.
    assert (
        post_ack(served, {"token": sign(KEY, 1, LEAD_EMAIL, ACK, served.now), **fields})[0] == 403
    )
    # A strategic lead's ack link is no good on the lead's form either.
    strategic = sign(KEY, 1, STRATEGIC, ACK, served.now)
    status, _ = served.post({"token": strategic, "ref": OWN, "rag": "green", "note": "x"})
    assert status == 403
    assert acknowledgements(cli) == 0
    # A board member may acknowledge any action of the plan.
    board = sign(KEY, 1, BOARD, ACK, served.now)
    status, _ = post_ack(served, {"token": board, **fields})
    assert status == 200 and acknowledgements(cli) == 1


def test_web_link_prints_an_ack_link(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    link = served.cli("web", "link", STRATEGIC, "--purpose", "ack").stdout.strip()
    assert link.startswith(f"{served.base_url}/ack/")
    status, page = fetch(link)
    assert status == 200 and "Escalated actions" in page
    # The token is one for acknowledging only.
    status, _ = fetch(f"{served.base_url}/lead/{token_of(link)}")
    assert status == 403
    logged = ours(caplog)
    assert "GET /ack/… 200" in logged and token_of(link) not in logged


# --- the rule, on plain data ---

TUESDAY = date(2012, 10, 2)


def amber(**changes: object) -> ActionFacts:
    """An action its lead reported Amber, long overdue: escalated to the strategic lead."""
    action = replace(facts(1, date(2012, 9, 1), ("Head of QA",)), rag="amber", latest_note="Late")
    return replace(action, **changes)  # type: ignore[arg-type]


def seen_by(email: str, action: ActionFacts) -> Acknowledged:
    return Acknowledged(email, "AD", datetime(2012, 10, 1, tzinfo=UTC), "Seen", action.snapshot())


def to_ad(action: ActionFacts) -> list[str]:
    return [kind for email, kind in run(action, TUESDAY) if email == AD]


def test_an_acknowledgement_stops_the_weekly_escalation_to_that_person_only() -> None:
    action = amber()
    assert to_ad(action) == ["escalation"]
    assert to_ad(replace(action, acknowledged=(seen_by(AD, action),))) == []
    # Someone else's acknowledgement does not stand for the strategic lead's.
    assert to_ad(replace(action, acknowledged=(seen_by(CHAIR, action),))) == ["escalation"]


@pytest.mark.parametrize(
    "change",
    [
        {"rag": "red"},
        {"state": "not started"},
        {"target_text": "December 2012"},
        {"latest_note": "Auditor off sick"},
        {"latest_note_at": datetime(2012, 10, 1, 12, tzinfo=UTC)},
    ],
)
def test_a_change_to_the_action_lifts_the_acknowledgement(change: dict[str, object]) -> None:
    action = amber()
    changed = replace(action, acknowledged=(seen_by(AD, action),), **change)  # type: ignore[arg-type]
    assert to_ad(changed) != []


def test_a_red_alert_is_not_held_back_by_an_acknowledgement() -> None:
    action = amber(rag="red")
    acknowledged = replace(action, acknowledged=(seen_by(AD, action),))
    assert to_ad(acknowledged) == ["red_alert"]
