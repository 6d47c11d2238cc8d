"""A signed link in every message (issue 17's "done when"): `remind` on the seed writes each
lead's reminder into the Maildir with the lead's link to their page; opened in a real
browser, it records the lead's report with source "web", while a plain GET of it (as a mail
scanner would) records nothing. Escalations carry the strategic lead's link; with no
web.base_url or key there is no link and the "reply to this email" wording stays. The token
is never logged.
"""

from __future__ import annotations

import json
import logging
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CONTACTS, SEED, Cli, seed_data
from tests.web_server import web_app
from worker.contacts import load_directory
from worker.web.links import LEAD, Signer, read

LEAD_EMAIL = "head-of-qa@example.org"
LEAD_NAME = "Head of QA"
OWN = "WS1-02"  # in the Head of QA's reminder on the Monday below (seed plan, shipped contacts)
MONDAY = "2012-07-16"
KEY = "fedcba9876543210" * 4
CHROMIUM = Path("/usr/bin/chromium")
LINK = re.compile(r"https?://[^\s<>\"]+/(?:lead|ack)/[A-Za-z0-9_\-.]+")


@dataclass
class Site:
    """`planworker web` served on a free 127.0.0.1 port, over the test's database, with the
    settings `remind` reads too (web.base_url and the key file, from the environment)."""

    cli: Cli
    base_url: str

    def history(self, ref: str) -> list[dict[str, Any]]:
        changes = json.loads(self.cli("status", "history", ref, "--json").stdout)["changes"]
        assert isinstance(changes, list)
        return changes


def configure_links(cli: Cli, tmp_path: Path, base_url: str) -> None:
    key_file = tmp_path / "web-key.txt"
    key_file.write_text(KEY + "\n", encoding="utf-8")
    cli.env.update(
        {"PLANWORKER_WEB__SECRET_KEY_FILE": str(key_file), "PLANWORKER_WEB__BASE_URL": base_url}
    )


