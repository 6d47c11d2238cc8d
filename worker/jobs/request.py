"""The status-return request job: before the board digest, each lead with open actions is
asked, in one message, for a return on them (their actions and last reports, their link to
the leads' page, and a spreadsheet of their rows that `planworker status import` takes back);
a lead who has not returned by the chase day gets one chaser. Rules: worker/rules/requests.py.

Each message's items go in the ledger keyed per lead, action and cycle, so a second run in
the same cycle asks no one twice, and a lead is chased at most once.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from worker.io.export import write_xlsx
from worker.jobs.actions import FACTS_CHUNK, recorded
from worker.jobs.compose import envelope, environment
from worker.jobs.config import RemindConfig
from worker.jobs.pipeline import Job, Request, prepare
from worker.jobs.results import RemindResult
from worker.mail.message import Attachment, message_id_for
from worker.mail.templating import TemplateError, render_email
from worker.models import Plan
from worker.moments import as_utc
from worker.rules.as_of import key_suffix
from worker.rules.digest import Recipient
from worker.rules.reminders import ActionFacts, Schedule
from worker.rules.requests import (
    Asked,
    Cycle,
    Step,
    cycle_of,
    known,
    last_cycle,
    leads_to_ask,
    ledger_key,
    no_returns,
    step_due,
)
from worker.store.facts import chunk_bounds, load_facts, load_schedule, of_ids, plan_actions
from worker.store.returns import chased, record_request, returned
from worker.store.status import RiskIndex, plan_risks
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
    return {
        "ref": a.ref,
        "text": " ".join((a.action_text or a.description).split()),
        "target": a.target_text,
        "rag": (a.rag or "").title() or "none reported",
        "state": a.state,
        "note": " ".join(a.latest_note.split()),
        "note_by": a.latest_note_by,
        "note_on": as_utc(at).astimezone(zone).strftime("%-d %B %Y") if at else "",
    }


def lead_link(config: RemindConfig, plan_id: int, email: str, now: datetime) -> str:
    """The lead's signed link to their page, or "" when the page is not set up."""
    c = config.requests
    if not c.links:
        return ""
    return links.link(c.base_url, links.sign(c.key, plan_id, email, links.LEAD, now))


@dataclass(frozen=True, slots=True)
class Letter:
    """One request, chaser or notice, rendered."""

    content: bytes
    message_id: str
    subject: str


def letter(
    config: RemindConfig,
    template: str,
    context: dict[str, Any],
    key: str,
    to: Recipient,
    now: datetime,
    as_of: date,
    attachments: Sequence[Attachment] = (),
) -> Letter:
    rendered = render_email(environment(config), template, context)
    message_id = message_id_for(key, config.mail_domain())
    content = envelope(rendered, config, to, message_id, now, "request", as_of, attachments)
    return Letter(content, message_id, rendered.subject)


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
    """A lead's request or chaser, with their spreadsheet."""
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
    key = f"{step}|{plan.id}|{cycle.digest.isoformat()}|{to.email.lower()}{suffix}"
    sheet = Attachment(filename, XLSX, xlsx_bytes(return_rows(actions, to.name)))
    return letter(config, "request", context, key, to, now, as_of, [sheet])


def compose_notice(
    config: RemindConfig,
    plan: Plan,
    cycle: Cycle,
    to: Recipient,
    leads: dict[str, list[ActionFacts]],
    now: datetime,
    as_of: date,
    suffix: str,
) -> Letter:
    """A strategic lead's notice of the leads in their work streams with no return."""
    zone = ZoneInfo(plan.timezone)
    context = {
        "name": to.name,
        "plan_title": plan.title,
        "organisation": plan.organisation,
        "digest_day": cycle.digest.strftime("%A %-d %B %Y"),
        "leads": [
            {
                "name": (known(config.directory, email) or Recipient(email, email)).name,
                "email": email,
                "actions": [action_card(a, zone) for a in facts],
            }
            for email, facts in sorted(leads.items())
        ],
    }
    key = f"noreturn|{plan.id}|{cycle.digest.isoformat()}|{to.email.lower()}{suffix}"
    return letter(config, "no_return", context, key, to, now, as_of)


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


