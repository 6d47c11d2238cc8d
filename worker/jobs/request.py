"""The status-return request job: before the board digest, each lead with open actions is
asked, in one message, for a return on them (their actions and last reports, their link to
the leads' page, and a spreadsheet of their rows that `planworker status import` takes back);
a lead who has not returned by the chase day gets one chaser. Rules: worker/rules/requests.py.

Each message's items go in the ledger keyed per lead, action and cycle, so a second run in
the same cycle asks no one twice, and a lead is chased at most once.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from worker.io.export import write_xlsx
from worker.jobs.actions import recorded
from worker.jobs.compose import environment
from worker.jobs.config import RemindConfig
from worker.jobs.pipeline import Job, Request, prepare
from worker.jobs.results import RemindResult
from worker.mail.headers import make_address
from worker.mail.message import Attachment, message_bytes, message_id_for
from worker.mail.templating import TemplateError, render_email
from worker.models import Plan
from worker.rules.as_of import key_suffix
from worker.rules.digest import Recipient
from worker.rules.reminders import ActionFacts
from worker.rules.requests import Asked, Cycle, Step, cycle_of, leads_to_ask, ledger_key, step_due
from worker.store.facts import load_facts, load_schedule, of_ids, plan_actions
from worker.store.returns import record_request, returned
from worker.web import links

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The spreadsheet's headings: those `status import` reads (worker/status_return.py), with the
# action's words and target between them for the lead to read (ignored on import).
RETURN_HEADINGS = ("ID", "Action", "Target", "RAG", "Status", "Note", "Updated By", "Date")


@dataclass(slots=True)
class RequestResult(RemindResult):
    """A request run: which step of which cycle, and who was written to."""

    cycle: Cycle | None = None
    step: str = ""  # "request", "chase", or "" (before the request day: nothing due)
    sent_to: list[tuple[str, str]] = field(default_factory=list)  # (address, step)
    returned: list[str] = field(default_factory=list)  # addresses with a return this cycle

    def summary(self) -> dict[str, Any]:
        found = RemindResult.summary(self)
        found["step"] = self.step
        found["digest"] = self.cycle.digest if self.cycle else None
        return found


def return_rows(actions: Sequence[ActionFacts], by: str) -> list[list[str]]:
    """The lead's rows as `status import` reads them back: RAG and status as they stand,
    the note left for the lead to write."""
    rows = [list(RETURN_HEADINGS)]
    for a in actions:
        text = " ".join((a.action_text or a.description).split())
        rag = (a.rag or "").title()
        rows.append([a.ref, text, a.target_text, rag, a.state.capitalize(), "", by, ""])
    return rows


def xlsx_bytes(rows: list[list[str]]) -> bytes:
    out = io.BytesIO()
    write_xlsx(rows, out)
    return out.getvalue()


def action_card(a: ActionFacts, zone: ZoneInfo) -> dict[str, Any]:
    at = a.latest_note_at
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo("UTC"))  # SQLite gives back naive UTC
    return {
        "ref": a.ref,
        "text": " ".join((a.action_text or a.description).split()),
        "target": a.target_text,
        "rag": (a.rag or "").title() or "none reported",
        "state": a.state,
        "note": " ".join(a.latest_note.split()),
        "note_by": a.latest_note_by,
        "note_on": at.astimezone(zone).strftime("%-d %B %Y") if at else "",
    }


def lead_link(config: RemindConfig, plan_id: int, email: str, now: datetime) -> str:
    """The lead's signed link to their page, or "" when the page is not set up."""
    c = config.requests
    if not c.links:
        return ""
    return links.link(c.base_url, links.sign(c.key, plan_id, email, links.LEAD, now))


@dataclass(frozen=True, slots=True)
class Letter:
    """One request or chaser, rendered."""

    content: bytes
    message_id: str
    subject: str


