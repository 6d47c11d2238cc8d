"""Status-return requests (`planworker request`): before the Monday board digest each lead
with open actions gets one message with their actions, a link or a reply-to-us line, and a
spreadsheet of their rows that `planworker status import` takes back; once a week; and one
chaser, on the chase day, for those who have not returned. On the seed plan, into a Maildir.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook

from tests.conftest import CONTACTS, SEED, Cli, seed_data
from worker.contacts import load_directory
from worker.web.links import LEAD, read

LEAD_EMAIL = "head-of-qa@example.org"
OWN = "WS1-02"  # routed to the Head of QA (seed plan, shipped contacts)
NOT_OWN = "WS2-01"  # routed to someone else
# The seed's digest is on Mondays: Monday 10 December 2012's returns are asked for on the
# Wednesday before (3 working days) and chased on the Friday (2 working days later).
WEDNESDAY, THURSDAY, FRIDAY = "2012-12-05", "2012-12-06", "2012-12-07"
KEY = "fedcba9876543210" * 4


def mails(cli: Cli) -> dict[Path, EmailMessage]:
    folder = cli.maildir / "new"
    found = sorted(folder.iterdir()) if folder.is_dir() else []
    return {p: message_from_bytes(p.read_bytes(), policy=policy.default) for p in found}  # type: ignore[misc]


def new_mails(cli: Cli, before: dict[Path, EmailMessage]) -> list[EmailMessage]:
    return [m for p, m in mails(cli).items() if p not in before]


def to(message: EmailMessage) -> str:
    return str(message["To"].addresses[0].addr_spec)


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def spreadsheet(message: EmailMessage) -> Workbook:
    files = [p for p in message.iter_attachments() if str(p.get_filename()).endswith(".xlsx")]
    assert len(files) == 1
    return load_workbook(io.BytesIO(files[0].get_content()))  # type: ignore[attr-defined]


def rows(book: Workbook) -> list[list[Any]]:
    sheet = book.active
    assert sheet is not None
    return [list(r) for r in sheet.iter_rows(values_only=True)]


def ask(cli: Cli, day: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(cli("request", "--as-of", day, "--json").stdout)
    return result


def test_each_lead_is_asked_once_with_a_spreadsheet_status_import_takes_back(
    cli: Cli, tmp_path: Path
) -> None:
    cli("plan", "import", str(SEED))
    assert ask(cli, "2012-12-04")["messages"] == []  # Tuesday: not yet

    report = ask(cli, WEDNESDAY)
    sent = mails(cli)
    assert report["digest"] == "2012-12-10" and report["step"] == "request"
    addresses = [to(m) for m in sent.values()]
    assert len(addresses) > 5 and len(set(addresses)) == len(addresses)  # one per lead
    assert sorted(m["to"] for m in report["messages"]) == sorted(addresses)
    (mine,) = [m for m in sent.values() if to(m) == LEAD_EMAIL]
    assert "Status return" in str(mine["Subject"]) and "Monday 10 December 2012" in str(
        mine["Subject"]
    )
    body = text_of(mine)
    assert OWN in body and NOT_OWN not in body
    assert "Reply to this email" in body  # no leads' page set up: answer by email
    assert "Last report: none yet" in body

    table = rows(spreadsheet(mine))
    assert table[0][:1] == ["ID"] and {"RAG", "Status", "Note", "Updated By"} <= set(table[0])
    ids = [r[0] for r in table[1:]]
    assert OWN in ids and NOT_OWN not in ids

    # The lead fills in one row, deletes the rest and sends it back.
    heading = table[0]
    row = next(r for r in table[1:] if r[0] == OWN)
    row[heading.index("RAG")] = "Amber"
    row[heading.index("Note")] = "Audit moved to January"
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(heading)
    sheet.append(row)
    back = tmp_path / "returned.xlsx"
    book.save(back)
    cli("status", "import", str(back), "--as-of", THURSDAY)
    history = json.loads(cli("status", "history", OWN, "--json").stdout)["changes"]
    assert [(c["rag"][1], c["note"], c["by"]) for c in history] == [
        ("amber", "Audit moved to January", "Head of QA")
    ]

    # Again the same day, and the next: nothing new.
    assert ask(cli, WEDNESDAY)["messages"] == []
    assert ask(cli, THURSDAY)["messages"] == []
    assert len(mails(cli)) == len(sent)


def test_one_chaser_goes_to_the_leads_who_have_not_returned(cli: Cli) -> None:
    cli("plan", "import", str(SEED))
    ask(cli, WEDNESDAY)
    asked = {to(m) for m in mails(cli).values()}
    # A return on an action counts for every lead asked about it (its co-leads too).
    about_own = {to(m) for m in mails(cli).values() if f"{OWN}:" in text_of(m)}
    assert LEAD_EMAIL in about_own
    cli(
        "status", "set", OWN, "--rag", "green", "--note", "On track", "--by", "Head of QA",
        "--as-of", THURSDAY,
    )  # fmt: skip

    before = mails(cli)
    report = ask(cli, FRIDAY)
    chasers = new_mails(cli, before)
    assert report["step"] == "chase" and LEAD_EMAIL in report["returned"]
    assert {to(m) for m in chasers} == asked - about_own
    assert all(str(m["Subject"]).startswith("Reminder: your status return") for m in chasers)
    assert "We have not yet had your status return" in text_of(chasers[0])

    # One chaser per cycle: not again that day.
    assert ask(cli, FRIDAY)["messages"] == []

    # After the digest (Monday 10 December) each strategic lead hears, once, of the leads in
    # their work streams with still no return; no lead hears anything more that week.
    before = mails(cli)
    monday = ask(cli, "2012-12-10")
    notices = new_mails(cli, before)
    assert {m["kind"] for m in monday["messages"]} == {"noreturn"}
    assert len(notices) == len(monday["messages"]) > 0
    directory = load_directory(CONTACTS)
    strategic = {
        r.email for s in seed_data()["work_streams"] if (r := directory.find(s["strategic_lead"]))
    }
    assert {to(m) for m in notices} <= strategic
    told = "\n".join(text_of(m) for m in notices)
    assert "No return from" in told
    assert f"<{LEAD_EMAIL}>" not in told  # the Head of QA returned
    chased = {to(m) for m in chasers}
    assert any(f"<{email}>" in told for email in chased)
    assert ask(cli, "2012-12-10")["messages"] == []
    assert ask(cli, "2012-12-11")["messages"] == []


def test_with_the_leads_page_set_up_the_request_carries_the_leads_own_link(
    cli: Cli, tmp_path: Path
) -> None:
    key_file = tmp_path / "web-key.txt"
    key_file.write_text(KEY, encoding="utf-8")
    cli.env.update(
        {
            "PLANWORKER_WEB__SECRET_KEY_FILE": str(key_file),
            "PLANWORKER_WEB__BASE_URL": "https://actionplan.example.gov.uk",
        }
    )
    cli("plan", "import", str(SEED))
    ask(cli, WEDNESDAY)
    (mine,) = [m for m in mails(cli).values() if to(m) == LEAD_EMAIL]
    body = text_of(mine)
    assert "Reply to this email" not in body
    link = next(w for w in body.split() if w.startswith("https://actionplan.example.gov.uk/lead/"))
    now = datetime.now(UTC)
    claim = read(
        KEY, link.rsplit("/", 1)[1], plan_id=1, purpose=LEAD, max_age=timedelta(days=45), now=now
    )
    assert claim.email == LEAD_EMAIL


def test_the_request_day_skips_bank_holidays_before_the_digest() -> None:
    from datetime import date

    from worker.rules.requests import cycle_of
    from worker.rules.workdays import WorkingDays

    # Monday 31 December 2012's digest: three working days before it are Friday 28 and
    # Thursday 27 December and, over Christmas and Boxing Day, Monday 24 December (the
    # morning of the previous digest, which starts this cycle); the chaser two working days
    # after that is Friday 28 December.
    cycle = cycle_of(date(2012, 12, 24), 0, 3, 2, WorkingDays())
    assert (cycle.digest, cycle.request, cycle.chase) == (
        date(2012, 12, 31),
        date(2012, 12, 24),
        date(2012, 12, 28),
    )
