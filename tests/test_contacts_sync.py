"""Workers starting together after the contacts file changed: each brings the database's copy
of the directory up to date, and neither fails because the other did it first."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from worker.contacts import Directory, parse_directory
from worker.db import make_engine
from worker.migrate import upgrade
from worker.models import Contact
from worker.store.contacts import sync_directory


def _directory(roles: int) -> Directory:
    return parse_directory(
        {
            "administrator": {"name": "Admin", "email": "admin@example.org"},
            "roles": {f"Role {n}": {"email": f"role{n}@example.org"} for n in range(roles)},
        },
        "test",
    )


@pytest.mark.postgres
def test_two_workers_syncing_the_same_new_directory_at_once_both_succeed(
    postgres_url: str,
) -> None:
    engine = make_engine(postgres_url)
    upgrade(engine)
    with Session(engine) as s:
        sync_directory(s, _directory(3))
        s.commit()
    changed = _directory(40)
    outcome: dict[str, object] = {}
    first = Session(engine)
    assert sync_directory(first, changed)  # replaced, not yet committed

    def second() -> None:
        with Session(engine) as s:
            try:
                outcome["changed"] = sync_directory(s, changed)  # waits for the first
                s.commit()
            except Exception as exc:  # the failure is what is tested
                outcome["error"] = exc

    worker = threading.Thread(target=second)
    worker.start()
    worker.join(timeout=1.0)
    assert worker.is_alive(), "the second worker did not wait for the first"
    first.commit()
    first.close()
    worker.join(timeout=30)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["changed"] is False  # the first had done it
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == 40
    engine.dispose()


def test_syncing_an_unchanged_directory_changes_nothing(session: Session) -> None:
    assert sync_directory(session, _directory(5))
    session.commit()
    assert not sync_directory(session, _directory(5))
    assert sync_directory(session, _directory(6))
