"""The board's page of `planworker web` (read only): the plan's RAG picture by work stream and
its Red and Amber actions, as the board digest builds them (jobs/digest.board_view), and a
chart of progress by week rebuilt from the status history (rules/progress.py).

Opened from a board member's signed link (GET /board/{token}, purpose "board", for an
address in the contacts file's [[board]] list) or with the board's shared password, typed
into the form at GET /board and sent as a POST, so it is never in a URL. Nothing here
changes anything.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from worker.rules.progress import CATEGORIES, LABELS, weekly_series
from worker.web import links
from worker.web.chart import PHONE, progress_svg

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from worker.models import Plan
    from worker.web.app import Site

log = logging.getLogger("planworker.web")

# The password form is one field: anything longer is not a password.
MAX_FORM = 4096
# The weeks a phone's chart shows (the table under it has them all).
PHONE_WEEKS = 6


@dataclass
class BoardPages:
    site: Site
    secret: str | None  # the shared password; None: only signed links open the page

    def by_link(self, token: str, now: datetime) -> Response:
        """GET /board/{token}: the page for a board member's signed link."""
        site = self.site
        with site.reading() as session:
            plan = site.plan(session)
            try:
                claim = links.read(
                    site.key,
                    token,
                    plan_id=plan.id,
                    purpose=links.BOARD,
                    max_age=site.max_age,
                    now=now,
                )
            except links.LinkRefused as exc:
                if exc.reason == "tampered" and self.is_lead_link(token, plan.id, now):
                    log.warning("board link refused: a lead's link")
                    reason = (
                        "This is a lead's link: it opens the page of their own actions "
                        "(/lead/…), not the board's page. Board members have their own links: "
                        "ask the plan administrator."
                    )
                    return site.refused(403, "Not a board link", reason)
                log.warning("board link refused: %s", exc.reason)
                status = 410 if exc.reason == "expired" else 403
                reason = links.EXPLAINED[exc.reason] + " Ask the plan administrator for a new link."
                return site.refused(status, "This link cannot be used", reason)
            members = {p.email.lower() for p in site.app.directory().board}
            if claim.email not in members:
                log.warning("board link refused: %s is not on the board", claim.email)
                reason = (
                    f"{claim.email} is not a member of the board in this plan's contacts, "
                    "so this link does not open the board's page. Ask the plan administrator."
                )
                return site.refused(403, "Not on the board", reason)
            return self.page(session, plan, now, f"Opened from the link for {claim.email}.")

    def is_lead_link(self, token: str, plan_id: int, now: datetime) -> bool:
        """Whether a token refused here is a valid lead's link (so the page can say so)."""
        site = self.site
        try:
            links.read(
                site.key, token, plan_id=plan_id, purpose=links.LEAD, max_age=site.max_age, now=now
            )
        except links.LinkRefused:
            return False
        return True

    def ask(self) -> Response:
        """GET /board: the form asking for the board's password."""
        if self.secret is None:
            return self.not_set()
        return self.site.page("board_password.html", {"wrong": False})

    def by_password(self, given: str, now: datetime) -> Response:
        """POST /board: the page, when the password matches (compared in constant time)."""
        if self.secret is None:
            return self.not_set()
        if not hmac.compare_digest(given.strip().encode(), self.secret.encode()):
            log.warning("board password refused")
            return self.site.page("board_password.html", {"wrong": True}, 403)
        with self.site.sessions() as session:
            plan = self.site.plan(session)
            return self.page(session, plan, now, "Opened with the board's password.")

    def not_set(self) -> Response:
        reason = (
            "The board's page opens from a board member's signed link: "
            "ask the plan administrator for yours."
        )
        return self.site.refused(404, "No board password here", reason)

    def page(self, session: Session, plan: Plan, now: datetime, how: str) -> HTMLResponse:
        """The board's page as of today in the plan's time zone. Reads only."""
        from worker.configure import remind_config
        from worker.jobs.digest import board_view
        from worker.mail.board_context import headline, rag_sections, rag_word
        from worker.store import progress
        from worker.store.facts import load_facts, plan_actions

        site = self.site
        today = now.astimezone(ZoneInfo(plan.timezone)).date()
        config = remind_config(site.app.settings, site.app.directory())
        digest, _ = board_view(session, plan, config, today)
        facts = load_facts(session, plan_actions(plan.id), plan.id, today)
        changes = progress.history(session, plan.id, plan.timezone)
        weeks = weekly_series({f.id: f.progress() for f in facts}, changes, config.rag, today)
        context = {
            "digest": digest,
            "headline": headline(digest),
            "sections": rag_sections(digest),
            "rag_word": rag_word,
            # Built by ElementTree, so escaped. A phone gets the last weeks, drawn narrower,
            # so its labels stay readable (the stylesheet shows one or the other).
            "chart": Markup(progress_svg(weeks)),
            "phone_chart": Markup(progress_svg(weeks[-PHONE_WEEKS:], PHONE, "phone")),
            "phone_weeks": min(len(weeks), PHONE_WEEKS),
            "weeks": weeks,
            "categories": [(name, LABELS[name]) for name in CATEGORIES],
            "how": how,
        }
        return site.page("board.html", context)


def board_routes(site: Site, secret: str | None, clock: Callable[[], datetime]) -> list[Route]:
    """The board's routes, for create_app."""
    pages = BoardPages(site, secret)

    async def by_link(request: Request) -> Response:
        return await run_in_threadpool(pages.by_link, request.path_params["token"], clock())

    async def ask(request: Request) -> Response:
        return await run_in_threadpool(pages.ask)

    async def by_password(request: Request) -> Response:
        length = request.headers.get("content-length", "")
        if not (length.isascii() and length.isdigit()) or int(length) > MAX_FORM:
            log.warning("board password refused: body of %s bytes", length[:20] or "unknown")
            return site.refused(413, "Too long", "The form sent was too long to take.")
        form = await request.form(max_files=0, max_fields=5)
        given = form.get("password", "")
        return await run_in_threadpool(
            pages.by_password, given if isinstance(given, str) else "", clock()
        )

    return [
        Route("/board/{token}", by_link, methods=["GET"]),
        Route("/board", ask, methods=["GET"]),
        Route("/board", by_password, methods=["POST"]),
    ]
