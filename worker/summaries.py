"""What the reminder commands print: plain text for people, dicts for --json."""

from __future__ import annotations

from collections import Counter
from typing import Any

from worker.jobs.results import RemindResult
from worker.jobs.simulate import Delivery
from worker.models import Message, Notification
from worker.rules.digest import SECTIONS, Digest
from worker.store.outbox import DeliveryReport

SECTION_NAMES = {
    "overdue": "overdue",
    "due_soon": "due soon",
    "review": "review due",
    "unassigned": "no one to remind",
    "undelivered": "not delivered",
    "turned_red": "turned Red",
    "escalated": "escalated",
}


def _sections(digest: Digest) -> str:
    counts = Counter(i.section for i in digest.items)
    return ", ".join(f"{counts[s]} {SECTION_NAMES[s]}" for s in SECTIONS if counts[s])


def remind_json(result: RemindResult, outbox: dict[str, int], dry_run: bool) -> dict[str, Any]:
    delivery = result.delivery or DeliveryReport()
    return {
        "as_of": result.as_of.isoformat(),
        "working_day": result.working_day,
        "dry_run": dry_run,
        "dates_reread": result.dates_reread,
        "messages": [
            {
                "to": d.recipient.email,
                "name": d.recipient.name,
                "subject": subject,
                "message_id": message_id,
                "items": [
                    {
                        "ref": i.ref,
                        "section": i.section,
                        "rule": i.rule,
                        "due": i.due.isoformat() if i.due else None,
                        "days": i.days,
                        "via": list(i.via),
                        "reason": i.reason,
                        "key": i.key,
                    }
                    for i in d.items
                ],
            }
            for d, subject, message_id in zip(
                result.planned, result.subjects, result.message_ids, strict=True
            )
        ],
        "counts": {
            "planned": result.messages,
            "sent": delivery.sent,
            "failed": delivery.failed,
            "retrying": delivery.retrying,
            "pending": outbox.get("pending", 0) + outbox.get("sending", 0),
        },
        # Messages that could not be made or were refused for good: more than 0, a failed run.
        "failures": result.failures,
        "outbox": outbox,
        "errors": result.render_errors + delivery.errors,
        "stopped_early": delivery.stopped_early,
    }


JOB_TITLES = {"remind": "Lead reminders", "escalate": "Escalations", "alert": "Red alerts"}
JOB_LABELS = {"remind": "reminder", "escalate": "escalation", "digest": "digest"}


def render_remind(
    result: RemindResult, outbox: dict[str, int], where: str, dry_run: bool, job: str = "remind"
) -> str:
    day = f"{result.as_of:%A} {result.as_of.day} {result.as_of:%B %Y}"
    title = JOB_TITLES.get(job, job)
    lines = [f"{title} for {day}" + (" (dry run: nothing sent or recorded)" if dry_run else "")]
    if not result.working_day:
        lines.append("  not a working day: nothing is due today")
    if result.dates_reread:
        lines.append(
            f"  dates.month_day changed: re-read the dates of {result.dates_reread} actions"
        )
    verb = "would send" if dry_run else "planned"
    items = sum(len(d.items) for d in result.planned)
    lines.append(f"  {verb} {len(result.planned)} messages with {items} items")
    for digest in result.planned:
        refs = ", ".join(dict.fromkeys(i.ref for i in digest.items))
        lines.append(f"  - {digest.recipient.email}: {_sections(digest)} ({refs})")
    if result.delivery is not None:
        d = result.delivery
        lines.append(
            f"  delivered to {where}: {d.sent} sent, {d.failed} failed, {d.retrying} to retry later"
        )
        if d.stopped_early:
            lines.append(f"  delivery stopped early: {d.stopped_early}")
    if not dry_run:
        lines.append("  outbox: " + ", ".join(f"{n} {state}" for state, n in outbox.items()))
    return "\n".join(lines)


def render_timeline(timeline: list[Delivery]) -> str:
    if not timeline:
        return "no messages in this period"
    lines = []
    for d in timeline:
        who = f"{d.email} ({d.name})" if d.name else d.email
        lines.append(f"{d.day:%a %Y-%m-%d}  {JOB_LABELS.get(d.job, d.job):<10} {who}")
        if d.job == "digest":
            lines.append(f"    {d.subject}")
            continue
        for ref, section, rule in d.items:
            lines.append(f"    {ref:<9} {SECTION_NAMES.get(section, section):<16} {rule}")
    people = len({d.email for d in timeline})
    items = sum(len(d.items) for d in timeline)
    lines.append(f"{len(timeline)} messages to {people} recipients, {items} items")
    return "\n".join(lines)


def timeline_json(timeline: list[Delivery]) -> dict[str, Any]:
    return {
        "messages": [
            {
                "date": d.day.isoformat(),
                "job": d.job,
                "to": d.email,
                "name": d.name,
                "subject": d.subject,
                "items": [{"ref": r, "section": s, "rule": u} for r, s, u in d.items],
            }
            for d in timeline
        ],
        "counts": {
            "messages": len(timeline),
            "recipients": len({d.email for d in timeline}),
            "items": sum(len(d.items) for d in timeline),
        },
    }


def message_json(message: Message, items: list[tuple[str, Notification]]) -> dict[str, Any]:
    return {
        "id": message.id,
        "state": message.state,
        "job": message.job,
        "as_of": message.as_of.isoformat(),
        "to": message.recipient_email,
        "name": message.recipient_name,
        "subject": message.subject,
        "message_id": message.message_id,
        "attempts": message.attempts,
        "created_at": message.created_at.isoformat(),
        "sent_at": message.sent_at.isoformat() if message.sent_at else None,
        "receipt": message.receipt,
        "last_error": message.last_error,
        "items": [
            {
                "ref": ref,
                "action_id": n.action_id,
                "section": n.section,
                "kind": n.kind,
                "threshold": n.threshold,
                "due": n.due_date.isoformat(),
                "rule": n.rule,
                "target_text": n.target_text,
                "precision": n.precision,
                "rag": n.rag,
                "state": n.state,
                "via": n.via,
                "reason": n.reason,
            }
            for ref, n in items
        ],
    }


def render_message(message: Message, items: list[tuple[str, Notification]]) -> str:
    sent = f", sent {message.sent_at:%Y-%m-%d %H:%M}" if message.sent_at else ""
    lines = [
        f"#{message.id} {message.state.upper()}  {message.as_of}  to {message.recipient_email}"
        f" ({message.recipient_name}){sent}, {message.attempts} attempts",
        f"    subject: {message.subject}",
        f"    message-id: {message.message_id}",
    ]
    if message.last_error:
        lines.append(f"    last error: {message.last_error}")
    elif message.receipt:
        lines.append(f"    receipt: {message.receipt}")
    for ref, n in items:
        why = f"as {n.via}" if n.via else n.reason
        rag = n.rag or "no RAG reported"
        lines.append(
            f"    {ref:<9} {SECTION_NAMES.get(n.section, n.section)}: {n.rule}; "
            f"target {n.target_text!r} read as {n.due_date} ({n.precision}); {rag}, "
            f"{n.state}; {why}"
        )
    return "\n".join(lines)
