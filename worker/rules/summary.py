"""The weekly summary of actions no lead can be reminded about (pure).

Two kinds of action reach no lead through the reminder stages:

- *unroutable*: a lead the contacts directory cannot reach (not in it, vacant with no
  deputy or line manager with an address) or no lead named at all. Such an action is in the
  summary in every week in which it is within the reminders' reach (a stage of it is active
  by the week's last working day), so it turns up as its lead would have heard of it;
- *undated*: no target date (none given, or none could be read), so no reminder is ever
  due. It is in the summary every week until it is given one.

The summary goes to the plan administrator and the work stream's strategic lead (the people
who can fix the contacts or the plan, or chase the lead), once a week: the ledger key names
the week's Monday, and who is in it is decided by the week, not the day, so the first run of
the week (the Monday, or the first working day) sends it and the other days add nothing. A
run missed on the Monday is caught up on the next working day of the same week.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from worker.rules.stages import ActionDates, Stage
from worker.rules.workdays import WorkingDays

NO_TARGET = "it has no target date (none given, or none could be read), so no reminder is due"


@dataclass(frozen=True, slots=True)
class Week:
    """The week of a run's date: its Monday (the ledger's date for the week's summary) and
    its last working day (what is in reach by then is in the summary)."""

    monday: date
    last: date

    def stage(self) -> Stage:
        return Stage("summary", 0, self.monday, self.monday)


def week_of(as_of: date, days: WorkingDays) -> Week | None:
    """The week whose summary a run on `as_of` may send; None on a day that is not a
    working day (nothing is sent then)."""
    if not days.is_working(as_of):
        return None
    monday = as_of - timedelta(days=as_of.weekday())
    return Week(monday, days.on_or_before(monday + timedelta(days=6)))


def undated(action: ActionDates) -> bool:
    """No reminder can ever be due: no target date, and no recurrence counted from a start."""
    if action.due is not None:
        return False
    return action.recurrence is None or action.start is None


def summary_reason(action: ActionDates, unrouted: str, in_reach: bool) -> str:
    """Why the action is in the week's summary ("" if it is not). `unrouted` says why some
    lead reached no one ("" when every lead was reached); `in_reach` whether a reminder
    stage of it is active by the week's last working day."""
    reasons = []
    no_date = undated(action)
    if no_date:
        reasons.append(NO_TARGET)
    if unrouted and (in_reach or no_date):
        reasons.append(unrouted)
    return "; ".join(reasons)