@dataclass
class Run:
    """One run's fixed inputs, and what it has done so far."""

    session: Session
    request: Request
    plan: Plan
    now: datetime
    suffix: str
    result: RequestResult

    def record(self, step: Step, cycle: Cycle, to: Recipient, facts: Sequence[ActionFacts],
               made: Letter) -> None:  # fmt: skip
        """Count the message and (unless a dry run) record it, once."""
        r, result = self.request, self.result
        if not r.dry_run:
            try:
                record_request(
                    self.session,
                    plan_id=self.plan.id,
                    step=step,
                    cycle=cycle,
                    as_of=r.as_of,
                    to=to,
                    actions=facts,
                    content=made.content,
                    sender=r.config.identity.sender.addr_spec,
                    message_id=made.message_id,
                    subject=made.subject,
                    now=self.now,
                    suffix=self.suffix,
                )
                self.session.commit()
            except IntegrityError:
                self.session.rollback()  # another worker recorded it first: it goes once
                return
        result.sent_to.append((to.email, step))
        result.messages += 1
        result.items += len(facts)


def _schedules(session: Session, plan_id: int) -> Iterator[Schedule]:
    """The plan's actions as the routing needs them, FACTS_CHUNK at a time: at 1M, read at
    once, they were most of the run's 1.25 GB."""
    for chunk in chunk_bounds(session, plan_actions(plan_id), FACTS_CHUNK):
        yield from load_schedule(session, chunk)


def ask_leads(run: Run, step: Step, cycle: Cycle) -> None:
    """Requests to the leads not yet asked this cycle; chasers, once, from the chase day."""
    session, r, plan = run.session, run.request, run.plan
    config = r.config
    leads = leads_to_ask(_schedules(session, plan.id), config.directory)
    since = datetime.combine(cycle.request, time(0), ZoneInfo(plan.timezone))
    back = returned(session, plan.id, cycle, since)
    run.result.returned = sorted(back)
    risks: RiskIndex | None = None
    for lead in leads:
        this = due_step(session, step, lead, cycle, run.suffix, back)
        if this is None:
            continue
        # The plan's risks are read once, not for every lead: asking 200 leads of a 100k
        # plan read the whole plan 200 times (49 of the run's 68 s).
        if risks is None:
            risks = plan_risks(session, plan.id, r.as_of)
        facts = load_facts(session, of_ids(lead.action_ids), plan.id, r.as_of, risks)
        try:
            made = compose(config, plan, this, cycle, lead.recipient, facts, run.now, r.as_of,
                           run.suffix)  # fmt: skip
        except (TemplateError, ValueError) as exc:
            run.result.render_errors.append(f"{lead.recipient.email}: {exc}")
            continue
        run.record(this, cycle, lead.recipient, facts, made)


def tell_strategic_leads(run: Run, cycle: Cycle) -> None:
    """After the digest, each strategic lead hears once of the leads in their work streams
    who were chased and still sent no return."""
    session, r, plan = run.session, run.request, run.plan
    pairs = chased(session, plan.id, cycle)
    if not pairs:
        return
    since = datetime.combine(cycle.request, time(0), ZoneInfo(plan.timezone))
    back = returned(session, plan.id, cycle, since)
    ids = sorted({action_id for _, action_id in pairs})
    facts = {f.id: f for f in load_facts(session, of_ids(ids), plan.id, r.as_of)}
    for who, leads in no_returns(pairs, back, facts, r.config.directory).values():
        about = sorted({a for found in leads.values() for a in found})
        keys = [ledger_key("noreturn", who.email, a, cycle) + run.suffix for a in about]
        if recorded(session, keys, run.suffix):
            continue
        by_lead = {email: [facts[a] for a in found] for email, found in leads.items()}
        try:
            made = compose_notice(r.config, plan, cycle, who, by_lead, run.now, r.as_of,
                                  run.suffix)  # fmt: skip
        except (TemplateError, ValueError) as exc:
            run.result.render_errors.append(f"{who.email}: {exc}")
            continue
        run.record("noreturn", cycle, who, [facts[a] for a in about], made)


def plan_requests(job: Job, request: Request, now: datetime) -> RequestResult:
    """Decide, render and (unless a dry run) record today's requests, chasers and notices."""
    r, config = request, request.config
    c = config.requests
    timing = (config.digest_weekday, c.days_before_digest, c.chase_after_days, config.days)
    cycle = cycle_of(r.as_of, *timing)
    step = step_due(r.as_of, cycle)
    working = config.days.is_working(r.as_of)
    result = RequestResult(r.as_of, working, cycle=cycle, step=step or "")
    if not working:
        return result
    with r.sessions() as session:
        plan = session.get_one(Plan, r.plan_id)
        result.dates_reread = prepare(session, plan, config)
        run = Run(session, r, plan, now, key_suffix(r.as_of, r.today), result)
        tell_strategic_leads(run, last_cycle(r.as_of, *timing))
        if step is not None:
            ask_leads(run, step, cycle)
        if r.dry_run:
            session.rollback()
        else:
            session.commit()
    return result


JOB = Job(name="request", template="request", schedule="request", plan=plan_requests)
