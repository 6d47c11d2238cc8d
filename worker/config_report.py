"""What `config check` reports besides errors: the file read, the policy, and warnings.

Pure: settings, the contacts directory and a moment in, plain data out. Warnings are things
an admin should see before going live but that do not stop planworker (errors do, earlier).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from worker.contacts import Directory
from worker.schedule import trigger, upcoming
from worker.settings import Settings

# Domains reserved for examples (RFC 2606): mail to them reaches no one.
PLACEHOLDER_DOMAINS = ("example.org", "example.com", "example.net")


def is_placeholder(address: str) -> bool:
    domain = address.rpartition("@")[2].lower()
    return any(domain == d or domain.endswith("." + d) for d in PLACEHOLDER_DOMAINS)


def addresses(settings: Settings, directory: Directory) -> dict[str, str]:
    """Every address planworker may write to or from, by where it is set."""
    found = {"mail.from_address": settings.mail.from_address}
    if settings.mail.reply_to:
        found["mail.reply_to"] = settings.mail.reply_to
    found["administrator"] = directory.administrator.email
    for i, member in enumerate(directory.board):
        found[f"board[{i}] {member.name}"] = member.email
    for role in directory.roles.values():
        if role.email:
            found[f"roles.{role.name!r}"] = role.email
    return found


def policy(settings: Settings) -> dict[str, Any]:
    """The reminder, RAG, escalation and digest rules as read, for an admin to confirm."""
    r = settings.reminders
    return {
        "reminders": {
            "days_before_target": list(r.before_days),
            "on_the_day": r.on_the_day,
            "overdue_every_days": r.every_days,
            "overdue_back_off_after_days": r.back_off_after_days,
            "overdue_back_off_every_days": r.back_off_every_days,
            "review_every_months": r.review_every_months,
            "listed_in_full": r.listed_in_full,
            "closed_days": [d.isoformat() for d in r.closed_days],
        },
        "rag": settings.rag.model_dump(),
        "escalation": settings.escalation.model_dump(),
        "digest": settings.digest.model_dump(),
    }


def policy_lines(settings: Settings) -> list[str]:
    r = settings.reminders
    before = ", ".join(str(d) for d in r.before_days) or "none"
    back_off = (
        f"after {r.back_off_after_days} days every {r.back_off_every_days}"
        if r.back_off_after_days
        else "never"
    )
    closed = ", ".join(d.isoformat() for d in r.closed_days) or "none"
    e = settings.escalation
    return [
        f"due soon: {before} days before the target" + (", and on the day" if r.on_the_day else ""),
        f"overdue: every {r.every_days} days; backing off {back_off}",
        f"reviews: every {r.review_every_months} months where the text gives no cycle",
        f"a lead's message: the {r.listed_in_full} most pressing actions in full, the rest "
        "named by reference",
        f"closed days besides weekends and bank holidays: {closed}",
        f"escalation: to strategic leads {'on' if e.to_strategic_leads else 'off'}, "
        f"overdue after {e.overdue_days} days, repeated every {e.repeat_every_days}; "
        f"Red alerts {'on' if e.red_alert else 'off'}; a message describes "
        f"{e.listed_in_full} in full and names the rest",
        f"board digest: {settings.digest.weekday}s",
    ]


def warnings(settings: Settings, directory: Directory, now: datetime) -> list[str]:
    found = []
    every = addresses(settings, directory)
    placeholders = [where for where, address in every.items() if is_placeholder(address)]
    if placeholders:
        shown = ", ".join(placeholders[:5]) + (" ..." if len(placeholders) > 5 else "")
        found.append(
            f"{len(placeholders)} placeholder address{'es' if len(placeholders) > 1 else ''} "
            f"at {'/'.join(PLACEHOLDER_DOMAINS)}, which reach no one: {shown}"
        )
    digest = settings.jobs.digest
    if digest.enabled:
        timezone = settings.service.timezone or "Europe/London"
        runs = upcoming(trigger(digest.schedule, timezone), now, 7)
        days = {t.strftime("%A").lower() for t in runs}
        if days != {settings.digest.weekday}:
            found.append(
                f"jobs.digest.schedule {digest.schedule!r} runs on {', '.join(sorted(days))}, "
                f"but digest.weekday is {settings.digest.weekday} (what simulate assumes)"
            )
    found += link_warnings(settings)
    return found


def link_warnings(settings: Settings) -> list[str]:
    """Why messages will carry no link to the leads' page: half of it is configured. (A key
    file set but unusable stops the runs themselves, naming it.)"""
    web = settings.web
    if bool(web.base_url) == (web.secret_key_file is not None):
        return []
    missing = "web.secret_key_file" if web.base_url else "web.base_url"
    return [f"messages carry no link to the leads' page: {missing} is not set"]