@pytest.fixture
def site(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    cli("plan", "import", str(SEED))

    def settings(base_url: str) -> dict[str, str]:
        configure_links(cli, tmp_path, base_url)
        return {}

    with web_app(cli, monkeypatch, settings) as base_url:
        yield Site(cli, base_url)


def messages_to(cli: Cli, email: str) -> list[EmailMessage]:
    found = []
    for path in sorted((cli.maildir / "new").iterdir()):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        if message["To"].addresses[0].addr_spec == email:
            found.append(message)
    return found


def parts(message: EmailMessage) -> tuple[str, str]:
    """The (plain text, HTML) of a message, as a mail client shows them."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def links_in(body: str) -> list[str]:
    return LINK.findall(body)


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def ours(caplog: pytest.LogCaptureFixture) -> str:
    """What planworker's run logged (not the in-process server's uvicorn, which is not the
    one `planworker web` configures: tests/test_web.py checks that one's log)."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("uvicorn"))


def test_the_leads_reminder_carries_their_link_and_a_scanners_get_records_nothing(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    site.cli("remind", "--as-of", MONDAY)

    [message] = messages_to(site.cli, LEAD_EMAIL)
    text, html = parts(message)
    [link] = links_in(text)
    assert link.startswith(f"{site.base_url}/lead/")
    assert "Report progress on these actions" in text and "45 days" in text
    assert f'href="{link}"' in html
    assert f'href="{link}#action-{OWN}"' in html  # straight to the action's form
    assert "Reply to this\nemail" in text  # questions still go to the administrator

    # A mail scanner opens the link before the lead does: it sees the page, records nothing.
    status, page = fetch(link)
    assert status == 200 and f'id="action-{OWN}"' in page
    assert fetch(link)[0] == 200
    assert site.history(OWN) == []

    token = link.rsplit("/", 1)[1]
    assert token not in ours(caplog)


def test_every_lead_gets_their_own_link(site: Site) -> None:
    site.cli("remind", "--as-of", MONDAY)
    seen: dict[str, str] = {}
    for path in (site.cli.maildir / "new").iterdir():
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        links = links_in(parts(message)[0])
        if "with no one to remind" in message["Subject"]:
            # The administrator's notice is about fixing contacts and the plan: no link.
            assert links == [], message["Subject"]
            continue
        assert len(links) == 1, message["Subject"]
        seen[message["To"].addresses[0].addr_spec] = links[0]
    assert len(seen) > 1 and len(set(seen.values())) == len(seen)
    for email, link in seen.items():
        _, page = fetch(link)
        assert f"({email})" in page  # each link opens its own recipient's page


def test_an_escalation_carries_the_strategic_leads_link(site: Site) -> None:
    site.cli(
        "status",
        "set",
        OWN,
        "--rag",
        "red",
        "--note",
        "Auditor left",
        "--by",
        "QA",
        "--as-of",
        "2012-07-17",
    )
    strategic = load_directory(CONTACTS).find(seed_data()["work_streams"][0]["strategic_lead"])
    assert strategic is not None
    [alert] = messages_to(site.cli, strategic.email)
    text, html = parts(alert)
    [link] = links_in(text)
    assert "/ack/" in link  # to acknowledge it, which stops its weekly repeats
    assert f'href="{link}"' in html
    _, page = fetch(link)
    assert OWN in page and "Acknowledge" in page


@pytest.mark.parametrize(
    ("setting", "missing"),
    [
        ({}, ""),
        # A public address without a key is not enough, nor a key without an address.
        ({"PLANWORKER_WEB__BASE_URL": "https://actionplan.example.gov.uk"}, "secret_key_file"),
        ({"PLANWORKER_WEB__SECRET_KEY_FILE": "web-key.txt"}, "base_url"),
    ],
    ids=["neither", "no key", "no address"],
)
def test_no_link_when_the_web_page_is_not_configured(
    cli: Cli, setting: dict[str, str], missing: str
) -> None:
    cli.env.update(setting)
    cli("plan", "import", str(SEED))
    cli("remind", "--as-of", MONDAY)
    [message] = messages_to(cli, LEAD_EMAIL)
    text, html = parts(message)
    assert "/lead/" not in text + html and "Report progress" not in text + html
    assert "Reply to this\nemail: replies go to the plan administrator." in text
    # The administrator hears why before going live.
    said = cli("config", "check").output
    warning = "messages carry no link to the leads' page"
    assert (f"{warning}: web.{missing} is not set" in said) if missing else (warning not in said)


def test_a_key_file_set_but_unreadable_stops_the_run_and_says_which(
    cli: Cli, tmp_path: Path
) -> None:
    cli("plan", "import", str(SEED))
    configure_links(cli, tmp_path, "https://actionplan.example.gov.uk")
    cli.env["PLANWORKER_WEB__SECRET_KEY_FILE"] = str(tmp_path / "missing.txt")
    result = cli("remind", "--as-of", MONDAY, ok=False)
    assert result.exit_code != 0 and "missing.txt" in result.output
    assert not (cli.maildir / "new").exists() or not any((cli.maildir / "new").iterdir())


# About 5 s: not marked slow, so the quick suite runs issue 17's "done when" too.
def test_a_lead_reports_amber_from_the_link_in_their_email_in_a_real_browser(site: Site) -> None:
    from playwright.sync_api import sync_playwright

    # CI installs it, and there (PLANWORKER_TEST_REQUIRE_ALL) this skip is a failure.
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium package; CI installs it")
    site.cli("remind", "--as-of", MONDAY)
    [message] = messages_to(site.cli, LEAD_EMAIL)
    [link] = links_in(parts(message)[0])

    fetch(link)  # the mail scanner's GET first
    assert site.history(OWN) == []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(10_000)
            page.goto(link)
            action = page.locator(f"#action-{OWN}")
            action.get_by_label("Amber").check()
            action.get_by_label("Note").fill("Audit moved to August: auditor off sick")
            action.get_by_role("button", name=f"Send the report for {OWN}").click()
            page.wait_for_load_state()
            assert f"{OWN}: recorded" in page.locator("[role=status]").inner_text()
        finally:
            browser.close()

    changes = site.history(OWN)
    assert [(c["by"], c["source"], c["rag"]) for c in changes] == [
        (LEAD_NAME, "web", [None, "amber"])
    ]
    assert changes[0]["note"] == "Audit moved to August: auditor off sick"


def test_a_runs_signer_never_shows_its_key() -> None:
    signer = Signer("https://actionplan.example.gov.uk", KEY, 45)
    assert KEY not in repr(signer) and KEY not in str(signer)
    made = signer.link(1, "Head-of-QA@example.org", LEAD, datetime(2026, 1, 5, tzinfo=UTC))
    assert made.startswith("https://actionplan.example.gov.uk/lead/")
    claim = read(
        KEY,
        made.rsplit("/", 1)[1],
        plan_id=1,
        purpose=LEAD,
        max_age=timedelta(days=45),
        now=datetime(2026, 2, 1, tzinfo=UTC),
    )
    assert claim.email == "head-of-qa@example.org"
