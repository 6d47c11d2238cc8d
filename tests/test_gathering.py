"""A batch's digests gathered a chunk at a time (rules/digest.Gathering) are the messages
the items give all at once: each reader's items in message order, the first few of a lead's
own items and the first few "no one to remind" entries listed, and the rest only named or
counted. Those keep only the ledger's part, so a plan with hundreds of thousands of them
does not hold every action's texts. A reader with nothing that can be listed gets no
message: one that only says "and 70 more" tells nothing."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.items import plain_item
from tests.test_reminder_rules import entry_of
from worker.rules.digest import (
    LISTED_UNASSIGNED,
    SECTIONS,
    Entry,
    Gathering,
    Item,
    Listing,
    Recipient,
    Section,
)

# The sections a lead's own items are in, and a strategic lead's escalations: each set
# listed up to one limit between its sections.
LEADS_OWN = {"overdue", "due_soon", "starting", "review"}
ESCALATIONS = {"turned_red", "escalated"}

READERS = (Recipient("admin@example.org", "Admin"), Recipient("lead@example.org", "Lead"))


@st.composite
def found_items(draw: st.DrawFn) -> list[tuple[Recipient, Entry]]:
    """Items to two readers, most of them "no one to remind", keys unique; a few only
    counted already (as a weekly summary's tail arrives)."""
    count = draw(st.integers(0, 3 * LISTED_UNASSIGNED))
    found: list[tuple[Recipient, Entry]] = []
    for n in range(count):
        section: Section = draw(st.sampled_from(("unassigned",) * 4 + SECTIONS))
        item = plain_item(
            key=f"k{n}",
            action_id=n,
            section=section,
            ref=f"WS{draw(st.integers(1, 9))}-{n:03d}",  # unique: no ties in message order
            days=draw(st.integers(-5, 5)),
            rule=draw(st.sampled_from(("overdue by 1 day", "no lead in the directory"))),
            action_text=f"the text of action {n}",
        )
        counted = (
            section in LEADS_OWN | {"unassigned"} and draw(st.booleans()) and draw(st.booleans())
        )
        found.append((draw(st.sampled_from(READERS)), entry_of(item) if counted else item))
    return found


def _at_once(
    found: list[tuple[Recipient, Entry]], email: str, limits: Listing
) -> tuple[list[Entry], list[Entry]]:
    """The reader's listed and counted items, worked out over all of them at once."""
    mine = sorted(
        (item for r, item in found if r.email == email),
        key=lambda i: (SECTIONS.index(i.section), i.days, i.ref),
    )
    listed: list[Entry] = []
    counted: list[Entry] = []
    own = escalations = unassigned = 0
    for item in mine:
        if not isinstance(item, Item):
            counted.append(item)
        elif item.section in LEADS_OWN:
            (listed if own < limits.lead else counted).append(item)
            own += 1
        elif item.section in ESCALATIONS:
            (listed if escalations < limits.escalated else counted).append(item)
            escalations += 1
        elif item.section == "unassigned":
            (listed if unassigned < limits.unassigned else counted).append(item)
            unassigned += 1
        else:
            listed.append(item)
    return listed, counted


@settings(max_examples=150, deadline=None)
@given(
    found_items(),
    st.integers(1, 40),
    st.integers(1, 2 * LISTED_UNASSIGNED),
    st.sampled_from((LISTED_UNASSIGNED, 3)),
)
def test_gathered_a_chunk_at_a_time_the_messages_are_those_of_all_items_at_once(
    found: list[tuple[Recipient, Entry]], chunk: int, lead: int, unassigned: int
) -> None:
    limits = Listing(lead=lead, escalated=max(1, lead // 2), unassigned=unassigned)
    gathering = Gathering(limits)
    for start in range(0, len(found), chunk):
        gathering.add(found[start : start + chunk])
    digests = gathering.digests("Plan", "Council", plain_item().due)  # type: ignore[arg-type]

    # A reader with nothing to list gets no message (it would tell them nothing).
    readers = sorted({r.email for r, _ in found if _at_once(found, r.email, limits)[0]})
    assert [d.recipient.email for d in digests] == readers
    for digest in digests:
        listed, counted = _at_once(found, digest.recipient.email, limits)
        assert list(digest.items) == listed
        assert [entry_of(e) for e in digest.unlisted] == [entry_of(e) for e in counted]
        # What is only counted holds no action texts: an Entry, not an Item.
        assert all(type(e) is Entry for e in digest.unlisted)


def test_an_escalation_an_alert_stands_for_takes_no_described_place() -> None:
    # Ten actions just turned Red, the most overdue of sixty escalated ones. The alert
    # stands for the same action's escalation (once), so 25 described places go to the ten
    # alerts and the fifteen most overdue escalations of other actions, and no escalation
    # of an alerted action is told.
    reader = READERS[1]
    alerts = [
        plain_item(key=f"r{n}", action_id=n, section="turned_red", ref=f"WS1-{n:03d}", days=-n)
        for n in range(50, 60)
    ]
    escalations = [
        plain_item(key=f"e{n}", action_id=n, section="escalated", ref=f"WS1-{n:03d}", days=-n)
        for n in range(60)
    ]
    gathering = Gathering(Listing(escalated=25))
    found = alerts[:5] + escalations + alerts[5:]  # alerts before and after the escalations
    for start in range(0, len(found), 7):
        gathering.add([(reader, i) for i in found[start : start + 7]])
    (digest,) = gathering.digests("Plan", "Council", plain_item().due)  # type: ignore[arg-type]

    described = [(i.section, i.action_id) for i in digest.items]
    assert described == [("turned_red", n) for n in range(59, 49, -1)] + [
        ("escalated", n) for n in range(49, 34, -1)
    ]
    told = [(e.section, e.action_id) for e in digest.all_items]
    assert sorted(a for s, a in told if s == "turned_red") == list(range(50, 60))
    assert sorted(a for s, a in told if s == "escalated") == list(range(50))
