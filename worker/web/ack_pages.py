"""The acknowledgement page's handlers (GET /ack/{token}, POST /ack), mixed into the
site (worker/web/app.py); what may be acknowledged and how it is stored: worker/web/ack.py."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import DBAPIError
from starlette.responses import HTMLResponse, Response

from worker.io.terminal import one_line
from worker.moments import as_utc
from worker.rules.acknowledge import Acknowledged
from worker.rules.escalation import EscalationPolicy
from worker.rules.rag import RagPolicy
from worker.web import links
from worker.web.ack import MAX_ACK_NOTE, AckPage, ack_page, acknowledge
from worker.web.cards import card, plan_day
from worker.web.pages import Pages

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from worker.models import Plan

log = logging.getLogger("planworker.web")


class AckPages(Pages):
    """The acknowledgement pages."""

    def ack_page(self, session: Session, plan: Plan, email: str, now: datetime) -> AckPage:
        settings = self.app.settings
        return ack_page(
            session,
            plan.id,
            self.app.directory(),
            email,
            settings.rag.as_dataclass(RagPolicy),
            settings.escalation.as_dataclass(EscalationPolicy),
            plan_day(plan, now),
        )

    def show_ack(self, token: str, now: datetime) -> Response:
        """GET /ack/{token}: the escalated actions the recipient may acknowledge. Reads only."""
        with self.reading() as session:
            plan = self.plan(session)
            claim = self.claim(plan, token, now, links.ACK)
            if isinstance(claim, HTMLResponse):
                return claim
            return self.acks(plan, self.ack_page(session, plan, claim.email, now), token)

    def acks(
        self,
        plan: Plan,
        found: AckPage,
        token: str,
        message: str = "",
        status: int = 200,
        kept: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        """The acknowledgement page; `kept`: the form as sent, its note filled in again."""
        zone = ZoneInfo(plan.timezone)
        cards = [ack_card(card(a, zone), mine, zone) for a, mine in found.actions]
        context = {
            "plan_title": plan.title,
            "name": found.who.name,
            "email": found.who.email,
            "board": found.who.board,
            "actions": cards,
            "token": token,
            "message": message,
            "error": status >= 400,
            "max_note": MAX_ACK_NOTE,
            "kept": kept or {},
        }
        return self.page("ack.html", context, status)

    def submit_ack(self, form: Mapping[str, str], now: datetime) -> Response:
        """POST /ack: record one acknowledgement, if the link's address may make it; a 503 page
        with the note filled in again when the database cannot take it."""
        try:
            return self.record_ack(form, now)
        except DBAPIError as exc:

            def again(
                session: Session, plan: Plan, claim: links.Claim, message: str
            ) -> HTMLResponse:
                page = self.ack_page(session, plan, claim.email, now)
                return self.acks(plan, page, form.get("token", ""), message, 503, kept=form)

            return self.not_recorded(form, exc, again, links.ACK, now)

    def record_ack(self, form: Mapping[str, str], now: datetime) -> Response:
        with self.sessions() as session:
            plan = self.plan(session)
            token = form.get("token", "")
            claim = self.claim(plan, token, now, links.ACK)
            if isinstance(claim, HTMLResponse):
                return claim
            page = self.ack_page(session, plan, claim.email, now)
            ref = form.get("ref", "").strip()
            action = next((a for a, _ in page.actions if a.ref == ref), None)
            if action is None:
                log.warning(
                    "acknowledgement refused: %s is not escalated to %s",
                    one_line(ref[:100]),
                    claim.email,
                )
                reason = (
                    f"Action {ref or '(none named)'} is not one of the escalated actions "
                    f"{claim.email} hears about as a strategic lead or board member, so this "
                    "link cannot acknowledge it."
                )
                return self.refused(403, "Not an action you can acknowledge", reason)
            note = form.get("note", "").strip()
            problem = ack_note_problem(note)
            if problem:
                log.warning("acknowledgement refused for %s: %s", ref, problem)
                return self.acks(plan, page, token, f"{ref}: {problem}", 400, kept=form)
            done = acknowledge(session, action, page.who, note, now)
        if done:
            log.info("acknowledgement recorded: %s by %s", ref, claim.email)
            message = f"{ref}: acknowledged. Its weekly escalation stops until it changes."
        else:
            message = f"{ref}: already acknowledged with the same note."

        def shown(session: Session) -> HTMLResponse:
            return self.acks(plan, self.ack_page(session, plan, claim.email, now), token, message)

        return self.after_commit(shown, message)


def ack_note_problem(note: str) -> str:
    """Why an acknowledgement's note cannot be taken, or ""."""
    if not note:
        return "write a short note (what is being done about it): the board reads it."
    if len(note) > MAX_ACK_NOTE:
        return f"the note is {len(note):,} characters long; at most {MAX_ACK_NOTE:,} are kept."
    return ""


def ack_card(shown: dict[str, Any], mine: Acknowledged | None, zone: ZoneInfo) -> dict[str, Any]:
    """An action on the acknowledgement page: the lead's card, and one's own standing
    acknowledgement of it."""
    if mine is None:
        return {**shown, "acked": ""}
    return {**shown, "acked": f"{as_utc(mine.at).astimezone(zone):%-d %B %Y}: {mine.note}"}
