"""The board's page of `planworker web`: opened by a board member's signed link or with the
board's shared password (never a lead's link, never a wrong password), read only, with the
RAG picture by work stream and a chart of progress by week rebuilt from the status history
(counted by hand here on a small plan), drawn as well-formed inline SVG. Screenshots at 1200
and 400 px in Debian's Chromium (slow)."""

from __future__ import annotations

import logging
import os
import re
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tests.conftest import SEED, Cli
from tests.test_web import KEY, fetch, token_of
from tests.web_server import web_app
from worker.rules.progress import Change, weekly_series
from worker.rules.rag import Progress, RagPolicy
from worker.web.links import BOARD, LEAD, sign

ROOT = Path(__file__).resolve().parents[1]
MEMBER = "director-of-nursing-and-quality@example.org"  # in the shipped contacts' [[board]]
LEAD_EMAIL = "head-of-qa@example.org"  # a lead, not on the board
PASSWORD = "correct horse battery staple"
# The seed plan's year, with a few reports over the summer: what the screenshots show.
NOW = datetime(2012, 9, 28, 11, tzinfo=UTC)
REPORTS = [
    ("2012-07-13", "WS1-02", "amber", "in progress", "Audit slipped a week"),
    ("2012-07-20", "WS2-01", "green", "in progress", "Panel dates agreed"),
    ("2012-08-03", "WS1-02", "green", "completed", "Audit done and reported"),
    ("2012-08-17", "WS1-01", "red", "in progress", "No agency social workers to be had"),
    ("2012-09-07", "WS2-01", "green", "completed", "Panel running monthly"),
]


@dataclass
class Board:
    cli: Cli
    base_url: str

    def link(self, email: str = MEMBER) -> str:
        return self.cli("web", "link", email, "--purpose", "board").stdout.strip()

    def post(self, password: str) -> tuple[int, str]:
        data = urllib.parse.urlencode({"password": password}).encode()
        return fetch(urllib.request.Request(f"{self.base_url}/board", data=data, method="POST"))


@pytest.fixture
def board(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Board]:
    cli("plan", "import", str(SEED))
    for day, ref, rag, state, note in REPORTS:
        cli("status", "set", ref, "--rag", rag, "--state", state, "--note", note,
            "--by", "Test", "--no-alert", "--as-of", day)  # fmt: skip
    key_file, secret_file = tmp_path / "web-key.txt", tmp_path / "board-password.txt"
    key_file.write_text(KEY + "\n", encoding="utf-8")
    secret_file.write_text(PASSWORD + "\n", encoding="utf-8")

    def settings(base_url: str) -> dict[str, str]:
        return {
            "PLANWORKER_WEB__SECRET_KEY_FILE": str(key_file),
            "PLANWORKER_WEB__BOARD_SECRET_FILE": str(secret_file),
            "PLANWORKER_WEB__BASE_URL": base_url,
        }

    with web_app(cli, monkeypatch, settings, lambda: NOW) as base_url:
        yield Board(cli, base_url)


def svgs_of(page: str) -> list[ET.Element]:
    """The page's inline charts (the wide one, the phone's), parsed as XML (an error if one
    is not well-formed)."""
    found = re.findall(r"<svg\b.*?</svg>", page, re.S)
    assert len(found) == 2, "no charts on the page"
    return [ET.fromstring(svg) for svg in found]


def test_a_board_members_link_opens_the_board_page(
    board: Board, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    link = board.link()
    assert link.startswith(f"{board.base_url}/board/")
    before = board.cli("status", "history", "WS1-01", "--json").stdout

    status, page = fetch(link)

    assert status == 200
    assert "Progress by week" in page and "RAG by work stream" in page
    assert 'id="ws1"' in page and 'id="board-WS1-01"' in page  # WS1-01 is Red
    assert "No agency social workers to be had" in page
    assert "<script" not in page and "style=" not in page
    assert board.cli("status", "history", "WS1-01", "--json").stdout == before  # reads only
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("planworker"))
    assert "GET /board/… 200" in logged and token_of(link) not in logged


def test_a_leads_link_or_a_lead_does_not_open_the_board_page(board: Board) -> None:
    lead_token = sign(KEY, 1, LEAD_EMAIL, LEAD, NOW)
    status, page = fetch(f"{board.base_url}/board/{lead_token}")
    assert status == 403 and "a lead&#39;s link" in page
    # A changed board link.
    changed = sign(KEY, 1, MEMBER, BOARD, NOW)[:-2] + "xx"
    status, page = fetch(f"{board.base_url}/board/{changed}")
    assert status == 403 and "not valid" in page
    # Signed for the board's page, but for someone not on the board.
    status, page = fetch(f"{board.base_url}/board/{sign(KEY, 1, LEAD_EMAIL, BOARD, NOW)}")
    assert status == 403 and "not a member of the board" in page
    # Nor will the command line make one.
    refused = board.cli("web", "link", LEAD_EMAIL, "--purpose", "board", ok=False)
    assert refused.exit_code != 0 and "[[board]]" in refused.output
    # A board link for the right person, but expired.
    old = sign(KEY, 1, MEMBER, BOARD, datetime(2012, 6, 1, tzinfo=UTC))
    assert fetch(f"{board.base_url}/board/{old}")[0] == 410


