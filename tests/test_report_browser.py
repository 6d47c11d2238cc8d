"""The board report opened in a real browser (Debian's headless Chromium, driven by
Playwright): it renders, fetches nothing but itself, and shows the RAG summary.

Leaves a screenshot in var/test-artifacts/board-report.png for a person to look at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Request, Route, sync_playwright

from tests.test_board_render import TEMPLATES, digest
from worker.mail.board import report_html
from worker.mail.templating import make_environment

# Slow (a real browser): left out by pytest -m 'not slow'.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "var" / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_MS = 8_000
LOCAL_SCHEMES = ("file://", "data:")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # CI installs it, and there (PLANWORKER_TEST_REQUIRE_ALL) this skip is a failure.
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(
            f"{CHROMIUM} not found: install Debian's chromium package "
            "(apt-get install chromium); CI installs it"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"], timeout=TIMEOUT_MS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def report_page(browser: Browser, tmp_path: Path) -> Iterator[tuple[Page, list[str]]]:
    """The report opened from a file, with every URL the page asked for."""
    path = tmp_path / "board-report.html"
    path.write_text(report_html(make_environment([TEMPLATES]), digest()), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    page.set_default_timeout(TIMEOUT_MS)
    requested: list[str] = []
    page.on("request", lambda request: _record(requested, request))
    # Anything not local is refused as well as recorded: the test never touches the network.
    page.route("**/*", _local_only)
    try:
        page.goto(path.as_uri(), wait_until="load")
        yield page, requested
    finally:
        page.close()


def _record(requested: list[str], request: Request) -> None:
    requested.append(request.url)


def _local_only(route: Route) -> None:
    if route.request.url.startswith(LOCAL_SCHEMES):
        route.continue_()
    else:
        route.abort()


def test_report_renders_locally_and_shows_the_rag_summary(
    report_page: tuple[Page, list[str]],
) -> None:
    page, requested = report_page

    assert requested, "the page itself should be the first request"
    assert requested[0].endswith("/board-report.html")
    outside = [url for url in requested if not url.startswith(LOCAL_SCHEMES)]
    assert outside == [], f"the report fetched {outside}"

    assert page.title() == "Board report 1 October 2012 — Central Bedfordshire Council"
    height = page.evaluate("document.documentElement.scrollHeight")
    assert isinstance(height, int) and height > 800

    summary = page.locator("table.summary")
    assert summary.is_visible()
    ws1 = summary.locator("tr.stream", has_text="Safeguarding six month actions")
    assert ws1.is_visible()
    assert " ".join(ws1.inner_text().split()) == (
        "WS1 Safeguarding six month actions 6 2 1 8 6 2 1 8 17"
    )
    # The bar's parts are drawn, in proportion: 6 Green is wider than 2 Amber, wider than 1 Red.
    widths = []
    for title in ("Green: 6", "Amber: 2", "Red: 1", "Not reported: 8"):
        part = ws1.locator(f'td[title="{title}"]')
        assert part.is_visible()
        box = part.bounding_box()
        assert box is not None and box["height"] > 10
        widths.append(box["width"])
    green, amber, red, none = widths
    assert none > green > amber > red > 0
    assert summary.locator("tr.stream").count() == 4

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "board-report.png"
    page.screenshot(path=shot, full_page=True)
    assert shot.stat().st_size > 10_000
