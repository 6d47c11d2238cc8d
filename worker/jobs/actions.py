"""The decide step of the jobs that send per-action messages (lead reminders, escalations,
Red alerts): who is due what on a date, by the job's pure rules over facts read a chunk at a
time, in two passes so memory holds one chunk of a plan however large it is.

Pass one reads the plan a chunk at a time and keeps only who is due something new, by id;
pass two, a batch of recipients at a time, reads those actions' full facts again and builds
their digests. A lead's items and a weekly summary's entries past the first few a message
lists are only named or counted (rules/digest.Listing): pass one ranks them and builds the
entries past the cut from the schedules it read (up to KEPT_ENTRIES; past those, pass two
reads their schedules again). A run dated ahead of today keeps its ledger keys apart
(rules/as_of.py)."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable, Collection, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import chain
from operator import itemgetter
from typing import TypeVar

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from worker.jobs.config import RemindConfig
from worker.rules.as_of import key_suffix
from worker.rules.digest import (
    SECTIONS,
    Digest,
    Entry,
    Gathering,
    Group,
    Item,
    Listing,
    Recipient,
    group_of,
)
from worker.rules.reminders import ActionFacts, Later, Named, PlanFacts, Rank, Schedule
from worker.rules.undelivered import undelivered_items
from worker.store.action_links import chunks
from worker.store.facts import (
    Scope,
    chunk_bounds,
    load_facts,
    load_refusals,
    load_schedule,
    of_ids,
)
from worker.store.outbox import existing_keys
from worker.store.status import RiskIndex, plan_risks

# Actions read and assessed at a time, and items rendered and recorded per transaction: what
# bounds a run's memory, whatever the size of the plan.
FACTS_CHUNK = 5000
BATCH_ITEMS = 2000
# The named entries a run's first pass builds and keeps for its second (about 200 bytes
# each); past these, it keeps their ids and the second pass reads their schedules again.
KEPT_ENTRIES = 500_000

Pairs = list[tuple[Recipient, Entry]]
# A job's rules: the items due on a date, to everyone or (when given) only to these
# lower-case addresses.
ItemRules = Callable[
    [Sequence[ActionFacts], RemindConfig, date, Collection[str] | None],
    Iterable[tuple[Recipient, Item]],
]
KeyRules = Callable[
    [Sequence[Schedule], RemindConfig, date], Iterable[tuple[Recipient, int, str, Rank, Later]]
]
# The entries to these lower-case addresses that a message does not describe, from
# schedules alone.
CountedRules = Callable[
    [Sequence[Schedule], RemindConfig, date, Collection[str]], Iterable[tuple[Recipient, Entry]]
]
# (recipient, action id, ledger key, and when the rules can name the entry without the
# action's full facts, its rank and how to build it).
Found = tuple[Recipient, int, str, Rank | None, Later | None]
# A ranked entry's order: by rank, then action id (in C: a run sorts hundreds of thousands).
_RANK_AND_ID = itemgetter(0, 1)
# What a run reads of each action: its schedule alone (pass one), or all its facts.
Read = TypeVar("Read", bound=Schedule)


@dataclass(frozen=True, slots=True)
class ActionRules:
    """A per-action job's decisions: which actions it reads, and its pure rules."""

    scope: Callable[[RemindConfig], Scope]
    items: ItemRules
    # Who is due what, from load_schedule's facts alone, when the rules need no more; a run's
    # first pass over the whole plan then reads and builds far less.
    keys: KeyRules | None = None
    # Whether the rules read when each action's lead was first reminded (leads first).
    reads_first_told: bool = False
    # The entries a message names or counts but does not describe, built without the
    # actions' full facts; given only with `keys`, which rank them.
    counted: CountedRules | None = None


