"""What every command prints: plain text for people, dicts for --json (print_json).

Imported inside the commands, so that `planworker --help` does not load the jobs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import click

from worker.io.terminal import printable
from worker.jobs.deliver import DeliveryReport
from worker.jobs.results import DigestResult, MessageNote, RemindResult, effective_counts
from worker.jobs.simulate import Delivery
from worker.jobs.volume import PersonVolume, WeekVolume
from worker.models import Message, Notification

if TYPE_CHECKING:
    from pathlib import Path

    from worker.models import StatusChange
    from worker.site_init import SiteFiles
    from worker.store.import_result import ImportResult
    from worker.store.status import Applied

SECTION_NAMES = {
    "overdue": "overdue",
    "due_soon": "due soon",
    "starting": "starting",
    "review": "review due",
    "unassigned": "no one to remind",
    "undelivered": "not delivered",
    "turned_red": "turned Red",
    "escalated": "escalated",
}


def print_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _sections(note: MessageNote) -> str:
    return ", ".join(f"{n} {SECTION_NAMES[s]}" for s, n in note.sections)


def _refs(note: MessageNote) -> str:
    refs = ", ".join(dict.fromkeys(i.ref for i in note.items))
    return refs + (f" and {note.more} more" if note.more else "")


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
                "subject": d.subject,
                "message_id": d.message_id,
                "item_count": d.item_count,
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
            for d in result.planned
        ],
        "counts": {
            "planned": result.messages,
            **_counts(delivery),
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
    lines.append(f"  {verb} {result.messages} messages with {result.items} items")
    for note in result.planned:
        lines.append(f"  - {note.recipient.email}: {_sections(note)} ({_refs(note)})")
    if result.delivery is not None:
        d = result.delivery
        lines.append(_delivered_line(d, where))
        if d.stopped_early:
            lines.append(f"  delivery stopped early: {d.stopped_early}")
    if not dry_run:
        lines.append("  outbox: " + ", ".join(f"{n} {state}" for state, n in outbox.items()))
    return "\n".join(lines)


def _delivered_line(d: DeliveryReport, where: str) -> str:
    return f"  delivered to {where}: {d.sent} sent, {d.failed} failed, {d.retrying} to retry later"


def render_timeline(
    timeline: list[Delivery], people: list[PersonVolume], weeks: list[WeekVolume]
) -> str:
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
    items = sum(len(d.items) for d in timeline)
    lines.append(f"{len(timeline)} messages to {len(people)} recipients, {items} items")
    return "\n".join([*lines, *_volume_lines(people, weeks)])


def _volume_lines(people: list[PersonVolume], weeks: list[WeekVolume]) -> list[str]:
    lines = ["", "Per person, the busiest first (most items in one week):"]
    for p in people:
        lines.append(
            f"  {p.email:<48} {p.messages:>4} messages {p.items:>6} items; busiest week "
            f"{p.most_messages_in_a_week} messages, {p.most_items_in_a_week} items; "
            f"longest run {p.longest_daily_streak} working day(s)"
        )
    lines += ["", "Per week:"]
    for w in weeks:
        lines.append(
            f"  w/c {w.monday:%a %Y-%m-%d}  {w.messages:>4} messages {w.items:>6} items "
            f"to {w.recipients} recipients"
        )
    return lines


def timeline_json(
    timeline: list[Delivery], people: list[PersonVolume], weeks: list[WeekVolume]
) -> dict[str, Any]:
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
        "per_person": [_dated(asdict(p)) for p in people],
        "per_week": [_dated(asdict(w)) for w in weeks],
    }


def _dated(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in row.items()}


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


def outbox_json(
    found: Sequence[tuple[Message, list[tuple[str, Notification]]]], totals: dict[str, int]
) -> dict[str, Any]:
    return {"counts": totals, "messages": [message_json(m, items) for m, items in found]}


def render_outbox(
    found: Sequence[tuple[Message, list[tuple[str, Notification]]]], totals: dict[str, int]
) -> str:
    lines = [printable(render_message(message, items)) for message, items in found]
    lines.append("outbox: " + ", ".join(f"{n} {s}" for s, n in totals.items()))
    return "\n".join(lines)


def _counts(delivery: DeliveryReport | None) -> dict[str, int]:
    d = delivery or DeliveryReport()
    return {"sent": d.sent, "failed": d.failed, "retrying": d.retrying}


def digest_json(result: DigestResult, dry_run: bool) -> dict[str, Any]:
    board = result.digest
    head = {"as_of": result.as_of.isoformat(), "dry_run": dry_run}
    if board is None:
        return {**head, "skipped": result.skipped}
    return {
        **head,
        "already_sent": result.already_sent,
        "skipped": "",
        "previous": board.previous.isoformat() if board.previous else None,
        "subject": result.subject,
        "recipients": result.recipients,
        "rag": effective_counts(board),
        "changes": [
            {"kind": c.kind, "ref": c.ref, "before": c.before, "after": c.after}
            for c in board.changes
        ],
        "attention": [
            {
                "ref": v.ref,
                "effective": v.effective,
                "reported": v.reported,
                "derived": v.derived,
                "disagreement": v.disagreement,
            }
            for v in board.attention
        ],
        # The exception digest the email shows: what needs the board, and why.
        "returns": {"received": board.returns, "open": board.open_actions},
        "needs": [
            {"ref": f.view.ref, "kinds": list(f.kinds), "reasons": list(f.reasons)}
            for f in board.needs
        ],
        "reported": [{"ref": c.ref, "what": c.what, "note": c.note} for c in board.reported],
        "counts": _counts(result.delivery),
    }


def render_digest(result: DigestResult, dry_run: bool, where: str) -> str:
    board, day = result.digest, result.as_of
    if board is None:
        return f"Board digest: {result.skipped}"
    verb = "would send" if dry_run else ("already sent" if result.already_sent else "planned")
    counts = effective_counts(board)
    since = f"{board.previous}" if board.previous else "(first digest)"
    lines = [
        f"Board digest for {day:%A} {day.day} {day:%B %Y}: {result.subject}",
        f"  {counts['red']} Red, {counts['amber']} Amber, {counts['green']} Green, "
        f"{counts['none']} not assessed; {len(board.changes)} changes since {since}",
        f"  {len(board.needs)} actions need the board; {len(board.reported)} reports, "
        f"returns from {board.returns} of {board.open_actions} open actions this cycle",
        f"  {verb} to: {', '.join(result.recipients)}",
    ]
    if result.delivery:
        lines.append(_delivered_line(result.delivery, where))
    return "\n".join(lines)


def import_json(result: ImportResult) -> dict[str, Any]:
    return {k: v for k, v in result.__dict__.items() if k != "changes"}


def render_import(result: ImportResult) -> str:
    verb = "created" if result.created_plan else "updated" if result.changed else "unchanged"
    return (
        f"plan {result.plan} {verb}: {result.added} added, {result.updated} updated, "
        f"{result.unchanged} unchanged, {result.archived} archived, "
        f"{result.status_changes} status changes"
        + (f", {result.targets_moved} targets moved" if result.targets_moved else "")
    )


def status_return_json(result: Applied) -> dict[str, Any]:
    return {"changed": result.changed, "unchanged": result.unchanged, "refs": result.refs}


def render_status_return(path: Path, result: Applied) -> str:
    return (
        f"status return {path.name}: {result.changed} actions updated, {result.unchanged} unchanged"
    )


def history_json(action_id: str, changes: Sequence[StatusChange]) -> dict[str, Any]:
    from worker.store.status import change_words

    rows = [
        {
            "at": c.changed_at.isoformat(),
            "by": c.changed_by,
            "source": c.source,
            "rag": [c.rag_from, c.rag_to],
            "state": [c.state_from, c.state_to],
            "target": [c.target_from, c.target_to],
            "what": change_words(c),
            "note": c.note,
        }
        for c in changes
    ]
    return {"action": action_id, "changes": rows}


def render_health(problems: list[str]) -> str:
    return "healthy" if not problems else "\n".join(f"unhealthy: {p}" for p in problems)


def render_config_check(summary: dict[str, Any], policy: list[str]) -> str:
    """The text of `config check`, from its --json summary and the policy's lines."""
    where = summary["config"]
    lines = [
        f"config file: {where} ({summary['config_found']})" if where else summary["config_found"],
        f"database: {summary['database']}",
        f"config OK; contacts OK ({summary['roles']} roles, "
        f"{summary['board']} on the board) from {summary['contacts']}",
        "templates OK (every message rendered with sample data) from "
        + ", ".join(summary["templates"]),
        "policy:",
        *(f"  {line}" for line in policy),
        f"schedules in {summary['timezone']}:",
    ]
    for job in summary["jobs"]:
        if not job["enabled"]:
            lines.append(f"  {job['job']:<10} disabled")
            continue
        shown = ", ".join(datetime.fromisoformat(t).strftime("%a %d %b %H:%M") for t in job["next"])
        lines.append(f"  {job['job']:<10} {job['schedule']:<18} next: {shown}")
    lines.extend(f"warning: {warning}" for warning in summary["warnings"])
    return "\n".join(lines)


def render_init(files: SiteFiles) -> str:
    config = files.config
    steps = ("db upgrade", f"plan import {files.plan}", "config check", "remind --dry-run")
    return "\n".join(
        [
            f"wrote {config}, {files.contacts} and {files.plan}",
            "next:",
            f"  edit {files.contacts}: the people and addresses behind each lead role",
            *(f"  planworker --config {config} {step}" for step in steps),
        ]
    )
