"""A lead with a long list gets one readable reminder. The message describes the lead's
`[reminders] listed_in_full` (25) most pressing actions, the most overdue first, and names
each of the rest by ref, under how overdue it is. Every one is in the ledger, so none comes
back the next day, and every one is named in the message exactly once. A strategic lead's
escalations are listed the same way (`[escalation] listed_in_full`, 50)."""

from __future__ import annotations

import json
import mailbox
import re
from datetime import date
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.conftest import SEED, Cli
from tests.smtp_server import SmtpServer
from tests.test_delivery_limits import bulk_actions
from tests.test_remind import for_recipient, html_part, remind, text_part, use_smtp

QA = "head-of-qa@example.org"  # the Head of QA in the shipped contacts
AS_OF = "2012-09-24"
KEY = "0123456789abcdef" * 4
# "LONG-00007 — overdue by 10 days": how the message describes an action in full.
DESCRIBED = re.compile(r"^(LONG-\d{5}) — ", re.MULTILINE)


def _overdue_actions(cli: Cli, count: int) -> list[str]:
    """`count` more actions led by the Head of QA, overdue on AS_OF by 3, 4, 5... days (the
    last the most overdue); their refs, most overdue first."""
    return list(reversed(bulk_actions(cli, count, prefix="LONG", spread=1)))


def _ledger_refs(cli: Cli, address: str) -> list[str]:
    data = json.loads(cli("outbox", "--to", address, "--json").stdout)
    return [item["ref"] for m in data["messages"] for item in m["items"]]


@pytest.mark.parametrize("listed", [None, 5])
def test_a_lead_with_many_overdue_actions_gets_one_message_describing_the_most_pressing(
    cli: Cli, tmp_path: Path, listed: int | None
) -> None:
    cli("plan", "import", str(SEED))
    refs = _overdue_actions(cli, 80)
    key_file = tmp_path / "web-key.txt"
    key_file.write_text(KEY + "\n", encoding="utf-8")
    cli.env["PLANWORKER_WEB__SECRET_KEY_FILE"] = str(key_file)
    cli.env["PLANWORKER_WEB__BASE_URL"] = "https://plan.example.org"
    if listed is not None:
        cli.env["PLANWORKER_REMINDERS__LISTED_IN_FULL"] = str(listed)
    with SmtpServer("plain") as server:
        use_smtp(cli, server)
        remind(cli, AS_OF)
        messages = for_recipient(server, QA)
    assert len(messages) == 1
    text, html = text_part(messages[0]), html_part(messages[0])

    # Described in full: at most the limit, and the most overdue of these actions first.
    described = DESCRIBED.findall(text)
    limit = listed or 25
    assert 0 < len(described) <= limit
    assert described == refs[: len(described)]
    # Every action named exactly once; those not described under how overdue they are.
    # (The HTML also links each described one to its report form.)
    for ref in refs:
        assert len(re.findall(rf"\b{ref}\b", text)) == 1, ref
        in_html = len(re.findall(rf"\b{ref}\b", html))
        assert in_html >= 1 if ref in described else in_html == 1, ref
    first_named = refs[len(described)]
    overdue_by = (date.fromisoformat(AS_OF) - date(2012, 9, 21)).days + int(first_named[5:])
    assert re.search(rf"overdue by {overdue_by} days: {first_named}\b", text)
    assert "not described here" in text and "Each is on your page" in text
    link = re.search(r'<a href="(https://plan\.example\.org/lead/[^"]+)"[^>]*>your page</a>', html)
    assert link is not None
    # The opening says how many there are, and that the rest are named.
    opening = re.search(
        r"Of the (\d+) actions that need your attention, this message describes the (\d+) most",
        text,
    )
    assert opening is not None
    assert int(opening[2]) <= limit and int(opening[1]) >= len(refs)

    # Every one is in the ledger, so the next run that day sends nothing about them.
    assert set(refs) <= set(_ledger_refs(cli, QA))
    with SmtpServer("plain") as server:
        use_smtp(cli, server)
        remind(cli, AS_OF)
        assert for_recipient(server, QA) == []


def test_a_short_list_is_described_in_full(cli: Cli) -> None:
    cli("plan", "import", str(SEED))
    refs = _overdue_actions(cli, 3)
    with SmtpServer("plain") as server:
        use_smtp(cli, server)
        remind(cli, AS_OF)
        (message,) = for_recipient(server, QA)
    text = text_part(message)
    assert set(refs) <= set(DESCRIBED.findall(text))
    assert "not described here" not in text and "actions that need your attention" not in text


def test_a_limit_below_one_is_refused_naming_the_setting(cli: Cli) -> None:
    cli.env["PLANWORKER_REMINDERS__LISTED_IN_FULL"] = "0"
    result = cli("config", "check", ok=False)
    assert result.exit_code != 0
    assert "LISTED_IN_FULL" in result.output and "greater than or equal to 1" in result.output


AD = "assistant-director-childrens-services-operations@example.org"  # work stream 1's


def _escalation_text(cli: Cli) -> str:
    """The plain text of the one escalation message to the Assistant Director."""
    found = [
        m
        for m in mailbox.Maildir(cli.maildir, factory=None, create=False)
        if AD in str(m["To"]) and str(m["X-Planworker-Job"]).startswith("escalate")
    ]
    assert len(found) == 1
    parsed = message_from_bytes(found[0].as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return text_part(parsed)


@pytest.mark.parametrize("listed", [None, 5])
def test_a_strategic_lead_reads_the_most_pressing_escalations_and_the_rest_named(
    cli: Cli, listed: int | None
) -> None:
    # The seed as of 6 November 2012: the Assistant Director hears of 9 actions just turned
    # Red and 14 escalated. The default limit (50) describes them all, as before; a limit of
    # 5 describes the five most overdue alerts and names the rest.
    cli("plan", "import", str(SEED))
    if listed is not None:
        cli.env["PLANWORKER_ESCALATION__LISTED_IN_FULL"] = str(listed)
    cli("remind", "--as-of", "2012-10-01")
    report = json.loads(cli("escalate", "--as-of", "2012-11-06", "--json").stdout)
    (told,) = [m for m in report["messages"] if m["to"] == AD]
    items = told["items"]  # every escalation told, described or named: the ledger's
    text = _escalation_text(cli)

    described = re.findall(r"^(WS\d+-[\d.]+) — ", text, re.MULTILINE)
    order = sorted(items, key=lambda i: (i["section"] != "turned_red", i["days"], i["ref"]))
    assert described == [i["ref"] for i in order[: listed or len(items)]]
    assert len(items) > 5
    for item in items:
        assert re.search(rf"\b{re.escape(item['ref'])}\b", text), item["ref"]
    assert ("not described here" in text) == (listed is not None)
