"""The reminder rules as a specification: which stage of an action is due on which day,
over working days and bank holidays, level-triggered, and who it goes to."""

from __future__ import annotations

from dataclasses import fields
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.contacts import Directory, parse_directory
from worker.plan.dates import Recurrence
from worker.rules.digest import Entry, LedgerEntry, message_order
from worker.rules.reminders import (
    ActionFacts,
    PlanFacts,
    Schedule,
    counted_entries,
    digests,
    due_items,
    due_keys,
)
from worker.rules.stages import ActionDates, ReminderPolicy, Stage, active_stage, add_months
from worker.rules.workdays import WorkingDays

DAYS = WorkingDays()
POLICY = ReminderPolicy()


def stage(due: date, as_of: date, policy: ReminderPolicy = POLICY) -> Stage | None:
    return active_stage(ActionDates(due, None, None), policy, DAYS, as_of)


# --- working days ------------------------------------------------------------------------


def test_weekends_and_england_and_wales_bank_holidays_are_not_working_days() -> None:
    assert not DAYS.is_working(date(2012, 9, 29))  # Saturday
    assert not DAYS.is_working(date(2012, 8, 27))  # late summer bank holiday
    assert not DAYS.is_working(date(2012, 6, 5))  # Diamond Jubilee
    assert not DAYS.is_working(date(2012, 12, 26))  # Boxing Day
    assert DAYS.is_working(date(2012, 12, 24))
    assert DAYS.is_working(date(2012, 3, 19))  # St Patrick's Day is not a holiday in England


def test_council_closure_days_from_config_are_not_working_days() -> None:
    days = WorkingDays([date(2012, 12, 24)])
    assert not days.is_working(date(2012, 12, 24))
    assert days.on_or_before(date(2012, 12, 24)) == date(2012, 12, 21)


# --- upcoming ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        # 30 September 2012 is a Sunday: each reminder moves to the working day before.
        (date(2012, 9, 13), None),
        (date(2012, 9, 14), ("upcoming", 14, date(2012, 9, 14))),  # 16 Sep is a Sunday
        (date(2012, 9, 20), ("upcoming", 14, date(2012, 9, 14))),
        (date(2012, 9, 21), ("upcoming", 7, date(2012, 9, 21))),  # 23 Sep is a Sunday
        # 29 Sep (1 day before) and 30 Sep (the day) both fall back to Friday 28: the later
        # stage, on the day, is the one that goes.
        (date(2012, 9, 28), ("upcoming", 0, date(2012, 9, 28))),
        (date(2012, 10, 1), ("overdue", 1, date(2012, 10, 1))),
        (date(2012, 10, 5), ("overdue", 1, date(2012, 10, 1))),
        (date(2012, 10, 8), ("overdue", 8, date(2012, 10, 8))),
        (date(2012, 10, 29), ("overdue", 29, date(2012, 10, 29))),  # weekly for four weeks
        (date(2012, 11, 26), ("overdue", 57, date(2012, 11, 26))),  # then every 28 days
        (date(2012, 11, 27), ("overdue", 57, date(2012, 11, 26))),
    ],
)
def test_stages_of_an_action_due_on_a_sunday(
    as_of: date, expected: tuple[str, int, date] | None
) -> None:
    found = stage(date(2012, 9, 30), as_of)
    assert (None if found is None else (found.kind, found.threshold, found.fire)) == expected


def test_a_reminder_day_on_a_bank_holiday_moves_to_the_working_day_before() -> None:
    # Due Tuesday 28 August 2012; the day before is the late summer bank holiday.
    found = stage(date(2012, 8, 28), date(2012, 8, 24))
    assert found is not None
    assert (found.kind, found.threshold) == ("upcoming", 1)


def test_an_overdue_day_over_christmas_moves_to_the_next_working_day() -> None:
    # Due Monday 24 December 2012: one day overdue is Christmas Day, then Boxing Day.
    assert stage(date(2012, 12, 24), date(2012, 12, 26)) is None  # not a working day
    found = stage(date(2012, 12, 24), date(2012, 12, 27))
    assert found is not None
    assert (found.kind, found.threshold, found.fire) == ("overdue", 1, date(2012, 12, 27))


def test_nothing_is_due_on_a_weekend_even_when_a_reminder_is_waiting() -> None:
    assert stage(date(2012, 9, 30), date(2012, 9, 29)) is None


def test_a_missed_run_sends_only_the_latest_stage_not_a_flood() -> None:
    # Worker down from 10 September to 27 September: on its return only "1 day before" goes
    # (28 Sept would be "on the day"); the 14- and 7-day reminders are not sent late.
    found = stage(date(2012, 10, 2), date(2012, 10, 1))
    assert found is not None
    assert (found.kind, found.threshold) == ("upcoming", 1)


