"""When an action's reminders fall due (pure): its sequence of reminder stages.

An action's reminders form one sequence of *stages* in date order, each with the working day
on which it first goes out (`fire`):

- before the target date D: one stage per `before_days` threshold (14, 7, 1 days before) and,
  if enabled, one on the day itself; each goes out on the working day on or before its day;
- after D (actions with an end): overdue stages 1 day after D and then every `every_days`
  days (backing off to `back_off_every_days` once `back_off_after_days` have passed), each
  on the working day on or after its day;
- recurring actions ("ongoing", "Review Feb 2013", "every two months") have no overdue
  stages: after D they have review stages on their cycle (the text's, else the policy's
  default), each on the working day on or before its date. With no target date the cycle
  runs from the start date, first review one cycle after it.
- milestones (a target cell with several dates): each earlier milestone has its own
  upcoming stages (the `before_days` thresholds and the day itself), never overdue ones:
  only the final target makes an action overdue. Of all the stages that have fired, the
  latest wins (the nearest date on a tie), so each milestone is reminded on its own days.
- a target before its start date, not yet confirmed by an admin (`held`), has no overdue
  stages: the dates are likely a slip, and the lead should not be told it is overdue.
- the start of an action: one notice to its lead on the working day on or before its start
  date, while nothing else is due (a lead who is already being reminded of the target needs
  no notice of the start). Level-triggered like the rest, but only for START_LATE_DAYS after
  the start: a first run on an old plan does not announce actions that started months ago.

The reminder rules are level-triggered: on a run's date the *active* stage is the last one
whose `fire` day has come. A stage missed while the worker was down is therefore sent on the
next run, and only the latest missed one, never a flood of stale ones.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import date, timedelta

from worker.frozen import frozen
from worker.plan.dates import Recurrence
from worker.plan.due import Milestone
from worker.rules.digest import LISTED_IN_FULL, Kind
from worker.rules.workdays import WorkingDays

# How long after its start date an action's start notice may still go (a run missed over a
# long weekend catches up; a first run on an old plan announces nothing long started).
START_LATE_DAYS = 7


@dataclass(frozen=True, slots=True)
class ReminderPolicy:
    """The `[reminders]` settings as plain data. Defaults are the shipped policy."""

    before_days: tuple[int, ...] = (14, 7, 1)
    on_the_day: bool = True
    every_days: int = 7
    back_off_after_days: int = 28  # 0: never back off
    back_off_every_days: int = 28
    review_every_months: int = 3  # the cycle for "ongoing" or "review" texts that give none
    # A lead's items a message describes in full, most pressing first; the rest it names.
    listed_in_full: int = LISTED_IN_FULL

    def __post_init__(self) -> None:
        if any(n < 1 for n in self.before_days):
            raise ValueError("before_days must be whole numbers of days >= 1")
        if self.every_days < 1 or self.back_off_every_days < 1:
            raise ValueError("overdue repeat intervals must be >= 1 day")
        if self.back_off_after_days < 0:
            raise ValueError("back_off_after_days must be >= 0")
        if self.review_every_months < 1:
            raise ValueError("review_every_months must be >= 1")
        if self.listed_in_full < 1:
            raise ValueError("listed_in_full must be >= 1")

    @property
    def upcoming(self) -> tuple[int, ...]:
        """Thresholds before the target, furthest first (0 = on the day)."""
        days = set(self.before_days) | ({0} if self.on_the_day else set())
        return tuple(sorted(days, reverse=True))


@frozen
class ActionDates:
    """What the stage rules need to know about one action."""

    due: date | None
    start: date | None
    recurrence: Recurrence | None
    milestones: tuple[Milestone, ...] = ()  # all of them, the final target's last
    held: bool = False  # target before start, not confirmed: never overdue


@frozen
class Stage:
    kind: Kind
    threshold: int  # days before D (upcoming), days after D (overdue), cycle number (review)
    due: date  # the target date (or milestone's), or this review's date
    fire: date  # the working day on which this stage first goes out
    milestone: Milestone | None = None  # which of several dated items it is about

    def rule(self, policy: ReminderPolicy) -> str:
        """Why this stage is sent, in words for the reader and the ledger."""
        if self.kind == "upcoming":
            what = "the target date"
            if self.milestone is not None and self.milestone.number < self.milestone.count:
                what = self.milestone.label.replace("Milestone", "milestone", 1)
            if self.threshold == 0:
                return f"on {what}"
            return f"{_days(self.threshold)} before {what}"
        if self.kind == "overdue":
            every = _every(policy, self.threshold)
            return (
                f"overdue: reminded every {_days(every)} until marked completed "
                f"(the reminder due {_days(self.threshold)} after the target date)"
            )
        if self.kind == "start":
            return "the action starts: you are named as its lead"
        if self.kind == "summary":
            return "weekly summary of actions no lead can be reminded about, until each is fixed"
        return "review date of a recurring action" + (
            " (first review)" if self.threshold == 0 else f" (review {self.threshold + 1})"
        )


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Oct + 4 months = 28 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def cycle_months(recurrence: Recurrence, policy: ReminderPolicy) -> int:
    return recurrence.months if recurrence.months else policy.review_every_months


def active_stage(
    action: ActionDates, policy: ReminderPolicy, days: WorkingDays, as_of: date
) -> Stage | None:
    """The stage due on `as_of`, or None. Nothing is due on a day that is not a working day."""
    if not days.is_working(as_of):
        return None
    found = _dated(action, policy, days, as_of)
    return found if found is not None else _start(action.start, days, as_of)


def _dated(
    action: ActionDates, policy: ReminderPolicy, days: WorkingDays, as_of: date
) -> Stage | None:
    """The stage of the target date (and of any earlier milestones) due on `as_of`."""
    final = _final_stage(action, policy, days, as_of)
    if not action.milestones:
        return final
    if final is not None and final.due == action.milestones[-1].due and final.kind != "review":
        final = replace(final, milestone=action.milestones[-1])
    stages = [s for s in (_milestone_stage(action, policy, days, as_of), final) if s is not None]
    # The latest to fire wins, the nearest date on a tie: each milestone gets its own days.
    return max(stages, key=lambda s: (s.fire, -s.due.toordinal()), default=None)


def _final_stage(
    action: ActionDates, policy: ReminderPolicy, days: WorkingDays, as_of: date
) -> Stage | None:
    if action.recurrence is not None:
        return _recurring(action, action.recurrence, policy, days, as_of)
    if action.due is None:
        return None
    if as_of > action.due:
        return None if action.held else _overdue(action.due, policy, days, as_of)
    return _upcoming(action.due, policy.upcoming, days, as_of)


def _milestone_stage(
    action: ActionDates, policy: ReminderPolicy, days: WorkingDays, as_of: date
) -> Stage | None:
    """The latest upcoming stage of an earlier milestone not yet past, if one has fired."""
    fired = []
    for milestone in action.milestones[:-1]:
        if milestone.due < as_of:
            continue
        stage = _upcoming(milestone.due, policy.upcoming, days, as_of)
        if stage is not None:
            fired.append(replace(stage, milestone=milestone))
    return max(fired, key=lambda s: (s.fire, -s.due.toordinal()), default=None)


def _start(start: date | None, days: WorkingDays, as_of: date) -> Stage | None:
    """The start notice, from the working day on or before the start until START_LATE_DAYS
    after it."""
    if start is None:
        return None
    fire = days.on_or_before(start)
    if fire <= as_of <= start + timedelta(days=START_LATE_DAYS):
        return Stage("start", 0, start, fire)
    return None


def _upcoming(
    due: date, thresholds: tuple[int, ...], days: WorkingDays, as_of: date
) -> Stage | None:
    active = None
    for threshold in thresholds:  # furthest first, so the last that has fired wins
        fire = days.on_or_before(due - timedelta(days=threshold))
        if fire <= as_of:
            active = Stage("upcoming", threshold, due, fire)
    return active


def _every(policy: ReminderPolicy, offset: int) -> int:
    if policy.back_off_after_days and offset >= policy.back_off_after_days:
        return policy.back_off_every_days
    return policy.every_days


def _overdue_offset(policy: ReminderPolicy, late: int) -> int:
    """The largest overdue offset (1, 1+every, ...) that is at most `late` days (>= 1)."""
    first, after = policy.every_days, policy.back_off_after_days
    # Offsets before the back-off: 1, 1+first, ... below `after`; the next one starts phase 2.
    before = 0 if not after else max(0, (after - 2) // first + 1)
    switch = 1 + first * before
    if not after or late < switch:
        return 1 + first * ((late - 1) // first)
    return switch + policy.back_off_every_days * ((late - switch) // policy.back_off_every_days)


def _overdue(due: date, policy: ReminderPolicy, days: WorkingDays, as_of: date) -> Stage:
    offset = _overdue_offset(policy, (as_of - due).days)
    return Stage("overdue", offset, due, days.on_or_after(due + timedelta(days=offset)))


def _recurring(
    action: ActionDates,
    recurrence: Recurrence,
    policy: ReminderPolicy,
    days: WorkingDays,
    as_of: date,
) -> Stage | None:
    months = cycle_months(recurrence, policy)
    if action.due is not None:
        anchor, first = action.due, 0
    elif action.start is not None:
        anchor, first = action.start, 1
    else:
        return None  # nothing to count a cycle from: plan check reports "no target"
    review = _review(anchor, months, first, days, as_of)
    if review is not None:
        return review
    if action.due is None:
        return None
    before = tuple(t for t in policy.upcoming if t > 0)  # the first review replaces "on the day"
    return _upcoming(action.due, before, days, as_of)


def _review(anchor: date, months: int, first: int, days: WorkingDays, as_of: date) -> Stage | None:
    """The latest review (cycle number >= first) whose working day has come, if any."""
    elapsed = (as_of.year - anchor.year) * 12 + as_of.month - anchor.month
    # Start one cycle past the estimate and step back: a review late in a month can move to
    # the working day before, so the estimate may be one cycle short or long.
    cycle = max(first, elapsed // months + 1)
    while cycle >= first:
        review = add_months(anchor, cycle * months)
        fire = days.on_or_before(review)
        if fire <= as_of:
            return Stage("review", cycle, review, fire)
        cycle -= 1
    return None
