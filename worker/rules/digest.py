"""What one reminder message tells one recipient: plain data, built by the pure rules and
read by the templates; each item's `LedgerEntry` part is what the ledger records. No I/O
here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date
from typing import Literal

from worker.frozen import frozen
from worker.plan.split import target_items

# The sections of a lead's message, in the order they are shown. The last two appear only in
# the plan administrator's message: actions that reached no lead ("no one to remind"), and
# reminders the mail server refused ("not delivered").
# A strategic lead's escalation message has "turned_red" (an action has just turned Red) and
# "escalated" (Amber or Red, or long overdue: weekly while it stays so). "unassigned" is also
# the weekly summary a strategic lead gets of their work streams' actions no lead can be
# reminded about (rules/summary.py).
Section = Literal[
    "turned_red",
    "overdue",
    "escalated",
    "due_soon",
    "starting",
    "review",
    "unassigned",
    "undelivered",
]
SECTIONS: tuple[Section, ...] = (
    "turned_red",
    "overdue",
    "escalated",
    "due_soon",
    "starting",
    "review",
    "unassigned",
    "undelivered",
)

# What kind of message an item is (part of the ledger key): "start" is the notice that an
# action starts, "summary" its entry in the weekly summary of actions no lead can be
# reminded about.
Kind = Literal["upcoming", "overdue", "review", "start", "escalation", "red_alert", "summary"]


@frozen
class Recipient:
    email: str  # normalised address; one message per address per run
    name: str  # the person's name when the directory has one, else the role's name


@frozen
class Contact:
    """Someone named in a message for the reader to contact (the strategic lead)."""

    name: str
    email: str  # "" when the directory has no address for them


@frozen(kw_only=True)
class LedgerEntry:
    """What the ledger records of an item (worker/store/outbox.py): which reminder it was,
    to whom it went and why, and the action as it stood then."""

    key: str  # the ledger key: recipient, action, kind, threshold, due date
    action_id: int
    section: Section
    kind: Kind
    threshold: int  # days before (upcoming), days overdue (overdue), cycle number (review)
    rule: str  # why, in words: "7 days before the target date", "overdue by 14 days"
    due: date | None  # the date it is about (target as read, review date); None: unreadable
    # The date in the ledger key, when it is not `due` (an escalation's week; a Red alert
    # about an action with no readable target).
    key_date: date | None = None
    target_text: str  # the target end date as written
    precision: str  # how exactly the target text gave `due`: day, month, season, year
    rag: str | None  # reported RAG at the time, None when none reported
    state: str  # "not started", "in progress"
    via: tuple[str, ...]  # how it reached this recipient: "Head of QA", "deputy for X (vacant)"
    reason: str = ""  # unassigned, undelivered: why it did not reach a lead

    @property
    def ledger_date(self) -> date | None:
        """The date the ledger files it under: the key's date."""
        return self.key_date or self.due


@frozen(kw_only=True)
class Entry(LedgerEntry):
    """An item a message counts but does not list (a long weekly summary's tail): the
    ledger's part, and where it sorts among the items."""

    ref: str  # "WS4-03"
    days: int  # days from the run's date to `due`: positive = left, negative = overdue (0: no due)


@frozen(kw_only=True)
class Item(Entry):
    """One action in one recipient's message: the ledger's part and everything else the
    templates show."""

    work_stream_number: int
    work_stream_title: str
    key_deliverable: str
    action_text: str
    description: str
    recurrence: str  # "", "ongoing", "review", "every 2 months"
    dependencies_text: str
    strategic_lead: Contact
    leads: tuple[str, ...]  # every lead role of the action, as the plan names them
    # Progress, as reported and as planworker derives it from the dates (worker/rules/rag.py).
    effective_rag: str = "none"  # "green", "amber", "red" or "none"
    derived_rag: str = "none"
    disagreement: str = ""  # "reported Green, overdue by 12 days" when they disagree
    latest_note: str = ""
    at_risk_from: tuple[str, ...] = ()  # refs of dependencies that are Red or overdue
    # "Milestone 1 of 2: 9th June 2012" when the target cell holds several dated items and
    # this item is about one of them (its own date is `due`); "" otherwise.
    milestone: str = ""

    @property
    def targets(self) -> tuple[str, ...]:
        """The target cell's items as written, each once, so several are shown apart."""
        return target_items(self.target_text)

    # The action's other leads, as the plan names them: those not reaching this reader.
    co_leads: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        """What the action is, in one line: its Action text, else its Description (many
        rows of the plan leave the Action cell empty), else its key deliverable."""
        for text in (self.action_text, self.description, self.key_deliverable):
            if text.strip():
                return " ".join(text.split())
        return self.ref

    @property
    def others(self) -> tuple[str, ...]:
        """The ways it reached this recipient other than as a named lead ("deputy for ...")."""
        return tuple(v for v in self.via if v not in self.leads)