@dataclass(frozen=True, slots=True)
class RunScope:
    """One run's fixed inputs to its decisions."""

    plan_id: int
    config: RemindConfig
    as_of: date
    only: Collection[str] | None
    risks: RiskIndex
    suffix: str = ""  # appended to every ledger key: see worker/rules/as_of.py

    @property
    def limits(self) -> Listing:
        c = self.config
        return Listing(lead=c.policy.listed_in_full, escalated=c.escalation.listed_in_full)

    def only_wanted(self, facts: list[Read]) -> list[Read]:
        return facts if self.only is None else [f for f in facts if f.ref in self.only]

    def facts(
        self, session: Session, condition: ColumnElement[bool], told: bool = False
    ) -> list[ActionFacts]:
        # The escalations are the jobs that read `told`; they read acknowledgements too.
        found = load_facts(
            session, condition, self.plan_id, self.as_of, self.risks, told=told, acknowledged=told
        )
        return self.only_wanted(found)


def who_is_due(
    session: Session, rules: ActionRules, chunk: ColumnElement[bool], run: RunScope
) -> Iterator[Found]:
    """(recipient, action id, ledger key, rank, entry) of everything the rules give in this
    chunk; rank and entry are None unless the rules can name the entry without its facts."""
    if rules.keys is not None:
        facts = run.only_wanted(load_schedule(session, chunk))
        names = rules.counted is not None
        return (
            (r, a, k + run.suffix, rank if names else None, later if names else None)
            for r, a, k, rank, later in rules.keys(facts, run.config, run.as_of)
        )
    found = rules.items(
        run.facts(session, chunk, rules.reads_first_told), run.config, run.as_of, None
    )
    return ((r, i.action_id, i.key + run.suffix, None, None) for r, i in found)


def refusal_pairs(session: Session, run: RunScope) -> Pairs:
    """The administrator's notice of messages the mail server refused."""
    refusals = load_refusals(session, run.plan_id)
    if not refusals:
        return []
    refused = {a.id: a for a in run.facts(session, of_ids({r.action_id for r in refusals}))}
    c = run.config
    return list(undelivered_items(refusals, refused, c.directory, c.policy, run.as_of, c.rag))


def _append(ids: dict[str, array[int]], email: str, action_id: int) -> None:
    found = ids.get(email)
    if found is None:
        found = ids[email] = array("q")
    found.append(action_id)