def test_no_back_off_keeps_reminding_at_the_same_interval() -> None:
    policy = ReminderPolicy(every_days=5, back_off_after_days=0)
    found = stage(date(2012, 1, 2), date(2012, 3, 1), policy)  # 59 days late
    assert found is not None
    assert found.threshold == 56  # 1, 6, 11, ... 56


# --- recurring ---------------------------------------------------------------------------


def recurring(due: date | None, start: date | None, rec: Recurrence, as_of: date) -> Stage | None:
    return active_stage(ActionDates(due, start, rec), POLICY, DAYS, as_of)


def test_review_every_two_months_from_its_date_and_never_overdue() -> None:
    # "October 2012 Review every two months": due 31 Oct 2012, then reviews every 2 months.
    every2 = Recurrence("every", 2)
    before = recurring(date(2012, 10, 31), None, every2, date(2012, 10, 24))
    assert before is not None
    assert (before.kind, before.threshold) == ("upcoming", 7)
    first = recurring(date(2012, 10, 31), None, every2, date(2012, 11, 15))
    assert first is not None
    assert (first.kind, first.threshold, first.due) == ("review", 0, date(2012, 10, 31))
    # 31 December 2012 is a Monday and a working day.
    second = recurring(date(2012, 10, 31), None, every2, date(2012, 12, 31))
    assert second is not None
    assert (second.kind, second.threshold, second.due) == ("review", 1, date(2012, 12, 31))
    # 31 Oct + 4 months is the end of February, not 3 March.
    third = recurring(date(2012, 10, 31), None, every2, date(2013, 3, 1))
    assert third is not None
    assert third.due == date(2013, 2, 28)


def test_ongoing_without_a_date_is_reviewed_on_the_default_cycle_from_its_start() -> None:
    ongoing = Recurrence("ongoing")
    assert recurring(None, date(2012, 5, 1), ongoing, date(2012, 7, 31)) is None
    found = recurring(None, date(2012, 5, 1), ongoing, date(2012, 8, 1))
    assert found is not None
    assert (found.kind, found.threshold, found.due) == ("review", 1, date(2012, 8, 1))


def test_ongoing_with_neither_date_nor_start_has_no_reminders() -> None:
    assert recurring(None, None, Recurrence("ongoing"), date(2012, 8, 1)) is None


def test_add_months_clamps_to_the_end_of_the_month() -> None:
    assert add_months(date(2012, 1, 31), 1) == date(2012, 2, 29)
    assert add_months(date(2012, 10, 31), 14) == date(2013, 12, 31)


# --- property tests ----------------------------------------------------------------------

policies = st.builds(
    ReminderPolicy,
    before_days=st.lists(st.integers(1, 40), max_size=4, unique=True).map(tuple),
    on_the_day=st.booleans(),
    every_days=st.integers(1, 30),
    back_off_after_days=st.integers(0, 90),
    back_off_every_days=st.integers(1, 60),
    review_every_months=st.integers(1, 12),
)
days_2012_14 = st.dates(date(2012, 1, 1), date(2014, 12, 31))


def reference_stages(due: date, policy: ReminderPolicy, horizon: date) -> list[Stage]:
    """Every stage of a one-off action, listed the slow, obvious way."""
    stages = [
        Stage("upcoming", n, due, DAYS.on_or_before(due - timedelta(days=n)))
        for n in policy.upcoming
    ]
    offset = 1
    while due + timedelta(days=offset) <= horizon:
        stages.append(Stage("overdue", offset, due, DAYS.on_or_after(due + timedelta(offset))))
        late_every = policy.back_off_after_days and offset >= policy.back_off_after_days
        offset += policy.back_off_every_days if late_every else policy.every_days
    return stages


@settings(max_examples=300, deadline=None)
@given(due=days_2012_14, as_of=days_2012_14, policy=policies)
def test_active_stage_is_the_last_stage_whose_day_has_come(
    due: date, as_of: date, policy: ReminderPolicy
) -> None:
    found = stage(due, as_of, policy)
    if not DAYS.is_working(as_of):
        assert found is None
        return
    fired = [s for s in reference_stages(due, policy, as_of) if s.fire <= as_of]
    # Among stages that fire on the same day, the later one in the sequence wins.
    assert found == (fired[-1] if fired else None)


def directory(leads: dict[str, str]) -> Directory:
    return parse_directory(
        {
            "administrator": {"name": "Admin", "email": "admin@example.org"},
            "roles": {name: {"email": email} for name, email in leads.items()},
        },
        "test",
    )


