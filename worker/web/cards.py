"""An action as the web pages show it (the lead's and the acknowledgement page)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from worker.models import Plan
from worker.moments import as_utc
from worker.rules.reminders import ActionFacts


def plan_day(plan: Plan, now: datetime) -> date:
    """Today's date in the plan's time zone."""
    return now.astimezone(ZoneInfo(plan.timezone)).date()


def card(action: ActionFacts, zone: ZoneInfo) -> dict[str, Any]:
    """One action as the page shows it: dates as the plan writes them."""
    at = action.latest_note_at
    return {
        "ref": action.ref,
        # A row continuing the one above may leave the action cell empty: its description says it.
        "text": action.action_text or action.description,
        "work_stream": f"{action.work_stream_number}. {action.work_stream_title}",
        "target": action.target_text,
        "start": action.start.strftime("%-d %B %Y") if action.start else "",
        "rag": action.rag or "",
        "state": action.state,
        "note": action.latest_note,
        "note_by": action.latest_note_by,
        "note_at": as_utc(at).astimezone(zone).strftime("%-d %B %Y") if at else "",
    }
