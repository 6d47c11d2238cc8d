"""A long weekly summary's tail, built cheaply, is the same message: a run builds the
entries a message counts but does not list from the actions' schedules alone, in its first
pass or (past the entries it keeps) its second (jobs/actions.py), yet every recipient gets
the items, listed and counted, that the rules give from every action's full facts at once,
whatever the chunks and batches the run is cut into and however many entries it keeps."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tests.conftest import CONTACTS, SEED, Cli
from tests.test_reminder_rules import entry_of
from worker.configure import remind_config
from worker.contacts import load_directory
from worker.db import make_engine
from worker.jobs import actions as job_actions
from worker.jobs.actions import DayPlan, run_scope
from worker.jobs.remind import RULES
from worker.models import Action, ActionLead, Plan
from worker.rules.as_of import AHEAD
from worker.rules.digest import LISTED_UNASSIGNED, Digest, Listing
from worker.rules.reminders import PlanFacts, digests, due_items
from worker.settings import Settings
from worker.store.facts import load_facts

MONDAY = date(2012, 12, 3)  # the weekly summary's day


def _by_recipient(found: list[Digest]) -> dict[str, Digest]:
    return {d.recipient.email: d for d in found}


@pytest.mark.parametrize(
    ("chunk", "batch", "kept"),
    [(5000, 2000, 100_000), (13, 7, 100_000), (5000, 2000, 0), (13, 7, 0), (5000, 2000, 40)],
)
def test_a_summary_too_long_to_list_is_the_one_the_rules_give_from_full_facts(
    cli: Cli, chunk: int, batch: int, kept: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("plan", "import", str(SEED))
    engine = make_engine(cli.db_url)
    with Session(engine) as session:
        # Five actions in six lose their leads: over fifty reach no one, and the summary
        # goes to the administrator and to each work stream's strategic lead.
        ids = session.scalars(select(Action.id).order_by(Action.id)).all()
        dropped = [i for i in ids if i % 6]
        session.execute(delete(ActionLead).where(ActionLead.action_id.in_(dropped)))
        session.commit()
        plan = session.scalars(select(Plan)).one()
        config = remind_config(Settings(), load_directory(CONTACTS))
        facts = PlanFacts(plan.title, plan.organisation)

        # The rules over every open action's full facts at once.
        scope = RULES.scope(config).condition(plan.id, MONDAY)
        everything = load_facts(session, scope, plan.id, MONDAY)
        pairs = due_items(
            everything, config.directory, config.policy, config.days, MONDAY, config.rag
        )
        expected = _by_recipient(digests(pairs, set(), facts, MONDAY))

        # The run, read `chunk` actions and about `batch` items at a time.
        monkeypatch.setattr(job_actions, "FACTS_CHUNK", chunk)
        monkeypatch.setattr(job_actions, "KEPT_ENTRIES", kept)
        day = DayPlan(session, facts, RULES, run_scope(session, plan.id, config, MONDAY))
        found = _by_recipient([d for emails in day.batches(batch) for d in day.digests(emails)])

    admin = expected[config.directory.administrator.email]
    assert admin.count("unassigned") > LISTED_UNASSIGNED  # the case this is about
    assert sorted(found) == sorted(expected)
    for email, want in expected.items():
        got = found[email]
        assert got.items == want.items, email  # listed: the same items, in the same order
        assert [entry_of(e) for e in got.unlisted] == [entry_of(e) for e in want.unlisted], email
    assert sum(len(d.unlisted) for d in found.values()) > 0


# (5000, 2000, 10): an action one lead's kept entry names is also named, by id, to another
# lead in the same batch, so its entries are built again for both (Due.named skips it).
@pytest.mark.parametrize(
    ("chunk", "batch", "kept", "ahead"),
    [
        (5000, 2000, 100_000, False),
        (13, 7, 3, False),
        (5000, 2000, 10, False),
        (5000, 2000, 100_000, True),
        (13, 7, 3, True),
    ],
)
def test_a_lead_list_too_long_to_describe_is_the_one_the_rules_give_from_full_facts(
    cli: Cli, chunk: int, batch: int, kept: int, ahead: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each lead's message describes one action and names the rest: an action several leads
    share is named to each of them, some from the entries the run kept, some built again. A
    run dated ahead of today keeps its ledger keys apart, kept entries too (rules/as_of)."""
    cli("plan", "import", str(SEED))
    as_of = date(2013, 3, 15)  # late in the plan year: most leads have several actions due
    engine = make_engine(cli.db_url)
    with Session(engine) as session:
        plan = session.scalars(select(Plan)).one()
        settings = Settings.model_validate({"reminders": {"listed_in_full": 1}})
        config = remind_config(settings, load_directory(CONTACTS))
        facts = PlanFacts(plan.title, plan.organisation)

        scope = RULES.scope(config).condition(plan.id, as_of)
        everything = load_facts(session, scope, plan.id, as_of)
        pairs = due_items(
            everything, config.directory, config.policy, config.days, as_of, config.rag
        )
        suffix = AHEAD if ahead else ""
        pairs = [(r, replace(i, key=i.key + suffix)) for r, i in pairs]
        expected = _by_recipient(digests(pairs, set(), facts, as_of, Listing(lead=1)))

        monkeypatch.setattr(job_actions, "FACTS_CHUNK", chunk)
        monkeypatch.setattr(job_actions, "KEPT_ENTRIES", kept)
        today = as_of - timedelta(days=3) if ahead else None
        run = run_scope(session, plan.id, config, as_of, today=today)
        day = DayPlan(session, facts, RULES, run)
        found = _by_recipient([d for emails in day.batches(batch) for d in day.digests(emails)])

    # The case this is about: actions named, not described, to more than one lead.
    named_to = Counter(e.action_id for d in expected.values() for e in d.unlisted)
    assert max(named_to.values()) > 1
    assert sorted(found) == sorted(expected)
    for email, want in expected.items():
        got = found[email]
        assert got.items == want.items, email
        assert [entry_of(e) for e in got.unlisted] == [entry_of(e) for e in want.unlisted], email
