"""Red alerts and the board's morning (issue 16): the strategic lead hears of a Red action at
once, the board in its next digest; an action already long overdue when planworker first told
its lead is not "just turned Red"; each action reaches a reader once per morning."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from tests.test_reminder_rules import facts
from worker.contacts import Directory, parse_directory
from worker.rules.escalation import EscalationPolicy, board_waits, escalation_items
from worker.rules.rag import RagPolicy
from worker.rules.reminders import ActionFacts, PlanFacts, digests
from worker.rules.stages import ReminderPolicy
from worker.rules.workdays import WorkingDays

DAYS = WorkingDays()
AD = "ad@example.org"  # the Assistant Director: strategic lead and board member
CHAIR = "chair@example.org"


def people() -> Directory:
    return parse_directory(
        {
            "administrator": {"name": "Admin", "email": "admin@example.org"},
            "roles": {
                "Head of QA": {"email": "qa@example.org"},
                "Assistant Director": {"email": AD},
            },
            "board": [
                {"name": "Assistant Director", "email": AD},
                {"name": "Chair", "email": CHAIR},
            ],
        },
        "test",
    )


def run(
    action: ActionFacts,
    as_of: date,
    policy: EscalationPolicy | None = None,
    wait: frozenset[str] = frozenset(),
) -> list[tuple[str, str]]:
    found = escalation_items(
        [action],
        people(),
        policy or EscalationPolicy(),
        ReminderPolicy(),
        RagPolicy(),
        DAYS,
        as_of,
        wait=wait,
    )
    return sorted((r.email, i.kind) for r, i in found)


def overdue(due: date, told: date) -> ActionFacts:
    return replace(facts(1, due, ("Head of QA",)), first_told=told)


def test_an_action_turning_red_alerts_its_strategic_lead_once_listed_not_the_board() -> None:
    # Due Friday 28 Sep 2012, lead told a month before: Red from Saturday 29th.
    found = run(overdue(date(2012, 9, 28), date(2012, 8, 28)), date(2012, 10, 1))
    assert found == [(AD, "red_alert")]  # not "turned Red" and "escalated" both; no Chair


def test_the_board_hears_at_once_only_when_configured() -> None:
    policy = EscalationPolicy(red_alert_to_board=True)
    found = run(overdue(date(2012, 9, 28), date(2012, 8, 28)), date(2012, 10, 1), policy)
    assert (CHAIR, "red_alert") in found and (AD, "red_alert") in found


def test_a_first_run_on_an_old_plan_escalates_as_overdue_not_just_turned_red() -> None:
    # 215 days overdue when planworker first told the lead (the seed run from 2013).
    action = overdue(date(2012, 3, 31), date(2012, 10, 1))
    found = run(action, date(2012, 10, 15))
    assert found == [(AD, "escalation")]


def test_a_lead_reported_red_alerts_at_once_whatever_the_dates() -> None:
    action = replace(overdue(date(2013, 3, 31), date(2012, 10, 1)), rag="red")
    assert (AD, "red_alert") in run(action, date(2012, 10, 2))


def test_on_the_digest_morning_board_members_wait_for_the_next_working_day() -> None:
    action = overdue(date(2012, 3, 31), date(2012, 10, 1))
    monday, tuesday = date(2012, 10, 15), date(2012, 10, 16)
    assert run(action, monday, wait=board_waits(people(), digest_morning=True)) == []
    assert run(action, tuesday, wait=board_waits(people(), digest_morning=False)) == [
        (AD, "escalation")
    ]
    assert board_waits(people(), digest_morning=False) == frozenset()


def test_a_lead_reported_red_is_listed_once_the_run_that_first_sees_it() -> None:
    # Reported Red with no alert in the ledger yet: this run sends the alert, which stands
    # for the week's escalation (before, the message listed the action twice).
    action = replace(overdue(date(2013, 3, 31), date(2012, 10, 1)), rag="red")
    assert run(action, date(2012, 10, 2)) == [(AD, "red_alert")]


def test_a_red_report_alerted_earlier_in_the_week_is_not_escalated_again_that_week() -> None:
    # `status set` alerted the strategic lead on Tuesday 2 October; the ledger says so.
    due = date(2013, 3, 31)
    alerted = replace(
        overdue(due, date(2012, 10, 1)), rag="red", red_alerts=((due, date(2012, 10, 2)),)
    )
    # Wednesday: only the alert, which the ledger already holds, so nothing new goes out.
    assert run(alerted, date(2012, 10, 3)) == [(AD, "red_alert")]
    # The next week it is escalated as usual while it stays Red.
    assert run(alerted, date(2012, 10, 9)) == [(AD, "escalation"), (AD, "red_alert")]
    # An alert about an earlier target stands for nothing now: a new one goes out today
    # and stands for this week's escalation.
    moved = replace(alerted, red_alerts=((date(2012, 12, 31), date(2012, 9, 4)),))
    assert run(moved, date(2012, 10, 9)) == [(AD, "red_alert")]


def test_a_strategic_lead_named_since_an_older_alert_reads_the_action_once() -> None:
    # Alerted to the strategic lead of then on Tuesday 4 September; the post has changed
    # hands since, so today's strategic lead (AD) gets the alert now, and the message names
    # the action once, as the alert, not as the week's escalation beside it.
    due = date(2013, 3, 31)
    action = replace(
        overdue(due, date(2012, 8, 1)), rag="red", red_alerts=((due, date(2012, 9, 4)),)
    )
    tuesday = date(2012, 10, 9)
    assert run(action, tuesday) == [(AD, "escalation"), (AD, "red_alert")]  # the rules' part
    pairs = escalation_items(
        [action], people(), EscalationPolicy(), ReminderPolicy(), RagPolicy(), DAYS, tuesday
    )
    (message,) = digests(pairs, set(), PlanFacts("Plan", "Council"), tuesday)
    assert [(i.ref, i.section) for i in message.all_items] == [(action.ref, "turned_red")]
    # Recorded, the alert is dated this week: the next day's run escalates nothing beside it.
    alerted = replace(action, red_alerts=((due, tuesday),))
    assert run(alerted, date(2012, 10, 10)) == [(AD, "red_alert")]


def test_with_no_strategic_lead_to_reach_the_administrator_reads_a_red_action_once_a_week() -> None:
    # The alert to the administrator ("no one to remind") comes again each week: it stands
    # for that week's escalation, not beside it.
    turned = replace(overdue(date(2012, 9, 28), date(2012, 8, 28)), strategic_lead="Nobody")
    reported = replace(turned, due=date(2013, 3, 31), rag="red")
    for action in (turned, reported):
        for day in (date(2012, 10, 2), date(2012, 10, 9), date(2012, 10, 16)):
            assert run(action, day) == [("admin@example.org", "red_alert")]
