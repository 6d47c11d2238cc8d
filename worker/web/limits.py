"""Rate limits of `planworker web` (pure apart from the time passed in): an in-memory sliding
window per key, so one client address, one link or one address asking for a fresh link
cannot hammer the form or the mail server. The counts are one process's and a restart forgets
them, which only ever lets a little more through; what reaches an inbox, the fresh links sent
to one address, is counted in the outbox as well, across instances (worker/web/fresh.py).

Keys that are credentials (a link's token) are hashed before they are kept.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict, deque
from dataclasses import dataclass

# Each window: at most `limit` events in `seconds`.
TEN_MINUTES = 600.0
HOUR = 3600.0
# Beyond this many keys, the least recently seen are forgotten (a flood of addresses must
# not fill memory); a forgotten key starts again from nothing.
MOST_KEYS = 10_000


@dataclass(frozen=True, slots=True)
class Limit:
    limit: int
    seconds: float

    def in_words(self) -> str:
        minutes = round(self.seconds / 60)
        return f"{self.limit} in {minutes} minutes"


# Every request from one client address (the proxy's X-Forwarded-For when trusted).
PER_ADDRESS = Limit(300, TEN_MINUTES)
# Reports posted with one link: a lead with many actions posts one form per action.
PER_TOKEN = Limit(30, TEN_MINUTES)
# Fresh links asked for, per client address and per address asked for.
FRESH_PER_CLIENT = Limit(5, HOUR)
FRESH_PER_EMAIL = Limit(3, HOUR)


def hashed(secret: str) -> str:
    """A key for a credential: its hash, never the credential itself."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


class SlidingWindow:
    """Counts events per key over the last `limit.seconds`; `allow` records one if allowed."""

    def __init__(self, limit: Limit, most_keys: int = MOST_KEYS) -> None:
        self.limit = limit
        self._most_keys = most_keys
        self._events: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, key: str, now: float) -> bool:
        """Whether one more event for `key` at `now` (seconds, monotonic) is within the
        limit; if so it is counted. A refused event is not counted, so a client that keeps
        trying gets in again once its window has moved on."""
        events = self._events.get(key)
        if events is None:
            events = self._events[key] = deque()
            while len(self._events) > self._most_keys:
                self._events.popitem(last=False)
        else:
            self._events.move_to_end(key)
        start = now - self.limit.seconds
        while events and events[0] <= start:
            events.popleft()
        if len(events) >= self.limit.limit:
            return False
        events.append(now)
        return True

    def retry_after(self, key: str, now: float) -> int:
        """Whole seconds until `key` may try again (0: now)."""
        events = self._events.get(key)
        if not events or len(events) < self.limit.limit:
            return 0
        return max(0, int(events[0] + self.limit.seconds - now) + 1)