# "No one to remind" entries a message lists in full; the rest are counted by reason. A large
# plan's weekly summary can hold thousands, and a list nobody can read helps no one: the
# message points to `planworker plan check` for the whole list.
LISTED_UNASSIGNED = 50
# A lead's own items that a message lists in full, most pressing first (`[reminders]
# listed_in_full`); the rest it names by ref, with the link to the reader's page.
# Twenty-five items keep a message readable and under the size at which mail clients clip
# it (about 100 KB of HTML); on a generated 100k-action plan a first run gave one lead 897
# items in 2.9 MB. The real plan's busiest day gives a lead 7.
LISTED_IN_FULL = 25
# The same for a strategic lead's escalations (`[escalation] listed_in_full`): the real
# plan's busiest week gives one 44, all described as before; a generated 100k-action plan
# gave one 2,890 in 9 parts of 8.4 MB.
LISTED_ESCALATIONS = 50
# A lead's own sections: what the reminder is about, and what the lead reports on.
LEAD_SECTIONS: tuple[Section, ...] = ("overdue", "due_soon", "starting", "review")
# A strategic lead's escalations: Red alerts, then the weekly ones.
ESCALATION_SECTIONS: tuple[Section, ...] = ("turned_red", "escalated")
# The sections whose items past the limit a message names by ref.
NAMED_SECTIONS: tuple[Section, ...] = (*ESCALATION_SECTIONS, *LEAD_SECTIONS)

# The sections whose items a message lists only so far: each group's items count against
# one limit. Any other section is always listed in full.
Group = Literal["lead", "escalated", "unassigned"]
_GROUP_OF: dict[str, Group] = {
    "unassigned": "unassigned",
    **dict.fromkeys(ESCALATION_SECTIONS, "escalated"),
    **dict.fromkeys(LEAD_SECTIONS, "lead"),
}


def group_of(section: str) -> Group | None:
    return _GROUP_OF.get(section)


@dataclass(frozen=True, slots=True)
class Listing:
    """How many items of each group a message lists in full; past that an item is in the
    message (and the ledger) all the same, named or counted but not described."""

    lead: int = LISTED_IN_FULL
    escalated: int = LISTED_ESCALATIONS
    unassigned: int = LISTED_UNASSIGNED

    def limit(self, group: Group) -> int:
        if group == "lead":
            return self.lead
        return self.escalated if group == "escalated" else self.unassigned


DEFAULT_LISTING = Listing()


@dataclass(frozen=True, slots=True)
class Digest:
    """One message: everything that needs one recipient's attention on one date."""

    recipient: Recipient
    as_of: date
    plan_title: str
    organisation: str
    items: tuple[Item, ...]  # listed in the message
    # In the message's ledger entry too, but not described (Listing): a lead's items and a
    # strategic lead's escalations past the first few are named by ref, the weekly
    # summary's entries counted by reason.
    unlisted: tuple[Entry, ...] = ()

    @property
    def all_items(self) -> tuple[Entry, ...]:
        """Every item the message is about: what the ledger records."""
        return self.items + self.unlisted if self.unlisted else self.items

    def count(self, name: Section) -> int:
        """How many items of this section the message is about, listed or not."""
        return sum(1 for i in self.all_items if i.section == name)

    def unlisted_in(self, name: Section) -> tuple[Entry, ...]:
        """The items of this section the message names or counts but does not list."""
        return tuple(i for i in self.unlisted if i.section == name)

    def unlisted_reasons(self) -> list[tuple[str, int]]:
        """The unlisted "no one to remind" items' reasons, most common first, with how many
        have each."""
        counts = Counter(i.reason for i in self.unlisted if i.section == "unassigned")
        return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))

    def section(self, name: Section) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.section == name)

    def has(self, *sections: Section) -> bool:
        """Whether any item is in one of these sections."""
        return any(i.section in sections for i in self.items)


def listing(
    items: tuple[Entry, ...], limits: Listing = DEFAULT_LISTING
) -> tuple[tuple[Item, ...], tuple[Entry, ...]]:
    """`items` (in message order) split into those listed and those not: every item but
    those of a listed-so-far group past its limit. An entry built without the action's
    details (jobs/actions.py builds those for a long message's tail) is never listed."""
    listed: list[Item] = []
    unlisted: list[Entry] = []
    shown: Counter[Group] = Counter()
    for item in items:
        group = group_of(item.section)
        if not isinstance(item, Item):
            unlisted.append(item)
        elif group is None:
            listed.append(item)
        elif shown[group] < limits.limit(group):
            listed.append(item)
            shown[group] += 1
        else:
            unlisted.append(item)
    return tuple(listed), tuple(unlisted)


