"""`planworker remind`, `outbox` and `simulate` end to end: the seed plan, the real contacts
directory, a real database and a real SMTP server; assertions are on what the server got."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import icalendar
import pytest
import yaml

from tests.conftest import CONTACTS, ROOT, SEED, Cli, seed_data
from tests.smtp_server import Received, SmtpServer

AUDIT_MANAGER = "audit-manager@example.org"  # "Audit Manager QA" in the plan
ADMIN = "planworker-admin@example.org"


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer("plain") as smtp:
        yield smtp


def use_smtp(cli: Cli, server: SmtpServer, security: str = "none") -> None:
    cli.env.update(
        {
            "PLANWORKER_MAIL__BACKEND": "smtp",
            "PLANWORKER_SMTP__HOST": server.host,
            "PLANWORKER_SMTP__PORT": str(server.port),
            "PLANWORKER_SMTP__SECURITY": security,
            "PLANWORKER_SMTP__TIMEOUT": "5",
            "PLANWORKER_MAIL__RETRY_AFTER_SECONDS": "0",
        }
    )


@pytest.fixture
def seeded(cli: Cli, server: SmtpServer) -> Cli:
    cli("plan", "import", str(SEED))
    use_smtp(cli, server)
    return cli


def remind(cli: Cli, day: str, *extra: str, ok: bool = True) -> dict[str, Any]:
    result = cli("remind", "--as-of", day, "--json", *extra, ok=ok)
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def to_address(received: Received) -> str:
    return received.message["To"].addresses[0].addr_spec


def text_part(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def html_part(message: EmailMessage) -> str:
    body = message.get_body(("html",))
    assert body is not None
    return str(body.get_content())


def for_recipient(server: SmtpServer, address: str) -> list[EmailMessage]:
    return [r.message for r in server.received if to_address(r) == address]


def outbox_items(cli: Cli, address: str) -> list[tuple[str, str]]:
    data = json.loads(cli("outbox", "--to", address, "--json").stdout)
    return [(item["rule"], item["target_text"]) for m in data["messages"] for item in m["items"]]


# --- who gets what -----------------------------------------------------------------------


def test_each_lead_gets_one_message_with_everything_that_needs_them(
    seeded: Cli, server: SmtpServer
) -> None:
    summary = remind(seeded, "2012-09-24")
    received = server.received
    assert summary["counts"]["sent"] == len(received) == len(summary["messages"]) > 10
    # One message per address, delivered to exactly the address it is written to.
    assert all(r.rcpt_tos == [to_address(r)] for r in received)
    assert max(Counter(to_address(r) for r in received).values()) == 1
    assert len({r.message["Message-ID"] for r in received}) == len(received)
    # WS1-01, "30 September 2012", lead "Audit Manager QA": 7 days before falls on Sunday 23,
    # so the reminder went out on Friday 21 and is still the one due on Monday 24.
    (message,) = for_recipient(server, AUDIT_MANAGER)
    for part in (text_part(message), html_part(message)):
        assert "WS1-01" in part
        assert "30 September 2012" in part
        assert "Sunday 30 September 2012" in part
        assert "due in 6 days" in part
    assert "due soon" in message["Subject"]
    # WS8-13 ("July 2012") names no lead: the administrator is told, with the reason.
    (admin,) = for_recipient(server, ADMIN)
    assert "with no one to remind" in admin["Subject"]
    no_one = text_part(admin).split("No one to remind (")[1]
    assert "WS8-13" in no_one
    assert "no lead is named" in no_one
    calendar = next(p for p in message.iter_attachments() if p.get_filename() == "deadlines.ics")
    events = icalendar.Calendar.from_ical(calendar.get_content()).walk("VEVENT")
    starts = {str(e["SUMMARY"]).split()[0]: e.decoded("DTSTART").isoformat() for e in events}
    assert starts["WS1-01"] == "2012-09-30"


def test_the_same_date_twice_sends_nothing_new(seeded: Cli, server: SmtpServer) -> None:
    first = remind(seeded, "2012-09-24")
    second = remind(seeded, "2012-09-24")
    assert first["counts"]["sent"] > 0
    assert second["counts"] == {"planned": 0, "sent": 0, "failed": 0, "retrying": 0, "pending": 0}
    assert len(server.received) == first["counts"]["sent"]


def test_a_missed_run_is_caught_up_once_with_the_latest_reminder(
    seeded: Cli, server: SmtpServer
) -> None:
    remind(seeded, "2012-09-14")  # 14 days before WS1-01's target (Sunday 16 -> Friday 14)
    # The worker is down from 17 to 27 September: the 7-day reminder (Friday 21) is missed.
    remind(seeded, "2012-09-28")  # both "1 day before" and "on the day" fall on Friday 28
    remind(seeded, "2012-09-28")
    rules = [
        rule
        for rule, target in outbox_items(seeded, AUDIT_MANAGER)
        if target.startswith("30 September")
    ]
    assert sorted(rules) == ["14 days before the target date", "on the target date"]
    assert len(for_recipient(server, AUDIT_MANAGER)) == 2


def test_overdue_reminders_repeat_weekly_then_back_off(seeded: Cli, server: SmtpServer) -> None:
    for day in ("2012-10-01", "2012-10-02", "2012-10-08", "2012-10-29", "2012-11-05"):
        remind(seeded, day)
    rules = [
        rule
        for rule, target in outbox_items(seeded, AUDIT_MANAGER)
        if target == "30 September 2012"
    ]
    assert list(reversed(rules)) == [
        "overdue: reminded every 7 days until marked completed"
        " (the reminder due 1 day after the target date)",
        "overdue: reminded every 7 days until marked completed"
        " (the reminder due 8 days after the target date)",
        "overdue: reminded every 28 days until marked completed"
        " (the reminder due 29 days after the target date)",
    ]


def test_completed_actions_get_nothing(cli: Cli, server: SmtpServer, tmp_path: Path) -> None:
    data = seed_data()
    plan = json.loads(json.dumps(data))  # a deep copy
    for ws in plan["work_streams"]:
        for action in ws["actions"]:
            action["state"] = "completed"
    path = tmp_path / "done.yaml"
    path.write_text(yaml.safe_dump(plan, allow_unicode=True), encoding="utf-8")
    cli("plan", "import", str(path))
    use_smtp(cli, server)
    assert remind(cli, "2012-09-24")["counts"]["planned"] == 0
    assert server.received == []


def test_dry_run_lists_messages_and_sends_and_records_nothing(
    seeded: Cli, server: SmtpServer
) -> None:
    dry = remind(seeded, "2012-09-24", "--dry-run")
    assert dry["dry_run"] and len(dry["messages"]) > 10
    assert server.received == []
    assert json.loads(seeded("outbox", "--json").stdout)["messages"] == []
    real = remind(seeded, "2012-09-24")
    assert [m["to"] for m in real["messages"]] == [m["to"] for m in dry["messages"]]


def test_nothing_is_due_on_a_bank_holiday(seeded: Cli, server: SmtpServer) -> None:
    summary = remind(seeded, "2012-08-27")
    assert summary["working_day"] is False
    assert summary["counts"]["planned"] == 0


def test_outbox_says_why_a_message_was_sent(seeded: Cli) -> None:
    remind(seeded, "2012-09-24")
    text = seeded("outbox", "--to", AUDIT_MANAGER).stdout
    assert "WS1-01" in text
    assert "7 days before the target date" in text
    assert "'30 September 2012' read as 2012-09-30 (day)" in text
    assert "as Audit Manager QA" in text


def test_a_changed_month_day_setting_rereads_the_dates(seeded: Cli, server: SmtpServer) -> None:
    # WS1-12 "July 2012": read as 31 July; with month_day = start, as 1 July.
    seeded.env["PLANWORKER_DATES__MONTH_DAY"] = "start"
    summary = remind(seeded, "2012-07-02")
    assert summary["dates_reread"] > 0
    due = {i["ref"]: i["due"] for m in summary["messages"] for i in m["items"]}
    assert due["WS1-12"] == "2012-07-01"


# --- delivery faults ---------------------------------------------------------------------


def test_smtp_down_then_back_delivers_everything_once(seeded: Cli, server: SmtpServer) -> None:
    server.stop()
    down = remind(seeded, "2012-09-24", ok=False)
    assert down["counts"]["sent"] == 0
    assert down["stopped_early"]
    assert down["counts"]["pending"] == down["counts"]["planned"] > 0
    server.start()
    back = remind(seeded, "2012-09-25")
    assert back["counts"]["sent"] >= down["counts"]["planned"]
    ids = [r.message["Message-ID"] for r in server.received]
    assert len(ids) == len(set(ids))
    assert json.loads(seeded("outbox", "--json").stdout)["counts"]["pending"] == 0


def test_a_temporary_refusal_is_retried_and_delivered(seeded: Cli, server: SmtpServer) -> None:
    server.fail_next_data.append((451, "4.3.0 Try again later"))
    first = remind(seeded, "2012-09-24")
    assert first["counts"]["retrying"] == 1
    again = remind(seeded, "2012-09-24")
    assert again["counts"]["sent"] == 1
    assert len(server.received) == first["counts"]["planned"]


def test_a_rejected_address_is_recorded_with_the_servers_reason(
    seeded: Cli, server: SmtpServer
) -> None:
    server.reject_rcpt[AUDIT_MANAGER] = (550, "5.1.1 No such user here")
    summary = remind(seeded, "2012-09-24", ok=False)
    assert summary["counts"]["failed"] == 1
    # All but the refused one went, and so did the administrator's plain notice of it.
    assert summary["counts"]["sent"] == summary["counts"]["planned"] - 1 + 1
    failed = json.loads(seeded("outbox", "--state", "failed", "--json").stdout)["messages"]
    assert [m["to"] for m in failed] == [AUDIT_MANAGER]
    assert "No such user here" in failed[0]["last_error"]
    # The administrator hears at once which reminders did not reach their lead, and why.
    (notice,) = [
        m
        for m in summary["messages"]
        if m["to"] == ADMIN and any(i["section"] == "undelivered" for i in m["items"])
    ]
    refused = {i["ref"] for i in failed[0]["items"]}
    assert {i["ref"] for i in notice["items"] if i["section"] == "undelivered"} == refused
    (admin_mail,) = [
        r.message
        for r in server.received
        if to_address(r) == ADMIN and "not delivered" in r.message["Subject"]
    ]
    body = text_part(admin_mail)
    assert "Not delivered" in body
    assert AUDIT_MANAGER in body
    assert "No such user here" in body
    # A permanent failure is not retried by later runs.
    remind(seeded, "2012-09-25", ok=False)
    assert AUDIT_MANAGER not in {to_address(r) for r in server.received}
    after = json.loads(seeded("outbox", "--state", "failed", "--json").stdout)["messages"]
    first = next(m for m in after if m["id"] == failed[0]["id"])
    assert first["attempts"] == 1


def test_starttls_with_authentication(cli: Cli, tmp_path: Path) -> None:
    with SmtpServer("starttls", username="planworker", password="s3cret pass") as server:
        ca = tmp_path / "ca.pem"
        from tests.smtp_server import _ca

        _ca().cert_pem.write_to_path(str(ca))
        secret = tmp_path / "password"
        secret.write_text("s3cret pass\n")
        cli("plan", "import", str(SEED))
        use_smtp(cli, server, security="starttls")
        cli.env.update(
            {
                "PLANWORKER_SMTP__USERNAME": "planworker",
                "PLANWORKER_SMTP__PASSWORD_FILE": str(secret),
                "PLANWORKER_SMTP__CA_FILE": str(ca),
            }
        )
        summary = remind(cli, "2012-09-24")
        assert summary["counts"]["sent"] == len(server.received) > 0
        assert server.sessions == 1  # one connection for the whole run


def test_a_wrong_password_fails_without_showing_it(cli: Cli) -> None:
    with SmtpServer("plain", username="planworker", password="right") as server:
        cli("plan", "import", str(SEED))
        use_smtp(cli, server)
        cli.env.update(
            {
                "PLANWORKER_SMTP__USERNAME": "planworker",
                "PLANWORKER_SMTP__PASSWORD": "wr0ng-pw",
                "PLANWORKER_SMTP__ALLOW_PLAINTEXT_LOGIN": "true",  # a test server, no TLS
            }
        )
        result = cli("remind", "--as-of", "2012-09-24", ok=False)
        assert result.exit_code == 1
        assert "wr0ng-pw" not in result.output
        assert "login as 'planworker' failed" in result.output
        assert "wr0ng-pw" not in cli("outbox").stdout
        assert server.received == []
        # The server refused us, not the messages: they wait for the password to be fixed.
        counts = json.loads(cli("outbox", "--json").stdout)["counts"]
        assert counts["failed"] == 0
        assert counts["pending"] > 0


# --- hostile text ------------------------------------------------------------------------


def test_hostile_plan_and_contact_text_cannot_inject_markup_or_headers(
    cli: Cli, server: SmtpServer, tmp_path: Path
) -> None:
    plan = json.loads(json.dumps(seed_data()))
    action = plan["work_streams"][0]["actions"][0]  # WS1-01, due 30 September 2012
    action["action"] = '<script>alert("x")</script> & <b>bold</b>'
    action["lead"] = "Head of QA Bcc: victim@example.org"
    action["lead_roles"] = ["Head of QA Bcc: victim@example.org"]
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(plan, allow_unicode=True), encoding="utf-8")
    contacts = tmp_path / "contacts.toml"
    contacts.write_text(
        CONTACTS.read_text(encoding="utf-8")
        + '\n[roles."Head of QA\\r\\nBcc: victim@example.org"]\nemail = "qa-lead@example.org"\n',
        encoding="utf-8",
    )
    cli.env["PLANWORKER_CONTACTS_FILE"] = str(contacts)
    cli("plan", "import", str(path))
    use_smtp(cli, server)
    remind(cli, "2012-09-24")
    (received,) = [r for r in server.received if "qa-lead@example.org" in r.rcpt_tos]
    assert received.rcpt_tos == ["qa-lead@example.org"]
    assert b"victim" not in received.data.split(b"\r\n\r\n", 1)[0].replace(b"Bcc: victim", b"")
    message = received.message
    assert message["Bcc"] is None
    assert [a.addr_spec for a in message["To"].addresses] == ["qa-lead@example.org"]
    html = html_part(message)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert '<script>alert("x")</script>' in text_part(message)
    assert all("victim" not in r.rcpt_tos for r in server.received)


# --- the command as a process ------------------------------------------------------------


@pytest.mark.slow
def test_remind_as_a_process_sends_everything_and_closes_the_database(
    tmp_path: Path, server: SmtpServer
) -> None:
    database = tmp_path / "process.db"
    cli = Cli(f"sqlite:///{database}", tmp_path)
    cli("db", "upgrade")
    cli("plan", "import", str(SEED))
    use_smtp(cli, server)
    command = [sys.executable, "-m", "worker", "remind", "--as-of", "2012-09-24", "--json"]
    env = {**os.environ, **cli.environment()}
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["counts"]["sent"] == len(server.received) > 0
    # The connections were closed as the command ended, so SQLite folded its write-ahead log
    # back into the file and removed it: nothing was left for the process's exit to tidy.
    assert not Path(f"{database}-wal").exists()
    assert not Path(f"{database}-shm").exists()


# --- a crash mid-run ---------------------------------------------------------------------


@pytest.mark.slow
def test_a_worker_killed_between_two_sends_loses_nothing_and_repeats_at_most_one(
    tmp_path: Path, server: SmtpServer
) -> None:
    cli = Cli(f"sqlite:///{tmp_path / 'crash.db'}", tmp_path)
    cli("db", "upgrade")
    cli("plan", "import", str(SEED))
    use_smtp(cli, server)
    cli.env["PLANWORKER_MAIL__LEASE_SECONDS"] = "1"
    env = {**os.environ, **cli.environment()}
    command = [sys.executable, "-m", "worker", "remind", "--as-of", "2012-09-24", "--json"]
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while len(server.received) < 3 and time.monotonic() < deadline:
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()
    delivered_before = len(server.received)
    assert delivered_before >= 3, "the worker was killed before it sent anything"
    time.sleep(1.2)  # the dead worker's claim on its message runs out
    remind(cli, "2012-09-24")
    outbox = json.loads(cli("outbox", "--limit", "1000", "--json").stdout)
    planned = {m["message_id"] for m in outbox["messages"]}
    got = Counter(r.message["Message-ID"] for r in server.received)
    assert outbox["counts"]["sent"] == len(planned) > delivered_before
    assert set(got) == planned  # nothing lost
    assert sum(n - 1 for n in got.values()) <= 1  # at most the one in flight, twice


# --- simulate ----------------------------------------------------------------------------


@pytest.mark.slow
def test_simulate_prints_a_timeline_and_leaves_the_database_alone(seeded: Cli) -> None:
    result = seeded("simulate", "--from", "2012-09-10", "--to", "2012-10-05", "--json")
    timeline = json.loads(result.stdout)
    days = {m["date"] for m in timeline["messages"]}
    assert "2012-09-14" in days and "2012-09-15" not in days  # working days only
    ws1_01 = [
        (m["date"], i["rule"])
        for m in timeline["messages"]
        if m["to"] == AUDIT_MANAGER
        for i in m["items"]
        if i["ref"] == "WS1-01"
    ]
    assert ws1_01 == [
        ("2012-09-14", "14 days before the target date"),
        ("2012-09-21", "7 days before the target date"),
        ("2012-09-28", "on the target date"),
        (
            "2012-10-01",
            "overdue: reminded every 7 days until marked completed"
            " (the reminder due 1 day after the target date)",
        ),
    ]
    assert json.loads(seeded("outbox", "--json").stdout)["messages"] == []
    text = seeded("simulate", "--from", "2012-09-10", "--to", "2012-09-14").stdout
    assert "Fri 2012-09-14" in text and AUDIT_MANAGER in text


def test_simulate_rejects_a_backwards_period(seeded: Cli) -> None:
    result = seeded("simulate", "--from", "2012-10-01", "--to", "2012-09-01", ok=False)
    assert result.exit_code != 0
    assert "--to must not be before --from" in result.output


# --- an admin's templates ----------------------------------------------------------------


def test_an_admins_templates_folder_rewords_the_subject_only(
    seeded: Cli, server: SmtpServer, tmp_path: Path
) -> None:
    folder = tmp_path / "templates" / "reminder"
    folder.mkdir(parents=True)
    (folder / "subject.txt").write_text(
        "Improvement plan: {{ digest.items|length }} action(s) for you\n", encoding="utf-8"
    )
    seeded.env["PLANWORKER_TEMPLATES_DIR"] = str(tmp_path / "templates")
    remind(seeded, "2012-09-24")
    (message,) = for_recipient(server, AUDIT_MANAGER)
    assert message["Subject"].startswith("Improvement plan: ")
    assert "WS1-01" in text_part(message)  # the body still comes from the shipped folder


def test_a_broken_template_sends_nothing_and_says_where(
    seeded: Cli, server: SmtpServer, tmp_path: Path
) -> None:
    folder = tmp_path / "templates" / "reminder"
    folder.mkdir(parents=True)
    (folder / "body.txt").write_text("Dear {{ digest.recipient.name\n", encoding="utf-8")
    seeded.env["PLANWORKER_TEMPLATES_DIR"] = str(tmp_path / "templates")
    result = seeded("remind", "--as-of", "2012-09-24", ok=False)
    assert result.exit_code == 1
    assert "body.txt" in result.output
    assert server.received == []
    # Nothing was recorded, so once the template is fixed the reminders go out.
    (folder / "body.txt").unlink()
    assert remind(seeded, "2012-09-24")["counts"]["sent"] > 0


# --- the embedded default and the console ------------------------------------------------


def test_by_default_messages_are_files_in_a_maildir_any_mail_client_can_read(cli: Cli) -> None:
    import mailbox

    cli("plan", "import", str(SEED))
    result = cli("remind", "--as-of", "2012-09-24")
    assert f"delivered to the Maildir folder {cli.maildir}" in result.stdout
    box = mailbox.Maildir(cli.maildir, create=False)
    messages = list(box.values())
    sent = json.loads(cli("outbox", "--json").stdout)["counts"]["sent"]
    assert len(messages) == sent > 10
    subjects = {m["Subject"] for m in messages}
    assert all(s.startswith("Action plan: ") for s in subjects)


def test_the_console_backend_prints_each_message(cli: Cli) -> None:
    cli("plan", "import", str(SEED))
    cli.env["PLANWORKER_MAIL__BACKEND"] = "console"
    out = cli("remind", "--as-of", "2012-09-24").stdout
    assert f"To: Audit Manager <{AUDIT_MANAGER}>" in out
    assert "WS1-01 — due in 6 days" in out
    assert "<html" not in out
