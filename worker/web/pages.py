"""What every page handler of `planworker web` is given by the site (worker/web/app.py), and
the page for a form the database could not take, shared by the lead's and the
acknowledgement's forms."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError
from starlette.responses import HTMLResponse, Response

from worker.io.terminal import one_line
from worker.web import links
from worker.web.views import MAX_NOTE

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from worker.cli.app import App
    from worker.models import Plan

log = logging.getLogger("planworker.web")

# Seconds a person is asked to wait before sending a form again that the database could not
# take (SQLite's write lock held by a long run past its busy timeout, or the server down).
RETRY_AFTER_S = 60
NOT_RECORDED = (
    "{ref}: not recorded. The plan's database could not take it just now (it is busy with "
    "a daily run or an import, or not answering)."
)
KEPT_BELOW = " What you wrote is kept below: please send it again in a minute."


class Pages:
    """The site's pages share these; the site provides what raises NotImplementedError."""

    app: App
    sessions: sessionmaker[Session]

    def plan(self, session: Session) -> Plan:
        raise NotImplementedError

    def reading(self) -> Session:
        """A session for a page that only reads: on SQLite it neither waits for a daily
        run's batch holding the write lock nor holds that lock itself (worker/db.py)."""
        from worker.db import readers_of

        return readers_of(self.sessions)()

    def claim(
        self, plan: Plan, token: str, now: datetime, purpose: str = links.LEAD
    ) -> links.Claim | HTMLResponse:
        raise NotImplementedError

    def page(self, name: str, context: Mapping[str, Any], status: int = 200) -> HTMLResponse:
        raise NotImplementedError

    def refused(self, status: int, title: str, reason: str, fresh: bool = False) -> HTMLResponse:
        raise NotImplementedError

    def after_commit(self, shown: Callable[[Session], HTMLResponse], said: str) -> HTMLResponse:
        """The page after a form was recorded and committed, read by `shown` from a snapshot:
        a run taking the write lock now, or the database going away, must not make a recorded
        report look lost (the person would send it again). If it cannot be read, a short page
        says what was recorded."""
        try:
            with self.reading() as session:
                return shown(session)
        except DBAPIError as exc:
            log.error("the page after a recorded form could not be read: %s", type(exc).__name__)
            reason = f"{said} The page could not be shown just now: open your link again later."
            said_only = {"title": "Recorded", "reason": reason, "fresh": False, "recorded": True}
            return self.page("refused.html", said_only)

    def not_recorded(
        self,
        form: Mapping[str, str],
        exc: DBAPIError,
        again: Callable[[Session, Plan, links.Claim, str], HTMLResponse],
        purpose: str,
        now: datetime,
    ) -> Response:
        """The page for a form the database could not take: 503, saying nothing was recorded,
        with the form filled in again by `again` (from a snapshot, which a writer holding
        SQLite's lock does not block), or, if even reading fails, the note quoted back."""
        ref = form.get("ref", "").strip()[:100]
        reason = str(exc.orig if exc.orig is not None else exc).strip().splitlines()
        log.error(
            "%s form for %s not recorded: the database refused the write: %s",
            purpose, one_line(ref), one_line(reason[0] if reason else type(exc).__name__),
        )  # fmt: skip
        message = NOT_RECORDED.format(ref=ref or "Your form")
        page: HTMLResponse
        try:
            with self.reading() as session:
                plan = self.plan(session)
                claim = self.claim(plan, form.get("token", ""), now, purpose)
                if isinstance(claim, HTMLResponse):
                    page = claim
                else:
                    page = again(session, plan, claim, message + KEPT_BELOW)
        except DBAPIError:
            note = form.get("note", "").strip()[:MAX_NOTE]
            wrote = (
                f" What you wrote, to send again in a minute: \u201c{note}\u201d" if note else ""
            )
            page = self.refused(503, "Not recorded", message + wrote)
        page.status_code = 503
        page.headers["Retry-After"] = str(RETRY_AFTER_S)
        return page