def entry_of(item: Entry) -> Entry:
    """The ledger's part of an item and where it sorts: all a counted entry holds."""
    return Entry(**{f.name: getattr(item, f.name) for f in fields(Entry)})


def facts(
    action_id: int, due: date, leads: tuple[str, ...], state: str = "in progress"
) -> ActionFacts:
    return ActionFacts(
        id=action_id,
        ref=f"WS1-{action_id:02d}",
        work_stream_number=1,
        work_stream_title="Safeguarding",
        strategic_lead="Assistant Director",
        key_deliverable="1.",
        action_text="Do the thing",
        description="",
        target_text=due.isoformat(),
        due=due,
        precision="day",
        start=None,
        recurrence=None,
        dependencies_text="",
        leads=leads,
        rag=None,
        state=state,
    )


@settings(max_examples=60, deadline=None)
@given(
    dues=st.lists(st.dates(date(2012, 6, 1), date(2012, 12, 31)), min_size=1, max_size=6),
    down=st.sets(st.dates(date(2012, 5, 1), date(2013, 3, 31)), max_size=80),
    policy=policies,
)
def test_daily_runs_remind_each_key_once_and_every_due_action_on_the_next_run(
    dues: list[date], down: set[date], policy: ReminderPolicy
) -> None:
    # Runs every working day from May 2012 to March 2013, except the days the worker was down.
    d = directory({"Head of QA": "qa@example.org"})
    actions = [facts(i + 1, due, ("Head of QA",)) for i, due in enumerate(dues)]
    runs = [r for r in DAYS.between(date(2012, 5, 1), date(2013, 3, 31)) if r not in down]
    ledger: dict[str, date] = {}
    for today in runs:
        pairs = list(due_items(actions, d, policy, DAYS, today))
        for digest in digests(pairs, ledger, PlanFacts("Plan", "Council"), today):
            for item in digest.items:
                assert item.key not in ledger  # never the same reminder twice
                ledger[item.key] = today
        # Every action with a stage active today has been reminded of that stage by today.
        for action in actions:
            active = active_stage(ActionDates(action.due, None, None), policy, DAYS, today)
            if active is not None:
                key = f"qa@example.org|{action.id}|{active.kind}|{active.threshold}|{active.due}"
                assert key in ledger
    # Each reminder went out on the first run on or after its day: on the day itself when the
    # worker was up, else on its first run back.
    for key, sent in ledger.items():
        _, kind, threshold, due = key.split("|")[1:5]
        fire = fire_day(date.fromisoformat(due), kind, int(threshold))
        assert sent == min(r for r in runs if r >= fire)


def fire_day(due: date, kind: str, threshold: int) -> date:
    if kind == "upcoming":
        return DAYS.on_or_before(due - timedelta(days=threshold))
    return DAYS.on_or_after(due + timedelta(days=threshold))


# --- routing -----------------------------------------------------------------------------


def test_one_message_per_person_listing_every_role_they_hold() -> None:
    d = directory({"Head of QA": "pat@example.org", "Audit Manager": "pat@example.org"})
    action = facts(1, date(2012, 9, 30), ("Head of QA", "Audit Manager"))
    found = digests(
        due_items([action], d, POLICY, DAYS, date(2012, 9, 21)),
        set(),
        PlanFacts("Plan", "Council"),
        date(2012, 9, 21),
    )
    assert [x.recipient.email for x in found] == ["pat@example.org"]
    assert [i.via for i in found[0].items] == [("Head of QA", "Audit Manager")]


def test_vacant_post_falls_back_to_deputy_then_line_manager_then_administrator() -> None:
    d = parse_directory(
        {
            "administrator": {"name": "Admin", "email": "admin@example.org"},
            "roles": {
                "Head of QA": {"email": "", "deputy": "Deputy", "line_manager": "AD"},
                "Deputy": {"email": ""},
                "AD": {"email": "ad@example.org"},
                "Lonely": {"email": ""},
            },
        },
        "test",
    )
    as_of = date(2012, 9, 21)
    actions = [
        facts(1, date(2012, 9, 30), ("Head of QA",)),
        facts(2, date(2012, 9, 30), ("Lonely",)),
        facts(3, date(2012, 9, 30), ("Not in the directory",)),
        facts(4, date(2012, 9, 30), ()),
    ]
    found = {
        x.recipient.email: x
        for x in digests(
            due_items(actions, d, POLICY, DAYS, as_of), set(), PlanFacts("P", "C"), as_of
        )
    }
    assert set(found) == {"ad@example.org", "admin@example.org"}
    assert found["ad@example.org"].items[0].via == ("line manager of Head of QA (post vacant)",)
    unassigned = found["admin@example.org"].section("unassigned")
    assert [i.ref for i in unassigned] == ["WS1-02", "WS1-03", "WS1-04"]
    assert "vacant" in unassigned[0].reason
    assert "not in the contacts directory" in unassigned[1].reason
    assert "no lead" in unassigned[2].reason


