"""Moments in time: kept as UTC, shown in the plan's zone.

The database stores every timestamp as UTC on every engine (`models.UtcDateTime`); a reader
is shown one as the plan's people tell the time (`in_zone`)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def as_utc(at: datetime) -> datetime:
    """The same instant in UTC. A naive value is taken as UTC already: how every time is
    stored, and so how a naive one from a raw row or an older caller is meant."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def in_zone(at: datetime, timezone: str) -> datetime:
    """A stored moment as the plan's readers tell the time."""
    return as_utc(at).astimezone(ZoneInfo(timezone))