@dataclass(slots=True)
class Due:
    """Pass one of a run: who is due something new, and about which actions."""

    limits: Listing = field(default_factory=Listing)
    suffix: str = ""  # of the run's ledger keys (rules/as_of.py)
    # Lower-case email -> ids, repeats allowed (an action can be due twice to one reader):
    # plain 8-byte arrays, as a 1M-action run holds hundreds of thousands of them.
    actions: dict[str, array[int]] = field(default_factory=dict)
    # The entries each message names or counts but does not describe (past `limits`):
    # built (`kept`) while there is `room`, then by id (`counted`) for pass two to build.
    kept: dict[str, list[Named]] = field(default_factory=dict)
    counted: dict[str, array[int]] = field(default_factory=dict)
    readers: dict[str, Recipient] = field(default_factory=dict)
    # Each reader's ranked entries of each group so far: at most twice its limit.
    ranked: dict[tuple[str, Group], list[tuple[Rank, int, Later | None]]] = field(
        default_factory=dict
    )
    extra: Pairs = field(default_factory=list)  # items not derived from actions (refusals)
    room: int = 0  # how many more entries it may build and keep
    shared: dict[object, object] = field(default_factory=dict)  # values kept entries share

    def add(self, found: Sequence[Found], already: Collection[str]) -> None:
        for recipient, action_id, key, rank, later in found:
            if key in already:
                continue
            email = recipient.email.lower()
            group = None if rank is None else group_of(SECTIONS[rank[0]])
            if rank is None or group is None:
                _append(self.actions, email, action_id)
                continue
            self.readers.setdefault(email, recipient)
            ranked = self.ranked.setdefault((email, group), [])
            ranked.append((rank, action_id, later))
            if len(ranked) >= 2 * self.limits.limit(group):
                self._cut(email, ranked, self.limits.limit(group))

    def _cut(self, email: str, ranked: list[tuple[Rank, int, Later | None]], limit: int) -> None:
        """Keep the first `limit` of a reader's ranked entries; name the rest."""
        ranked.sort(key=_RANK_AND_ID)
        for _, action_id, later in ranked[limit:]:
            if later is not None and self.room > 0:
                self.room -= 1
                self.kept.setdefault(email, []).append(later(self.shared))
            else:
                _append(self.counted, email, action_id)
        del ranked[limit:]

    def settle(self) -> None:
        """After the last chunk: the entries a message lists join its other items."""
        for (email, group), ranked in self.ranked.items():
            self._cut(email, ranked, self.limits.limit(group))
            for _, action_id, _ in ranked:
                _append(self.actions, email, action_id)
        self.ranked.clear()

    def named(
        self, emails: Collection[str], as_of: date, full: array[int], rebuilt: Container[int]
    ) -> Iterator[tuple[Recipient, Entry]]:
        """The kept entries to these readers, but for the actions whose entries to them pass
        two builds afresh: those in `full` (sorted ids) and in `rebuilt`."""
        for email in emails:
            for named in self.kept.get(email, ()):
                if named.action_id not in rebuilt and not _holds(full, named.action_id):
                    yield self.readers[email], named.entry(email, as_of, self.suffix)

    def batches(self, size: int) -> Iterator[list[str]]:
        """Recipients in address order, grouped so a batch holds about `size` items."""
        batch: list[str] = []
        held = 0
        for email in sorted(self.actions):
            batch.append(email)
            named = len(self.counted.get(email, ())) + len(self.kept.get(email, ()))
            held += len(self.actions[email]) + named
            if held >= size:
                yield batch
                batch, held = [], 0
        if batch:
            yield batch


def _holds(ids: array[int], action_id: int) -> bool:
    """Whether the sorted `ids` hold `action_id`."""
    at = bisect_left(ids, action_id)
    return at < len(ids) and ids[at] == action_id


def _each_once(ids: Iterable[array[int]]) -> array[int]:
    """The ids, each once, in order, as 8-byte values: held through a batch's second pass,
    where a set of one large reader's ids (259,000 of them in a 1M escalation) took 17 MB."""
    return array("q", sorted(set(chain.from_iterable(ids))))


def nothing() -> None:
    """A checkpoint that keeps the transaction open (a dry run's)."""


def recorded(session: Session, keys: Iterable[str], suffix: str) -> set[str]:
    """Which of these keys count as sent. A run dated ahead (keys ending in `suffix`) also
    counts what real runs sent, so it repeats nothing; its own keys never count for them."""
    wanted = list(keys)
    if not suffix:
        return existing_keys(session, wanted)
    real = {key.removesuffix(suffix): key for key in wanted}
    found = existing_keys(session, [*wanted, *real])
    return {key for key in wanted if key in found} | {real[k] for k in real if k in found}


def suffixed(pairs: Iterable[tuple[Recipient, Entry]], suffix: str) -> Pairs:
    return [(r, replace(i, key=i.key + suffix) if suffix else i) for r, i in pairs]


def _pass_one(
    session: Session, rules: ActionRules, run: RunScope, checkpoint: Callable[[], None]
) -> Due:
    """Assess the plan a chunk at a time and keep only who is due what: ids, not items.
    `checkpoint` ends the transaction between chunks (so SQLite's write lock is let go)."""
    due = Due(run.limits, run.suffix, room=KEPT_ENTRIES)
    scope = rules.scope(run.config).condition(run.plan_id, run.as_of)
    for chunk in chunk_bounds(session, scope, FACTS_CHUNK):
        found = list(who_is_due(session, rules, chunk, run))
        due.add(found, recorded(session, (key for _, _, key, _, _ in found), run.suffix))
        checkpoint()
    due.settle()
    due.extra = suffixed(refusal_pairs(session, run), run.suffix)
    extra: list[Found] = [(r, i.action_id, i.key, None, None) for r, i in due.extra]
    due.add(extra, recorded(session, (key for _, _, key, _, _ in extra), run.suffix))
    return due