def test_the_board_password_opens_the_page_and_a_wrong_one_does_not(
    board: Board, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    status, form = fetch(f"{board.base_url}/board")
    assert status == 200 and 'type="password"' in form and 'method="post"' in form
    assert PASSWORD not in form

    status, page = board.post("correct horse battery stapler")
    assert status == 403 and "not the board's password" in page and "Progress by week" not in page
    status, page = board.post("")
    assert status == 403

    status, page = board.post(PASSWORD)
    assert status == 200 and "Progress by week" in page
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "board password refused" in logged and "battery" not in logged


def test_the_chart_is_well_formed_svg_drawn_without_inline_style(board: Board) -> None:
    _, page = fetch(board.link())
    wide, phone = svgs_of(page)
    ids = []
    for svg, first_week in ((wide, "13 Jul"), (phone, "24 Aug")):
        assert svg.tag == "{http://www.w3.org/2000/svg}svg"
        every = list(svg.iter())
        assert not any("style" in e.attrib for e in every)
        texts = {e.text for e in every if e.text}
        # The legend, the axis titles, the first and last weeks' date labels.
        assert {"Completed", "Green", "Amber", "Red", "No return"} <= texts
        assert {"Actions", "Week ending", first_week, "28 Sep"} <= texts
        # Nothing from anywhere else: the only references are to the page's own patterns.
        refs = [v for e in every for v in e.attrib.values() if "url(" in v or "http" in v]
        assert all(v.startswith("url(#") or v == "http://www.w3.org/2000/svg" for v in refs)
        ids += [e.attrib["id"] for e in every if "id" in e.attrib]
    assert len(ids) == len(set(ids))  # the two charts' patterns do not clash


def test_the_weekly_series_counts_each_week_as_of_its_end() -> None:
    # Four actions, by hand, with the plan's default RAG rules (Red once a target passes).
    policy = RagPolicy()
    actions = {
        # Amber in progress from 11 March, due 20 March, completed 25 March.
        1: Progress("green", "completed", date(2024, 3, 20), None, False),
        # Never reported, due in June.
        2: Progress("none", "not started", date(2024, 6, 30), None, False),
        # Reported Green on 20 March, due in June.
        3: Progress("green", "in progress", date(2024, 6, 30), None, False),
        # In progress, due 1 March (so Red by its dates), dropped on 26 March.
        4: Progress("none", "dropped", date(2024, 3, 1), None, False),
    }
    changes = [
        Change(1, date(2024, 3, 11), None, "amber", "not started", "in progress"),
        Change(3, date(2024, 3, 20), None, "green", "not started", "in progress"),
        Change(1, date(2024, 3, 25), "amber", "green", "in progress", "completed"),
        Change(4, date(2024, 3, 26), None, None, "in progress", "dropped"),
    ]

    weeks = weekly_series(actions, changes, policy, date(2024, 3, 29), weeks=5)

    # Fridays 1 and 8 March come before any history: no bars for them.
    assert [w.end for w in weeks] == [date(2024, 3, 15), date(2024, 3, 22), date(2024, 3, 29)]
    order = ("completed", "green", "amber", "red", "none")
    assert [tuple(w.counts[c] for c in order) for w in weeks] == [
        # 15th: 1 Amber (not yet due); 4 Red (overdue); 2 and 3 no return.
        (0, 0, 1, 1, 2),
        # 22nd: 3 Green; 1 now overdue: Red, 4 Red; 2 no return.
        (0, 1, 0, 2, 1),
        # 29th: 1 completed; 3 Green; 2 no return; 4 dropped: not counted.
        (1, 1, 0, 0, 1),
    ]


def test_the_page_counts_the_seed_reports_in_the_right_weeks(board: Board) -> None:
    _, page = fetch(board.link())
    table = page[page.index('id="progress-table"') :]
    rows = re.findall(r"<tr><th scope=\"row\">([^<]+)</th>((?:<td[^>]*>\d+</td>)+)</tr>", table)
    counts = {day: [int(n) for n in re.findall(r">(\d+)<", cells)] for day, cells in rows}
    # WS1-02 completed on 3 August, WS2-01 on 7 September: two by the last week, one at the
    # end of August, none in mid July.
    assert counts["Friday 28 September 2012"][0] == 2
    assert counts["Friday 31 August 2012"][0] == 1
    assert counts["Friday 20 July 2012"][0] == 0
    # From the week of the first report (13 July; the import is dated today, after them all)
    # to today, the same plan each week (completed + RAGs = total).
    assert next(iter(counts)) == "Friday 13 July 2012" and len(counts) == 12
    assert len({c[-1] for c in counts.values()}) == 1
    assert all(sum(c[:-1]) == c[-1] for c in counts.values())


# --- screenshots in a real browser -----------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "var" / "test-artifacts"


@pytest.mark.slow
def test_the_board_page_in_a_real_browser_at_1200_and_400_px(board: Board) -> None:
    from playwright.sync_api import sync_playwright

    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium package; CI installs it")
    link = board.link()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    outside: list[str] = []  # requests to other sites, at either width
    blocked: list[str] = []  # what the Content-Security-Policy blocked
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            for width in (1200, 400):
                page = browser.new_page(viewport={"width": width, "height": 1000})
                page.on(
                    "request",
                    lambda r: (
                        outside.append(r.url) if not r.url.startswith(board.base_url) else None
                    ),
                )
                page.on(
                    "console",
                    lambda m: blocked.append(m.text) if "Content Security" in m.text else None,
                )
                page.goto(link)
                assert page.title().startswith("Board:")
                # One chart shows: the wide one, or on a phone the last weeks drawn narrower.
                chart = page.locator("svg[role=img]:visible")
                assert chart.count() == 1
                wanted = "0 0 720 " if width == 1200 else "0 0 400 "
                assert (chart.get_attribute("viewBox") or "").startswith(wanted)
                box = chart.bounding_box()
                assert box is not None and box["width"] > width * 0.6
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                page.screenshot(path=ARTIFACTS / f"web-board-{width}.png", full_page=False)
                page.close()
        finally:
            browser.close()
    assert outside == [] and blocked == []
