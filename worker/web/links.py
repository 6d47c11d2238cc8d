"""Signed links (pure): a token binds a plan, a recipient's address and a purpose, and
expires. Signed with itsdangerous under the site's key and a salt per purpose, so a token
made for one purpose is no good for another, and a new key invalidates every token.

Tokens are credentials: never log them, nor the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

LEAD = "lead"  # a lead's page: see and update the actions routed to the address
BOARD = "board"  # the board's page: the plan's RAG picture and progress, read only
ACK = "ack"  # a strategic lead's or board member's page: acknowledge escalated actions

Reason = Literal["expired", "tampered", "wrong plan"]

# What a refused link page says, by reason (the recipient reads it, so plain words).
EXPLAINED: dict[Reason, str] = {
    "expired": "This link has expired: links work for a limited number of days.",
    "tampered": (
        "This link is not valid: it may have been cut short or changed when it was copied, "
        "or the site's key has been replaced since it was sent."
    ),
    "wrong plan": "This link was made for another action plan than the one served here.",
}


@dataclass(frozen=True, slots=True)
class Claim:
    """What a valid token says: whose link it is, for which plan and purpose."""

    plan_id: int
    email: str  # lower-case
    purpose: str
    signed_at: datetime


class LinkRefused(Exception):
    """A token that cannot be used, and why (never containing the token)."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason)
        self.reason: Reason = reason


class _SignedAt(TimestampSigner):
    """A signer whose clock is the time passed in, so signing stays a pure function."""

    def __init__(self, *args: Any, now: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._now = now

    def get_timestamp(self) -> int:
        return int(self._now.timestamp())


def _serializer(key: str, purpose: str, now: datetime) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        key, salt=f"planworker.{purpose}", signer=_SignedAt, signer_kwargs={"now": now}
    )


def sign(key: str, plan_id: int, email: str, purpose: str, now: datetime) -> str:
    """A URL-safe token for `email` (compared lower-case) on plan `plan_id`, signed at `now`."""
    payload = {"plan": plan_id, "to": email.strip().lower(), "for": purpose}
    token = _serializer(key, purpose, now).dumps(payload)
    assert isinstance(token, str)
    return token


def read(
    key: str, token: str, *, plan_id: int, purpose: str, max_age: timedelta, now: datetime
) -> Claim:
    """The claim of a token signed with `key` for `purpose` on plan `plan_id`, at most
    `max_age` old at `now`; LinkRefused saying why not."""
    try:
        payload, signed_at = _serializer(key, purpose, now).loads(token, return_timestamp=True)
    except BadSignature:  # a changed token, another key, or another purpose's salt
        raise LinkRefused("tampered") from None
    if not isinstance(payload, dict) or payload.get("for") != purpose:
        raise LinkRefused("tampered")
    email, plan = payload.get("to"), payload.get("plan")
    if not isinstance(email, str) or not email or not isinstance(plan, int):
        raise LinkRefused("tampered")
    signed_at = signed_at.astimezone(UTC)
    # The token keeps whole seconds: so does the age.
    if now.replace(microsecond=0) - signed_at > max_age:
        raise LinkRefused("expired")
    if plan != plan_id:
        raise LinkRefused("wrong plan")
    return Claim(plan, email, purpose, signed_at)


def link(base_url: str, token: str, purpose: str = LEAD) -> str:
    """The page for a token of `purpose` (its path: /lead/..., /board/..., /ack/...) under
    the public address."""
    return f"{base_url.rstrip('/')}/{purpose}/{token}"


def link_for(base_url: str, key: str, plan_id: int, email: str, purpose: str, now: datetime) -> str:
    """The signed link, signed at `now`, that gives `email` the page of `purpose` on plan
    `plan_id`."""
    return link(base_url, sign(key, plan_id, email, purpose, now), purpose)


@dataclass(frozen=True, slots=True)
class Signer:
    """What a run needs to put links in its messages: the public address, the key (read
    once per run, not per message) and how many days a link works (for the wording)."""

    base_url: str
    key: str = field(repr=False)  # never shown, logged or stored
    days: int

    def link(self, plan_id: int, email: str, purpose: str, now: datetime) -> str:
        return link_for(self.base_url, self.key, plan_id, email, purpose, now)