def once(items: list[Entry]) -> list[Entry]:
    """A message names an action once: a Red alert new to its reader stands for the same
    action's escalation beside it (the escalation rules already say so when the ledger
    dates the alert this period; a strategic lead named since an older alert gets both
    from them). The escalation, not recorded, is then covered by the alert's new date."""
    alerted = {i.action_id for i in items if i.section == "turned_red"}
    if not alerted:
        return items
    return [i for i in items if i.section != "escalated" or i.action_id not in alerted]


def message_order(item: Entry) -> tuple[int, int, str]:
    """Where an item goes in its message: by section, the most overdue first, then by ref."""
    return SECTIONS.index(item.section), item.days, item.ref


_ENTRY_FIELDS = tuple(f.name for f in fields(Entry))
# The fields whose values many entries share (the same rule, reason, route, dates, RAG):
# kept once. (Each row read brings its own copy of a date or a RAG's name.)
_SHARED_FIELDS = frozenset(
    {
        "rule",
        "target_text",
        "precision",
        "state",
        "via",
        "reason",
        "rag",
        "due",
        "key_date",
        "threshold",
        "days",
    }
)


def counted_only(item: Entry, shared: dict[object, object] | None = None) -> Entry:
    """What a message keeps of an item it counts but does not list: the ledger's part and
    its place, without the action's texts. Values found in `shared` are used from there
    (and new ones put there), so equal texts of many entries are held once."""
    if type(item) is Entry:
        return item
    values = {name: getattr(item, name) for name in _ENTRY_FIELDS}
    if shared is not None:
        for name in _SHARED_FIELDS:
            values[name] = shared.setdefault(values[name], values[name])
    return Entry(**values)


class Gathering:
    """A batch's digests, gathered as the rules find their items a chunk at a time.

    Past a group's limit of a reader's items (in message order, `Listing`), an item is kept
    as counted_only: the message does not describe it, and a full item holds the action's
    texts. (A first run on a 1M-action plan gives each lead thousands of items, and the
    administrator hundreds of thousands of "no one to remind" ones.) The digests are the
    ones listing() gives over every item held in full."""

    def __init__(self, limits: Listing = DEFAULT_LISTING) -> None:
        self._limits = limits
        self._found: dict[str, tuple[Recipient, list[Entry]]] = {}
        # Each reader's items of each group still held in full: at most 2 × its limit.
        self._full: dict[tuple[str, Group], list[Item]] = {}
        # Each reader's actions alerted Red so far: their escalations beside go (once()).
        self._alerted: dict[str, set[int]] = {}
        self._shared: dict[object, object] = {}

    def add(self, pairs: Iterable[tuple[Recipient, Entry]]) -> None:
        for recipient, item in pairs:
            email = recipient.email.lower()
            found = self._found.get(email)
            if found is None:
                found = self._found[email] = (recipient, [])
            if item.section == "turned_red":
                self._alerted.setdefault(email, set()).add(item.action_id)
            group = group_of(item.section)
            if not isinstance(item, Item) or group is None:
                found[1].append(item)
                continue
            full = self._full.setdefault((email, group), [])
            full.append(item)
            limit = self._limits.limit(group)
            if len(full) >= 2 * limit:
                self._cut(email, full, limit)

    def _cut(self, email: str, full: list[Item], limit: int) -> None:
        """Keep the first `limit` of `full` in full; the rest join the reader's items,
        counted only. An escalation of an action alerted Red to the same reader is dropped
        here, as once() would drop it from the message, so it takes no described place."""
        alerted = self._alerted.get(email)
        if alerted:
            full[:] = [i for i in full if i.section != "escalated" or i.action_id not in alerted]
        full.sort(key=message_order)
        self._found[email][1].extend(counted_only(i, self._shared) for i in full[limit:])
        del full[limit:]

    def digests(self, plan_title: str, organisation: str, as_of: date) -> list[Digest]:
        """One digest per recipient gathered, in address order. A reader whose items would
        all be only counted gets none: a message that lists nothing tells them nothing. (It
        happens only when every action picked to be listed changed between the run's two
        passes; the entries, not recorded, come back listed in the next run.)"""
        for (email, group), full in self._full.items():
            self._cut(email, full, self._limits.limit(group))
            self._found[email][1].extend(full)
        self._full.clear()
        found = []
        for _, (recipient, items) in sorted(self._found.items()):
            every = sorted(once(items), key=message_order)
            listed, unlisted = listing(tuple(every), self._limits)
            if listed:
                found.append(Digest(recipient, as_of, plan_title, organisation, listed, unlisted))
        return found
