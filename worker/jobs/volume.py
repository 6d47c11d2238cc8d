"""How much mail a simulated period sends each person, and each week: what an admin reads
before going live to judge whether anyone would be nagged (pure, over `simulate`'s timeline).

A person's "daily streak" counts consecutive working days with at least one message to them:
weekends and bank holidays neither break nor extend it, since nothing is sent on them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from worker.jobs.simulate import Delivery
from worker.rules.workdays import WorkingDays


@dataclass(frozen=True, slots=True)
class PersonVolume:
    email: str
    messages: int
    items: int
    weeks: int  # weeks with at least one message
    most_messages_in_a_week: int
    most_items_in_a_week: int
    longest_daily_streak: int  # consecutive working days with a message
    first: date
    last: date


@dataclass(frozen=True, slots=True)
class WeekVolume:
    monday: date
    messages: int
    items: int
    recipients: int


def week_of(day: date) -> date:
    """The Monday of the day's week."""
    return day - timedelta(days=day.weekday())


def longest_streak(days: Sequence[date], working: WorkingDays) -> int:
    """The longest run of consecutive working days among `days`."""
    best = run = 0
    previous: date | None = None
    for day in sorted(set(days)):
        follows = previous is not None and working.on_or_after(previous + timedelta(1)) == day
        run = run + 1 if follows else 1
        best = max(best, run)
        previous = day
    return best


def per_person(timeline: Sequence[Delivery], working: WorkingDays) -> list[PersonVolume]:
    """Each recipient's volume, the busiest first (most items in a week, then messages)."""
    by_person: dict[str, list[Delivery]] = defaultdict(list)
    for d in timeline:
        by_person[d.email.lower()].append(d)
    found = []
    for email, sent in by_person.items():
        weekly_messages: dict[date, int] = defaultdict(int)
        weekly_items: dict[date, int] = defaultdict(int)
        for d in sent:
            weekly_messages[week_of(d.day)] += 1
            weekly_items[week_of(d.day)] += len(d.items)
        days = [d.day for d in sent]
        found.append(
            PersonVolume(
                email=email,
                messages=len(sent),
                items=sum(len(d.items) for d in sent),
                weeks=len(weekly_messages),
                most_messages_in_a_week=max(weekly_messages.values()),
                most_items_in_a_week=max(weekly_items.values()),
                longest_daily_streak=longest_streak(days, working),
                first=min(days),
                last=max(days),
            )
        )
    return sorted(found, key=lambda p: (-p.most_items_in_a_week, -p.messages, p.email))


def per_week(timeline: Sequence[Delivery]) -> list[WeekVolume]:
    """Each week's volume, in date order (weeks with no message are left out)."""
    weeks: dict[date, list[Delivery]] = defaultdict(list)
    for d in timeline:
        weeks[week_of(d.day)].append(d)
    return [
        WeekVolume(
            monday=monday,
            messages=len(sent),
            items=sum(len(d.items) for d in sent),
            recipients=len({d.email.lower() for d in sent}),
        )
        for monday, sent in sorted(weeks.items())
    ]