def compose(
    config: RemindConfig,
    plan: Plan,
    step: Step,
    cycle: Cycle,
    to: Recipient,
    actions: Sequence[ActionFacts],
    now: datetime,
    as_of: date,
    suffix: str,
) -> Letter:
    filename = f"status-return-{cycle.digest.isoformat()}.xlsx"
    context = {
        "step": step,
        "name": to.name,
        "plan_title": plan.title,
        "organisation": plan.organisation,
        "digest_day": cycle.digest.strftime("%A %-d %B %Y"),
        "link": lead_link(config, plan.id, to.email, now),
        "link_days": config.requests.link_days,
        "actions": [action_card(a, ZoneInfo(plan.timezone)) for a in actions],
        "attachment": filename,
    }
    rendered = render_email(environment(config), "request", context)
    key = f"{step}|{plan.id}|{cycle.digest.isoformat()}|{to.email.lower()}{suffix}"
    message_id = message_id_for(key, config.mail_domain())
    content = message_bytes(
        rendered,
        sender=config.identity.sender,
        to=make_address(to.name, to.email),
        reply_to=config.identity.reply_to,
        message_id=message_id,
        date=now,
        headers={"X-Planworker-Job": f"request {as_of.isoformat()}"},
        attachments=[Attachment(filename, XLSX, xlsx_bytes(return_rows(actions, to.name)))],
    )
    return Letter(content, message_id, rendered.subject)


def _sent(session: Session, step: Step, lead: Asked, cycle: Cycle, suffix: str) -> bool:
    keys = [ledger_key(step, lead.recipient.email, a, cycle) + suffix for a in lead.action_ids]
    return bool(recorded(session, keys, suffix))


def due_step(
    session: Session, step: Step, lead: Asked, cycle: Cycle, suffix: str, back: set[str]
) -> Step | None:
    """What this lead gets today: the request if not yet asked this cycle (late, on the
    chase day, when the job did not run before); a chaser once, from the chase day, if
    they have not returned."""
    if not _sent(session, "request", lead, cycle, suffix):
        return "request"
    if step == "chase" and lead.recipient.email.lower() not in back:
        return None if _sent(session, "chase", lead, cycle, suffix) else "chase"
    return None


def plan_requests(job: Job, request: Request, now: datetime) -> RequestResult:
    """Decide, render and (unless a dry run) record today's requests and chasers."""
    r, config = request, request.config
    c = config.requests
    cycle = cycle_of(
        r.as_of, config.digest_weekday, c.days_before_digest, c.chase_after_days, config.days
    )
    step = step_due(r.as_of, cycle)
    working = config.days.is_working(r.as_of)
    result = RequestResult(r.as_of, working, cycle=cycle, step=step or "")
    if step is None or not working:
        return result
    suffix = key_suffix(r.as_of, r.today)
    with r.sessions() as session:
        plan = session.get_one(Plan, r.plan_id)
        result.dates_reread = prepare(session, plan, config)
        leads = leads_to_ask(load_schedule(session, plan_actions(plan.id)), config.directory)
        since = datetime.combine(cycle.request, time(0), ZoneInfo(plan.timezone))
        back = returned(session, plan.id, cycle, since)
        result.returned = sorted(back)
        for lead in leads:
            this = due_step(session, step, lead, cycle, suffix, back)
            if this is None:
                continue
            facts = load_facts(session, of_ids(lead.action_ids), plan.id, r.as_of)
            try:
                letter = compose(
                    config, plan, this, cycle, lead.recipient, facts, now, r.as_of, suffix
                )
            except (TemplateError, ValueError) as exc:
                result.render_errors.append(f"{lead.recipient.email}: {exc}")
                continue
            result.sent_to.append((lead.recipient.email, this))
            result.messages += 1
            result.items += len(facts)
            result.subjects.append(letter.subject)
            result.message_ids.append(letter.message_id)
            if r.dry_run:
                continue
            try:
                record_request(
                    session,
                    plan_id=plan.id,
                    step=this,
                    cycle=cycle,
                    as_of=r.as_of,
                    to=lead.recipient,
                    actions=facts,
                    content=letter.content,
                    sender=config.identity.sender.addr_spec,
                    message_id=letter.message_id,
                    subject=letter.subject,
                    now=now,
                    suffix=suffix,
                )
                session.commit()
            except IntegrityError:
                session.rollback()  # another worker recorded it first: it goes once
                result.sent_to.pop()
                result.messages -= 1
        if r.dry_run:
            session.rollback()
        else:
            session.commit()
    return result


JOB = Job(name="request", template="request", schedule="request", plan=plan_requests)
