"""The Starlette application of `planworker web`: a lead's page from a signed link, the form
that records their report, and a health endpoint for the container.

A GET never changes anything (mail scanners open every link before the person does); only
the form's POST records, with the token in its body. Every page is rendered on the server
from templates/web/ (autoescaped), with no script and nothing from another site.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import jinja2
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from worker.errors import PlanworkerError
from worker.io.terminal import one_line
from worker.mail.templating import render_template
from worker.plan.data import parse_rag, parse_state
from worker.web import fresh, links
from worker.web.ack_pages import AckPages
from worker.web.cards import card, plan_day
from worker.web.limits import (
    FRESH_PER_CLIENT,
    FRESH_PER_EMAIL,
    PER_ADDRESS,
    PER_TOKEN,
    SlidingWindow,
    hashed,
)
from worker.web.middleware import Headers, Throttle, client_address
from worker.web.views import MAX_NOTE, LeadPage, Report, lead_page, lead_routes, record
from worker.web.views import state_choices as _states

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from worker.cli.app import App
    from worker.jobs.config import RemindConfig
    from worker.models import Plan

log = logging.getLogger("planworker.web")

# The whole form is a few fields and a note of at most MAX_NOTE characters.
MAX_BODY = 64 * 1024


@dataclass
class Site(AckPages):
    """What the pages need from the shell: the command line's App (settings, database,
    contacts), the signing key and the templates. Built once when the server starts."""

    app: App
    key: str
    templates: jinja2.Environment
    sessions: sessionmaker[Session]
    config: RemindConfig  # the mail side: sender, templates, retry policy
    ticks: Callable[[], float] = time.monotonic  # the rate limits' clock
    per_address: SlidingWindow = field(default_factory=lambda: SlidingWindow(PER_ADDRESS))
    per_token: SlidingWindow = field(default_factory=lambda: SlidingWindow(PER_TOKEN))
    fresh_client: SlidingWindow = field(default_factory=lambda: SlidingWindow(FRESH_PER_CLIENT))
    fresh_email: SlidingWindow = field(default_factory=lambda: SlidingWindow(FRESH_PER_EMAIL))

    @property
    def max_age(self) -> timedelta:
        return timedelta(days=self.app.settings.web.link_days)

    def plan(self, session: Session) -> Plan:
        return self.app.plan(session, None)

    def page(self, name: str, context: Mapping[str, Any], status: int = 200) -> HTMLResponse:
        return HTMLResponse(render_template(self.templates, f"web/{name}", context), status)

    def refused(self, status: int, title: str, reason: str, fresh: bool = False) -> HTMLResponse:
        context = {"title": title, "reason": reason, "fresh": fresh, "recorded": False}
        return self.page("refused.html", context, status)

    def too_many(self, window: SlidingWindow, key: str, what: str) -> Response | None:
        """None when one more request for `key` is within `window`'s limit; else the 429
        page (logged with `what`, never a token)."""
        now = self.ticks()
        if window.allow(key, now):
            return None
        log.warning("rate limit: %s (more than %s)", what, window.limit.in_words())
        reason = "Too many requests came in a short time. Please wait a few minutes and try again."
        response = self.refused(429, "Please wait", reason)
        response.headers["Retry-After"] = str(window.retry_after(key, now))
        return response

    # --- the pages (run in a worker thread: they read and write the database) ---

    def health(self) -> Response:
        try:
            with self.reading() as session:
                session.execute(text("SELECT 1"))
        except Exception as exc:
            log.error("health: the database does not answer: %s", type(exc).__name__)
            return PlainTextResponse("database unreachable", 503)
        return PlainTextResponse("ok")

    def claim(
        self, plan: Plan, token: str, now: datetime, purpose: str = links.LEAD
    ) -> links.Claim | HTMLResponse:
        """The token's claim for `purpose`, or the page refusing it (logged without the
        token)."""
        try:
            return links.read(
                self.key,
                token,
                plan_id=plan.id,
                purpose=purpose,
                max_age=self.max_age,
                now=now,
            )
        except links.LinkRefused as exc:
            log.warning("%s link refused: %s", purpose, exc.reason)
            status = 410 if exc.reason == "expired" else 403
            reason = links.EXPLAINED[exc.reason] + (
                " Ask the plan administrator for a new link, or have one emailed to you below."
            )
            return self.refused(status, "This link cannot be used", reason, fresh=True)

    def show(self, token: str, now: datetime) -> Response:
        """GET /lead/{token}: the recipient's open actions. Reads only."""
        with self.reading() as session:
            plan = self.plan(session)
            claim = self.claim(plan, token, now)
            if isinstance(claim, HTMLResponse):
                return claim
            today = plan_day(plan, now)
            found = lead_page(session, plan.id, self.app.directory(), claim.email, today)
            return self.lead(plan, found, token)

    def lead(
        self,
        plan: Plan,
        found: LeadPage,
        token: str,
        message: str = "",
        status: int = 200,
        kept: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        """The lead's page; `kept`: the form as it was sent, filled in again for its action
        (a report that was not recorded is not lost)."""
        zone = ZoneInfo(plan.timezone)
        context = {
            "plan_title": plan.title,
            "name": found.routed.name,
            "email": found.routed.email,
            "actions": [card(a, zone) for a in found.actions],
            "token": token,
            "message": message,
            "error": status >= 400,
            "rags": ["green", "amber", "red"],
            "states": [s.value for s in _states()],
            "max_note": MAX_NOTE,
            "kept": kept or {},
        }
        return self.page("lead.html", context, status)

    def submit(self, form: Mapping[str, str], now: datetime) -> Response:
        """POST /lead: record one action's report, if the link allows it; a 503 page with the
        form filled in again when the database cannot take it."""
        try:
            return self.record_report(form, now)
        except DBAPIError as exc:

            def again(
                session: Session, plan: Plan, claim: links.Claim, message: str
            ) -> HTMLResponse:
                today = plan_day(plan, now)
                page = lead_page(session, plan.id, self.app.directory(), claim.email, today)
                return self.lead(plan, page, form.get("token", ""), message, 503, kept=form)

            return self.not_recorded(form, exc, again, links.LEAD, now)

    def record_report(self, form: Mapping[str, str], now: datetime) -> Response:
        with self.sessions() as session:
            plan = self.plan(session)
            token = form.get("token", "")
            claim = self.claim(plan, token, now)
            if isinstance(claim, HTMLResponse):
                return claim
            directory = self.app.directory()
            ref = form.get("ref", "").strip()
            routed = lead_routes(session, plan.id, directory, claim.email)
            if ref not in routed.refs:
                log.warning(
                    "lead report refused: %s is not routed to %s", one_line(ref[:100]), claim.email
                )
                reason = (
                    f"Action {ref or '(none named)'} is not one of the actions this plan's "
                    f"reminders go to {claim.email} for, so this link cannot update it. "
                    "Ask the plan administrator if it should be yours."
                )
                return self.refused(403, "Not your action", reason)
            report = checked(ref, form)
            today = plan_day(plan, now)
            if isinstance(report, str):
                log.warning("lead report refused for %s: %s", one_line(ref[:100]), report)
                page = lead_page(session, plan.id, directory, claim.email, today)
                return self.lead(plan, page, token, f"{ref}: {report}", 400, kept=form)
            result = record(session, plan.id, routed, report, now)
        if not result.changed:
            message = f"{ref}: nothing new to record (the same as already recorded)."
        else:
            log.info("lead report recorded: %s by %s", ref, claim.email)
            message = f"{ref}: recorded. Thank you."

        def shown(session: Session) -> HTMLResponse:
            page = lead_page(session, plan.id, directory, claim.email, today)
            return self.lead(plan, page, token, message)

        response = self.after_commit(shown, message)
        if result.changed:
            # After the page is sent: the lead does not wait on the mail server.
            local = now.astimezone(ZoneInfo(plan.timezone))
            response.background = BackgroundTask(self.alert, result.refs or [], local)
        return response

    def fresh_link(self, email: str, now: datetime) -> None:
        """Email a fresh link to `email` if the directory knows it (run after the response
        is sent: the page, and its timing, are the same whoever asks)."""
        from worker.configure import mailer
        from worker.jobs.deliver import deliver

        to = fresh.known(self.app.directory(), email)
        if to is None:
            log.warning("fresh link refused: %s is not in the contacts directory", one_line(email))
            return
        web = self.app.settings.web
        try:
            with self.sessions() as session:
                plan = self.plan(session)
                queued = fresh.queue_fresh_link(
                    session, plan, self.config, to,
                    key=self.key, base_url=web.base_url, link_days=web.link_days, now=now,
                )  # fmt: skip
                plan_id = plan.id
            if not queued:
                log.warning(
                    "fresh link not sent: %s was sent %s already", to.email,
                    FRESH_PER_EMAIL.in_words(),
                )  # fmt: skip
                return
            log.info("fresh link queued for %s", to.email)
            deliver(
                self.sessions,
                mailer(self.app.settings),
                clock=utc_now,
                policy=self.config.retry,
                plan_id=plan_id,
            )
        except Exception:
            # Queued messages go with the service's next retry run.
            log.exception("sending a fresh link to %s failed", to.email)

    def alert(self, refs: list[str], now: datetime) -> None:
        """The same follow-up as `status set`: a Red report alerts its strategic lead now
        (run after the page is sent)."""
        from worker.cli.jobs import alert_run

        try:
            alert_run(self.app, None, now, refs)
        except Exception:
            # The report is recorded; the daily escalation job tells them in any case.
            log.exception("the Red alert after a report on the web page failed")


def checked(ref: str, form: Mapping[str, str]) -> Report | str:
    """The form's report for `ref`, or why it cannot be taken."""
    note = form.get("note", "").strip()
    if not note:
        return "write a short note of what happened: it goes in the history the board reads."
    if len(note) > MAX_NOTE:
        return f"the note is {len(note):,} characters long; at most {MAX_NOTE:,} are kept."
    offered = {s.value for s in _states()}
    state_text = form.get("state", "").strip()
    if state_text and state_text not in offered:
        return f"choose a state from the list ({', '.join(sorted(offered))})."
    try:
        rag = parse_rag(form.get("rag", ""))
        state = parse_state(state_text) if state_text else None
    except ValueError as exc:
        return str(exc)
    return Report(ref, rag, state, note)


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    app: App,
    clock: Callable[[], datetime] = utc_now,
    ticks: Callable[[], float] = time.monotonic,
) -> Starlette:
    """The web application over the command line's App, its time read from `clock` (the
    rate limits' from `ticks`); PlanworkerError (no key, no database, no plan) before
    anything is served."""
    from worker.configure import remind_config, template_folders
    from worker.db import session_factory
    from worker.mail.templating import make_environment
    from worker.web.board import board_routes

    settings = app.settings
    key = settings.web.secret_key()
    board_secret = settings.web.board_secret()
    app.require_migrated()
    app.directory()  # a broken contacts file stops start-up, not the first request
    templates = make_environment(template_folders(settings))
    config = remind_config(settings, app.directory())
    site = Site(app, key, templates, session_factory(app.engine), config, ticks)
    with site.sessions() as session:
        site.plan(session)  # no plan, or several and none chosen: say so now
    stylesheet = stylesheet_text(templates)

    async def health(request: Request) -> Response:
        return await run_in_threadpool(site.health)

    async def show(request: Request) -> Response:
        return await run_in_threadpool(site.show, request.path_params["token"], clock())

    async def small_form(request: Request) -> dict[str, str] | Response:
        """The form's fields, or the page refusing a body without a length or too long."""
        length = request.headers.get("content-length", "")
        if not (length.isascii() and length.isdigit()) or int(length) > MAX_BODY:
            log.warning("form refused: body of %s bytes", one_line(length[:20]) or "unknown")
            if not length:
                return site.refused(411, "Length required", "The form was sent without its length.")
            return site.refused(413, "Too long", "The form sent was too long to take.")
        form = await request.form(max_files=0, max_fields=20)
        return {k: v for k, v in form.items() if isinstance(v, str)}

    async def limited_form(request: Request) -> dict[str, str] | Response:
        """small_form, within the reports allowed per link (the token's hash counts)."""
        fields = await small_form(request)
        if isinstance(fields, Response):
            return fields
        token = fields.get("token", "")
        limited = site.too_many(site.per_token, hashed(token), "too many reports with one link")
        return fields if limited is None else limited

    async def submit(request: Request) -> Response:
        fields = await limited_form(request)
        if isinstance(fields, Response):
            return fields
        return await run_in_threadpool(site.submit, fields, clock())

    async def show_ack(request: Request) -> Response:
        return await run_in_threadpool(site.show_ack, request.path_params["token"], clock())

    async def submit_ack(request: Request) -> Response:
        fields = await limited_form(request)
        if isinstance(fields, Response):
            return fields
        return await run_in_threadpool(site.submit_ack, fields, clock())

    async def fresh_form(request: Request) -> Response:
        return site.page("fresh.html", {"sent": False, "email": ""})

    async def fresh_send(request: Request) -> Response:
        length = request.headers.get("content-length", "")
        if not (length.isascii() and length.isdigit()) or int(length) > 4096:
            return site.refused(413, "Too long", "The form sent was too long to take.")
        form = await request.form(max_files=0, max_fields=5)
        email = form.get("email", "")
        email = email.strip()[: fresh.MAX_ADDRESS] if isinstance(email, str) else ""
        client = client_address(request.scope)
        limited = site.too_many(
            site.fresh_client, client, f"fresh links asked for from {client}"
        ) or site.too_many(site.fresh_email, email.lower(), "fresh links asked for one address")
        if limited is not None:
            return limited
        page = site.page("fresh.html", {"sent": True, "email": email})
        page.background = BackgroundTask(site.fresh_link, email, clock())
        return page

    async def css(request: Request) -> Response:
        return Response(stylesheet, media_type="text/css")

    routes = [
        Route("/health", health),
        Route("/lead/{token}", show, methods=["GET"]),
        Route("/lead", submit, methods=["POST"]),
        Route("/ack/{token}", show_ack, methods=["GET"]),
        Route("/ack", submit_ack, methods=["POST"]),
        Route("/fresh-link", fresh_form, methods=["GET"]),
        Route("/fresh-link", fresh_send, methods=["POST"]),
        Route("/static/web.css", css),
        *board_routes(site, board_secret, clock),
    ]
    web = Starlette(routes=routes)
    web.add_middleware(Throttle, site=site)
    web.add_middleware(Headers)
    return web


def stylesheet_text(templates: jinja2.Environment) -> str:
    """The page's stylesheet (templates/web/web.css; an admin's templates folder may
    replace it), served from this site so the CSP needs no inline style."""
    loader = templates.loader
    if loader is None:
        raise PlanworkerError("no templates loader")
    source, _, _ = loader.get_source(templates, "web/web.css")
    return source