def test_the_administrator_hears_about_unassigned_actions_once_a_week_until_fixed() -> None:
    d = directory({})
    action = facts(1, date(2012, 9, 30), ("Nobody",))
    ledger: set[str] = set()
    runs = []
    # Friday 21 (the first run of its week), Monday 24 (a new week), Tuesday 25 (nothing).
    for today in (date(2012, 9, 21), date(2012, 9, 24), date(2012, 9, 25)):
        found = digests(
            due_items([action], d, POLICY, DAYS, today),
            ledger,
            PlanFacts("P", "C"),
            today,
        )
        runs.append(len(found))
        ledger.update(i.key for x in found for i in x.items)
    assert runs == [1, 1, 0]


def test_completed_and_dropped_actions_get_nothing() -> None:
    d = directory({"Head of QA": "qa@example.org"})
    actions = [
        facts(1, date(2012, 9, 1), ("Head of QA",), state="completed"),
        facts(2, date(2012, 9, 1), ("Head of QA",), state="dropped"),
    ]
    assert list(due_items(actions, d, POLICY, DAYS, date(2012, 9, 21))) == []


@settings(max_examples=60, deadline=None)
@given(
    dues=st.lists(st.dates(date(2012, 6, 1), date(2012, 12, 31)), min_size=1, max_size=6),
    leads=st.lists(
        st.sampled_from(["Head of QA", "Deputy Director", "Nobody On File"]), max_size=3
    ),
    closed=st.booleans(),
    today=st.dates(date(2012, 6, 1), date(2013, 1, 31)),
)
def test_the_quick_pass_finds_the_same_reminders_as_the_full_one(
    dues: list[date], leads: list[str], closed: bool, today: date
) -> None:
    # A run first finds who is due what by key alone, then builds the items of those people:
    # both must see the same reminders, or someone is missed or gets an empty message.
    d = directory({"Head of QA": "qa@example.org", "Deputy Director": "QA@example.org"})
    state = "completed" if closed else "in progress"
    actions = [facts(i + 1, due, tuple(leads), state) for i, due in enumerate(dues)]
    items = list(due_items(actions, d, POLICY, DAYS, today))
    # Each entry is ranked where its message sorts it: a long message lists the first.
    full = [(r, i.action_id, i.key, message_order(i)) for r, i in items]
    # The quick pass reads each action's schedule alone, not its texts.
    schedules = [
        Schedule(**{f.name: getattr(a, f.name) for f in fields(Schedule)}) for a in actions
    ]
    quick = list(due_keys(schedules, d, POLICY, DAYS, today))
    assert [found[:4] for found in quick] == full
    assert [found[:4] for found in due_keys(actions, d, POLICY, DAYS, today)] == full
    # An entry a message names or counts but does not describe, from the schedule alone, is
    # the ledger's part of the full item: built by the quick pass when asked, or afresh.
    entries = [(r, entry_of(i)) for r, i in items]
    named = [(r, later({}).entry(r.email.lower(), today)) for r, _, _, _, later in quick]
    assert named == entries
    to = {r.email.lower() for r, _ in items}
    assert list(counted_entries(schedules, d, POLICY, DAYS, today, to)) == entries


@settings(max_examples=60, deadline=None)
@given(
    dues=st.lists(st.dates(date(2012, 6, 1), date(2012, 12, 31)), min_size=1, max_size=6),
    leads=st.lists(st.sampled_from(["Head of QA", "Nobody On File"]), max_size=2),
    today=st.dates(date(2012, 6, 1), date(2013, 1, 31)),
)
def test_the_ledger_files_each_item_under_the_date_its_key_names(
    dues: list[date], leads: list[str], today: date
) -> None:
    # The outbox records an item's LedgerEntry part; its date must be the one in the key, or
    # the ledger and the key disagree about which reminder was sent.
    d = directory({"Head of QA": "qa@example.org"})
    actions = [facts(i + 1, due, tuple(leads)) for i, due in enumerate(dues)]
    for _, item in due_items(actions, d, POLICY, DAYS, today):
        assert isinstance(item, LedgerEntry)
        assert item.ledger_date is not None
        assert item.key.split("|")[4] == item.ledger_date.isoformat()