class DayPlan:
    """A per-action job's decisions for one date, made a batch of recipients at a time.

    Creating it is the first pass over the plan (who is due something new); `digests` is
    the second, for one batch, and can be called again for the same batch after a ledger
    race. `checkpoint` ends the transaction between chunks of the first pass.
    """

    def __init__(
        self,
        session: Session,
        plan: PlanFacts,
        rules: ActionRules,
        run: RunScope,
        checkpoint: Callable[[], None] = nothing,
    ) -> None:
        self._session = session
        self._plan = plan
        self._rules = rules
        self._run = run
        self._due = _pass_one(session, rules, run, checkpoint)

    def batches(self, size: int = BATCH_ITEMS) -> Iterator[list[str]]:
        """Recipients (lower-case addresses) in address order, about `size` items a batch."""
        return self._due.batches(size)

    def recipients(self) -> list[str]:
        return list(self._due.actions)

    def done(self, emails: Sequence[str]) -> None:
        """These recipients' messages are recorded: what pass one kept for them can go."""
        for email in emails:
            self._due.kept.pop(email, None)
            self._due.counted.pop(email, None)

    def digests(self, emails: Sequence[str]) -> list[Digest]:
        """Pass two, for these recipients: their items, complete and not in the ledger, the
        described ones read afresh, the named ones as pass one kept them. Gathered a chunk of
        actions at a time, so a long list that a message only counts is never held in full
        (rules/digest.Gathering)."""
        run, wanted, session = self._run, set(emails), self._session
        gathering = Gathering(run.limits)

        def gather(pairs: Pairs) -> None:
            already = recorded(session, (item.key for _, item in pairs), run.suffix)
            gathering.add((r, i) for r, i in pairs if i.key not in already)

        full = _each_once(self._due.actions[e] for e in emails)
        for part in chunks(full):
            facts = run.facts(session, of_ids(part), self._rules.reads_first_told)
            gather(suffixed(self._rules.items(facts, run.config, run.as_of, wanted), run.suffix))
        # Entries only named, past those pass one kept: their schedules say all the ledger
        # needs. An action read in full above already gave its entries.
        counted = set(chain.from_iterable(self._due.counted.get(e, ()) for e in emails))
        counted.difference_update(full)
        if counted and self._rules.counted is not None:
            for part in chunks(sorted(counted)):
                schedules = run.only_wanted(load_schedule(session, of_ids(part)))
                found = self._rules.counted(schedules, run.config, run.as_of, wanted)
                gather(suffixed(found, run.suffix))
        gather(list(self._due.named(emails, run.as_of, full, counted)))
        gather([(r, i) for r, i in self._due.extra if r.email.lower() in wanted])
        return gathering.digests(self._plan.title, self._plan.organisation, run.as_of)


def run_scope(
    session: Session,
    plan_id: int,
    config: RemindConfig,
    as_of: date,
    only: Collection[str] | None = None,
    today: date | None = None,
) -> RunScope:
    risks = plan_risks(session, plan_id, as_of)
    # A set: a status return of 50,000 rows asks about 50,000 refs, each fact checked.
    wanted = None if only is None else frozenset(only)
    return RunScope(plan_id, config, as_of, wanted, risks, key_suffix(as_of, today))


def current_keys(
    session: Session, rules: ActionRules, run: RunScope, action_ids: Collection[int]
) -> set[str]:
    """The ledger keys the rules give on the run's date for these actions with the current
    contacts directory, whether or not the ledger holds them (read only)."""
    scope = rules.scope(run.config).condition(run.plan_id, run.as_of)
    found: set[str] = set()
    for part in chunks(sorted(action_ids)):
        found.update(f[2] for f in who_is_due(session, rules, scope & of_ids(part), run))
    return found
