# ruff: noqa: F811  (the tests take test_web's `served` fixture, imported by name)
"""Rate limits and "email me a fresh link" on the leads' page (`planworker web`): too many
reports with one link, or requests from one address, get a 429 page (logged without the
token); an expired link's page offers a fresh link by email, which is mailed only to an
address the contacts directory knows, with the same page whoever asks. Against the real
app served by uvicorn (tests/test_web.py's server), mail into the Maildir.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import threading
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.conftest import CONTACTS, SEED
from tests.test_web import (  # noqa: F401 (the fixture)
    KEY,
    LEAD_EMAIL,
    Served,
    fetch,
    ours,
    report,
    served,
    serving,
    token_of,
)
from worker.configure import remind_config
from worker.contacts import load_directory
from worker.db import session_factory
from worker.models import Message, Plan
from worker.plan.importer import import_file
from worker.settings import Settings
from worker.web import fresh
from worker.web.limits import FRESH_PER_EMAIL, PER_ADDRESS, PER_TOKEN
from worker.web.links import LEAD, sign


def post_fresh(served: Served, email: str) -> tuple[int, str]:
    data = urllib.parse.urlencode({"email": email}).encode()
    request = urllib.request.Request(f"{served.base_url}/fresh-link", data=data, method="POST")
    return fetch(request)


def maildir_files(served: Served) -> list[Path]:
    folder = served.cli.maildir / "new"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def wait_for_mail(served: Served, count: int, seconds: float = 20) -> list[Path]:
    deadline = time.monotonic() + seconds
    while len(found := maildir_files(served)) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def test_too_many_reports_with_one_link_get_a_429_logged_without_the_token(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    token = token_of(served.link())
    for n in range(PER_TOKEN.limit):
        status, _ = served.post(report(token, note=f"Note {n}"))
        assert status == 200
    status, page = served.post(report(token, note="One too many"))
    assert status == 429 and "Please wait" in page
    assert [c["note"] for c in served.history("WS1-02")][-1] == f"Note {PER_TOKEN.limit - 1}"
    assert "rate limit: too many reports with one link" in ours(caplog)
    assert token not in ours(caplog)
    # Another lead's link is not held back by it.
    other = token_of(served.link("head-of-service-safeguarding@example.org"))
    assert served.post(report(other, ref="WS1-01"))[0] != 429


def test_too_many_requests_from_one_address_get_a_429_but_the_health_check_passes(
    served: Served,
) -> None:
    for _ in range(PER_ADDRESS.limit):
        assert fetch(f"{served.base_url}/fresh-link")[0] == 200
    status, page = fetch(f"{served.base_url}/fresh-link")
    assert status == 429 and "Please wait" in page
    assert fetch(f"{served.base_url}/health") == (200, "ok")


def test_an_expired_link_offers_a_fresh_one_mailed_to_a_known_address(served: Served) -> None:
    old = sign(KEY, 1, LEAD_EMAIL, LEAD, datetime.now(UTC) - timedelta(days=60))
    status, page = fetch(f"{served.base_url}/lead/{old}")
    assert status == 410 and 'action="/fresh-link"' in page

    status, page = post_fresh(served, LEAD_EMAIL.upper())
    assert status == 200 and "a new link is on its way" in page
    (path,) = wait_for_mail(served, 1)
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["To"].addresses[0].addr_spec == LEAD_EMAIL  # type: ignore[attr-defined]
    body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = next(w for w in body.split() if w.startswith(f"{served.base_url}/lead/"))
    status, page = fetch(link)
    assert status == 200 and 'id="action-WS1-02"' in page


def test_a_fresh_link_asked_for_after_midnight_in_summer_is_dated_that_day(
    served: Served,
) -> None:
    served.now = datetime(2026, 7, 14, 23, 30, tzinfo=UTC)  # 00:30 on 15 July in London
    assert post_fresh(served, LEAD_EMAIL)[0] == 200
    (path,) = wait_for_mail(served, 1)
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["X-Planworker-Job"] == "fresh-link 2026-07-15"
    (row,) = json.loads(served.cli("outbox", "--json").stdout)["messages"]
    assert row["as_of"] == "2026-07-15"


def test_an_unknown_address_gets_the_same_page_and_no_mail(served: Served) -> None:
    known_status, known_page = post_fresh(served, LEAD_EMAIL)
    unknown = "someone.else@example.net"
    status, page = post_fresh(served, unknown)
    assert (status, page.replace(unknown, LEAD_EMAIL)) == (known_status, known_page)
    wait_for_mail(served, 1)
    time.sleep(1)  # the unknown address's background task has had its chance
    found = [
        message_from_bytes(p.read_bytes(), policy=policy.default)["To"]
        for p in maildir_files(served)
    ]
    assert [str(to) for to in found if unknown in str(to)] == [] and len(found) == 1


def test_asking_again_and_again_for_one_address_is_limited(served: Served) -> None:
    statuses = [post_fresh(served, LEAD_EMAIL)[0] for _ in range(5)]
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
    assert len(wait_for_mail(served, 3)) == 3


def test_two_instances_of_the_page_send_one_address_three_fresh_links_an_hour_between_them(
    served: Served,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Behind a proxy each instance counts requests in its own memory, where neither sees
    # more than three; what the lead receives is counted in the outbox they share.
    caplog.set_level(logging.INFO)
    with serving(served.cli, tmp_path, monkeypatch) as other:
        for n, instance in enumerate([served, other] * FRESH_PER_EMAIL.limit, 1):
            assert post_fresh(instance, LEAD_EMAIL)[0] == 200
            wait_for_mail(served, min(n, FRESH_PER_EMAIL.limit))
        deadline = time.monotonic() + 20
        while ours(caplog).count("fresh link not sent") < FRESH_PER_EMAIL.limit:
            assert time.monotonic() < deadline, ours(caplog)
            time.sleep(0.1)
    assert len(maildir_files(served)) == FRESH_PER_EMAIL.limit
    assert f"{LEAD_EMAIL} was sent 3 in 60 minutes already" in ours(caplog)


def test_two_instances_asked_in_the_same_instant_queue_one_link_between_them(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Session(engine) as session:
        import_file(session, SEED, None, "test", "end", load_directory(CONTACTS))
        session.commit()
    directory = load_directory(CONTACTS)
    config = remind_config(Settings(), directory)
    to = fresh.known(directory, LEAD_EMAIL)
    assert to is not None
    sessions = session_factory(engine)
    start = datetime.now(UTC)
    seconds = itertools.count()  # each request its own moment, so its own Message-ID
    found: list[bool] = []

    def ask() -> None:
        now = start + timedelta(seconds=next(seconds))
        with sessions() as session:
            plan = session.scalars(select(Plan)).one()
            queued = fresh.queue_fresh_link(
                session, plan, config, to,
                key=KEY, base_url="https://planworker.example.org", link_days=14, now=now,
            )  # fmt: skip
            found.append(queued)

    for _ in range(FRESH_PER_EMAIL.limit - 1):
        ask()
    # Each instance, having counted, waits (two seconds at most) for the other to have
    # counted too: were counting and queueing not one step, both would find room for one.
    counted = threading.Barrier(2)
    count = fresh.sent_lately

    def count_then_wait(*args: object) -> int:
        n = count(*args)  # type: ignore[arg-type]
        with contextlib.suppress(threading.BrokenBarrierError):
            counted.wait(timeout=2)
        return n

    monkeypatch.setattr(fresh, "sent_lately", count_then_wait)
    both = [threading.Thread(target=ask) for _ in range(2)]
    for thread in both:
        thread.start()
    for thread in both:
        thread.join(timeout=30)
    assert sorted(found) == [False] + [True] * FRESH_PER_EMAIL.limit
    with sessions() as session:
        queued = session.scalar(select(func.count()).where(Message.job == fresh.JOB))
    assert queued == FRESH_PER_EMAIL.limit


def test_a_limited_client_gets_in_again_once_its_window_has_moved_on() -> None:
    from worker.web.limits import Limit, SlidingWindow

    window = SlidingWindow(Limit(2, 600))
    assert [window.allow("a", t) for t in (0, 10, 20)] == [True, True, False]
    assert window.retry_after("a", 20) == 581
    assert window.allow("b", 20)  # another key has its own count
    assert window.allow("a", 601)  # the first event has left the window
    assert not window.allow("a", 602)
