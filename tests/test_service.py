"""The service with an injected clock: schedules, daylight saving, catch-up, stopping,
several workers, health and config check. No test sleeps for real hours."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.conftest import CONTACTS, ROOT, SEED, Cli
from tests.smtp_server import SmtpServer
from tests.test_remind import use_smtp
from worker.configure import remind_config
from worker.contacts import load_directory
from worker.db import session_factory
from worker.health import problems
from worker.mail.errors import TransientError
from worker.mail.memory import MemoryMailer
from worker.models import JobRun, Message
from worker.plan.importer import import_file
from worker.schedule import fire_times, latest_fire, trigger, upcoming
from worker.service import Service, job_specs
from worker.settings import Settings

LONDON = ZoneInfo("Europe/London")


def at(day: str, clock: str = "00:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=LONDON)


# --- schedules (pure) --------------------------------------------------------------------


@pytest.mark.parametrize("change_day", ["2012-03-25", "2012-10-28"])
def test_a_daily_seven_oclock_job_runs_once_on_daylight_saving_days(change_day: str) -> None:
    job = trigger("0 7 * * *", "Europe/London")
    times = fire_times(job, at(change_day), at(change_day, "23:59"))
    assert [t.astimezone(LONDON).strftime("%H:%M") for t in times] == ["07:00"]
    # Every day around the change, 07:00 London, whatever the offset from UTC.
    week = fire_times(
        job, at(change_day) - timedelta(days=3), at(change_day) + timedelta(days=3, hours=23)
    )
    assert len(week) == 7
    assert {t.astimezone(LONDON).hour for t in week} == {7}
    assert len({t.astimezone(UTC).hour for t in week}) == 2


def test_weekday_jobs_skip_weekends_and_the_digest_is_weekly() -> None:
    remind = trigger("0 7 * * mon-fri", "Europe/London")
    digest = trigger("30 7 * * mon", "Europe/London")
    assert [t.date() for t in upcoming(remind, at("2012-09-21", "08:00"), 3)] == [
        date(2012, 9, 24),
        date(2012, 9, 25),
        date(2012, 9, 26),
    ]
    assert [t.date() for t in upcoming(digest, at("2012-09-21"), 2)] == [
        date(2012, 9, 24),
        date(2012, 10, 1),
    ]


def test_the_period_is_the_latest_scheduled_time_so_downtime_is_caught_up_once() -> None:
    remind = trigger("0 7 * * mon-fri", "Europe/London")
    # Down from Friday 21 to Wednesday 26 at 10:00: only Wednesday 07:00 is run.
    assert latest_fire(remind, at("2012-09-26", "10:00")) == at("2012-09-26", "07:00")
    assert latest_fire(remind, at("2012-09-26", "06:59")) == at("2012-09-25", "07:00")
    assert latest_fire(remind, at("2012-09-23", "12:00")) == at("2012-09-21", "07:00")


# --- the service, clock injected ---------------------------------------------------------


class Recorder(MemoryMailer):
    """A mailer that can stop the service, or fail, after some messages."""

    def __init__(
        self, service_stop: threading.Event | None = None, stop_after: int = 0, fail: bool = False
    ) -> None:
        super().__init__()
        self.service_stop = service_stop
        self.stop_after = stop_after
        self.fail = fail

    def send(self, data: bytes, *, sender: str, recipients: list[str]) -> str:  # type: ignore[override]
        if self.fail:
            raise TransientError("connection refused", backend=True)
        receipt = super().send(data, sender=sender, recipients=recipients)
        if self.service_stop is not None and self.count >= self.stop_after:
            self.service_stop.set()
        return receipt


def make_service(engine: Engine, mailer: MemoryMailer, **settings: object) -> Service:
    with session_factory(engine)() as session:
        import_file(session, SEED, None, "test", "end", load_directory(CONTACTS))
        session.commit()
    config = remind_config(Settings(**settings), load_directory(CONTACTS))  # type: ignore[arg-type]
    service = Service(
        sessions=session_factory(engine),
        plan_id=1,
        timezone="Europe/London",
        config=config,
        jobs=job_specs(Settings(**settings), "Europe/London"),  # type: ignore[arg-type]
        make_mailer=lambda: mailer,
    )
    return service


def runs(engine: Engine) -> list[tuple[str, str, str]]:
    with session_factory(engine)() as session:
        rows = session.execute(select(JobRun.job, JobRun.period, JobRun.state).order_by(JobRun.id))
        return [
            (j, (p if p.tzinfo else p.replace(tzinfo=UTC)).astimezone(LONDON).isoformat(), s)
            for j, p, s in rows
        ]


def test_a_job_runs_once_per_scheduled_time(engine: Engine) -> None:
    mailer = MemoryMailer()
    service = make_service(engine, mailer)
    monday = at("2012-09-24", "07:00")
    assert service.run_due("remind", monday) == "ran"
    sent = mailer.count
    assert sent > 10
    assert service.run_due("remind", monday + timedelta(minutes=5)) == "done elsewhere"
    assert mailer.count == sent
    assert runs(engine) == [("remind", "2012-09-24T07:00:00+01:00", "succeeded")]


def test_downtime_is_caught_up_once_at_start(engine: Engine) -> None:
    mailer = MemoryMailer()
    service = make_service(engine, mailer)
    # Started on Thursday 27 September at 10:00 after being down since the previous week.
    outcome = service.catch_up(at("2012-09-27", "10:00"))
    assert outcome == {
        "remind": "ran",
        "escalate": "ran",
        "digest": "ran",
        "request": "ran",
        "retry": "ran",
    }
    periods = {j: p for j, p, _ in runs(engine)}
    assert periods["remind"] == "2012-09-27T07:00:00+01:00"  # today's, not a replay of each day
    assert periods["digest"] == "2012-09-24T07:30:00+01:00"  # Monday's digest, once
    with session_factory(engine)() as session:
        jobs = Counter(session.scalars(select(Message.job)))
    assert jobs["digest"] == 4 and jobs["remind"] > 10


def test_stopping_mid_run_leaves_nothing_half_recorded(engine: Engine) -> None:
    service = make_service(engine, MemoryMailer())
    mailer = Recorder(service.stop, stop_after=3)
    service.make_mailer = lambda: mailer
    service.run_due("remind", at("2012-09-24", "07:00"))
    assert mailer.count == 3
    with session_factory(engine)() as session:
        states = Counter(session.scalars(select(Message.state)))
    assert states["sent"] == 3 and states["sending"] == 0 and states["pending"] > 0
    # Restarted: the retry tick sends the rest, once each.
    again = make_service_restarted(service, MemoryMailer())
    again.run_due("retry", at("2012-09-24", "07:10"))
    with session_factory(engine)() as session:
        states = Counter(session.scalars(select(Message.state)))
    assert set(states) == {"sent"}


def make_service_restarted(old: Service, mailer: MemoryMailer) -> Service:
    return Service(old.sessions, old.plan_id, old.timezone, old.config, old.jobs, lambda: mailer)


def test_a_failed_run_is_taken_up_again_by_the_retry_tick(engine: Engine) -> None:
    service = make_service(engine, Recorder(fail=True))
    assert service.run_due("remind", at("2012-09-24", "07:00")) == "failed"
    working = MemoryMailer()
    service.make_mailer = lambda: working
    service.run_due("retry", at("2012-09-24", "07:10"))
    assert working.count > 10
    assert ("remind", "2012-09-24T07:00:00+01:00", "succeeded") in runs(engine)


def test_two_workers_woken_together_run_each_job_once(engine: Engine) -> None:
    first, second = MemoryMailer(), MemoryMailer()
    one = make_service(engine, first)
    two = make_service_restarted(one, second)
    now = at("2012-09-24", "07:00")
    threads = [threading.Thread(target=s.run_due, args=("remind", now)) for s in (one, two)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with session_factory(engine)() as session:
        planned = session.scalars(select(Message.message_id)).all()
    delivered = [
        m["Message-ID"] for m in [msg for _, msg in first.sent] + [msg for _, msg in second.sent]
    ]
    assert sorted(delivered) == sorted(planned)
    assert len(runs(engine)) == 1


# --- health ------------------------------------------------------------------------------


def test_health_fails_when_a_run_is_late_and_recovers_when_it_runs(engine: Engine) -> None:
    service = make_service(engine, MemoryMailer())
    grace = timedelta(minutes=20)

    def check(now: datetime) -> list[str]:
        return problems(service.sessions, 1, service.jobs, now, grace, MemoryMailer())

    assert check(at("2012-09-24", "06:00")) == ["no job has run yet: is 'planworker run' running?"]
    service.catch_up(at("2012-09-24", "06:00"))
    assert check(at("2012-09-24", "06:15")) == []
    late = check(at("2012-09-24", "07:30"))
    assert any(p.startswith("job remind: the run due at 2012-09-24T07:00") for p in late)
    service.catch_up(at("2012-09-24", "07:30"))
    assert check(at("2012-09-24", "07:45")) == []


def test_health_reports_an_unreachable_mail_server(engine: Engine) -> None:
    service = make_service(engine, MemoryMailer())
    service.catch_up(at("2012-09-24", "08:00"))
    with SmtpServer("plain") as server:
        from worker.mail.smtp import SmtpConfig, SmtpMailer

        smtp = SmtpMailer(SmtpConfig(server.host, server.port, "none", timeout=2))
        assert (
            problems(
                service.sessions,
                1,
                service.jobs,
                at("2012-09-24", "08:05"),
                timedelta(minutes=20),
                smtp,
            )
            == []
        )
        server.stop()
        found = problems(
            service.sessions,
            1,
            service.jobs,
            at("2012-09-24", "08:05"),
            timedelta(minutes=20),
            smtp,
        )
        assert len(found) == 1 and found[0].startswith("mail backend unreachable")


# --- the real command --------------------------------------------------------------------


def worker_env(cli: Cli) -> dict[str, str]:
    return {**os.environ, **cli.environment(), "PLANWORKER_SERVICE__LOG_FORMAT": "json"}


@pytest.mark.slow
def test_run_starts_catches_up_reports_healthy_and_stops_on_sigterm(tmp_path: Path) -> None:
    cli = Cli(f"sqlite:///{tmp_path / 'service.db'}", tmp_path)
    cli("db", "upgrade")
    cli("plan", "import", str(SEED))
    unhealthy = cli("health", "--json", ok=False)
    assert unhealthy.exit_code == 1
    assert json.loads(unhealthy.stdout)["problems"] == [
        "no job has run yet: is 'planworker run' running?"
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "worker", "run"],
        env=worker_env(cli),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and cli("health", ok=False).exit_code != 0:
            time.sleep(0.3)
        assert cli("health").stdout.strip() == "healthy"
        second = cli("run", ok=False)  # a second instance on the same SQLite file
        assert "another 'planworker run' is using" in second.output
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    messages = [json.loads(line)["message"] for line in out.splitlines()]
    assert any(m.startswith("job remind for") for m in messages)
    assert messages[-1] == "planworker stopped"


@pytest.mark.slow
@pytest.mark.postgres
def test_two_worker_processes_on_postgresql_send_everything_once(
    tmp_path: Path, postgres_url: str
) -> None:
    cli = Cli(postgres_url, tmp_path)
    cli("db", "upgrade")
    cli("plan", "import", str(SEED))
    with SmtpServer("plain") as server:
        use_smtp(cli, server)
        command = [
            sys.executable,
            "-m",
            "worker",
            "run",
            "--replay-from",
            "2012-09-24",
            "--replay-to",
            "2012-10-02",
        ]
        workers = [
            subprocess.Popen(command, env=worker_env(cli), cwd=ROOT, stdout=subprocess.DEVNULL)
            for _ in range(2)
        ]
        for w in workers:
            assert w.wait(timeout=300) == 0
        received = Counter(r.message["Message-ID"] for r in server.received)
    outbox = json.loads(cli("outbox", "--limit", "100000", "--json").stdout)
    planned = {m["message_id"] for m in outbox["messages"]}
    assert outbox["counts"]["sent"] == len(planned) > 100
    assert set(received) == planned  # no gaps
    assert max(received.values()) == 1  # no duplicates
    # Every scheduled time of the daily jobs in the period ran once, by one of the two.
    jobs = job_specs(Settings(), "Europe/London")
    engine_runs = Counter((j, p) for j, p, s in runs_of(postgres_url) if s == "succeeded")
    for name in ("remind", "escalate", "digest"):
        for when in fire_times(jobs[name].trigger, at("2012-09-24"), at("2012-10-02", "23:59")):
            assert engine_runs[(name, when.astimezone(UTC))] == 1, (name, when)


def runs_of(url: str) -> Iterator[tuple[str, datetime, str]]:
    from worker.db import make_engine

    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            for j, p, s in session.execute(select(JobRun.job, JobRun.period, JobRun.state)):
                yield j, p.astimezone(UTC), s
    finally:
        engine.dispose()


# --- config check ------------------------------------------------------------------------


def test_config_check_shows_the_next_five_runs_of_each_job(cli: Cli) -> None:
    cli.env["PLANWORKER_CONFIG"] = str(ROOT / "config" / "planworker.toml")
    cli.env["PLANWORKER_MAIL__MAILDIR"] = str(cli.maildir)
    data = json.loads(cli("config", "check", "--json").stdout)
    jobs = {j["job"]: j for j in data["jobs"]}
    assert jobs["remind"]["schedule"] == "0 7 * * mon-fri" and len(jobs["remind"]["next"]) == 5
    assert all(datetime.fromisoformat(t).weekday() < 5 for t in jobs["remind"]["next"])
    assert all(datetime.fromisoformat(t).weekday() == 0 for t in jobs["digest"]["next"])
    assert jobs["heartbeat"]["enabled"] is False
    text = cli("config", "check").stdout
    assert "remind" in text and "next:" in text


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[jobs.remind]\nschedule = "0 7 * * moo"\n', "jobs.remind.schedule"),
        ('[jobs.remind]\nschedule = "every day"\n', "needs five fields"),
        ('[jobs.remnd]\nschedule = "0 7 * * *"\n', "did you mean 'remind'"),
        ('[service]\ntimezone = "Europe/Londn"\n', "service.timezone"),
    ],
)
def test_config_check_names_the_file_and_key_of_a_bad_schedule(
    cli: Cli, tmp_path: Path, toml: str, expected: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml, encoding="utf-8")
    result = cli("--config", str(path), "config", "check", ok=False)
    assert result.exit_code != 0
    assert str(path) in result.output and expected in result.output


def test_the_heartbeat_pings_the_monitor_only_while_healthy(engine: Engine) -> None:
    import http.server

    hits: list[str] = []

    class Monitor(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    monitor = http.server.HTTPServer(("127.0.0.1", 0), Monitor)
    threading.Thread(target=monitor.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{monitor.server_port}/ping/abc"
        heartbeat = {"heartbeat": {"enabled": True, "schedule": "*/5 * * * *", "url": url}}
        service = make_service(engine, MemoryMailer(), jobs=heartbeat)
        service.check_health = lambda: ["job remind: late"]
        assert service.run_due("heartbeat", at("2012-09-24", "07:05")) == "failed"
        assert hits == []
        service.check_health = lambda: []
        assert service.run_due("heartbeat", at("2012-09-24", "07:10")) == "ran"
        assert hits == ["/ping/abc"]
        # The path is the check's token: the job's record keeps the host only.
        with Session(engine) as session:
            summaries = session.scalars(select(JobRun.summary).where(JobRun.job == "heartbeat"))
            assert not [s for s in summaries if "abc" in s]
    finally:
        monitor.shutdown()


# --- the clock changes, the service on time ----------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("saturday", "hours"), [("2012-03-24", 23), ("2012-10-27", 25)], ids=["spring", "autumn"]
)
def test_the_service_runs_every_job_on_time_through_a_clock_change(
    engine: Engine, saturday: str, hours: int
) -> None:
    from worker.service import replay

    service = make_service(engine, MemoryMailer())
    grace = timedelta(minutes=20)
    monday = (datetime.fromisoformat(saturday) + timedelta(days=2)).date().isoformat()
    start, end = at(saturday, "22:00"), at(monday, "08:00")
    # Sunday has `hours` hours: the retry tick's 10 minutes are counted on the real clock.
    assert (at(saturday) + timedelta(days=2)).astimezone(UTC) - (
        at(saturday) + timedelta(days=1)
    ).astimezone(UTC) == timedelta(hours=hours)
    unhealthy = []
    outcome = []
    for when, name, result in replay(service, start, end):
        outcome.append((when, name, result))
        found = problems(service.sessions, 1, service.jobs, when, grace, None)
        if found and when > start.astimezone(UTC):
            unhealthy.append((when, found))
    assert unhealthy == []
    assert {result for _, _, result in outcome} == {"ran"}
    ticks = [when for when, name, _ in outcome if name == "retry"]
    first = start.astimezone(UTC)
    count = int((end.astimezone(UTC) - first) / timedelta(minutes=10)) + 1
    assert ticks == [first + n * timedelta(minutes=10) for n in range(count)]
    daily = {
        name: [when.astimezone(LONDON) for when, n, _ in outcome if n == name]
        for name in ("remind", "escalate", "digest")
    }
    assert daily == {
        "remind": [at(monday, "07:00")],
        "escalate": [at(monday, "07:15")],
        "digest": [at(monday, "07:30")],
    }
    # Recorded once per period, all succeeded; the first tick also took up Friday's
    # reminders and status-return requests and the previous Monday's digest.
    recorded = runs(engine)
    assert {state for _, _, state in recorded} == {"succeeded"}
    assert Counter(job for job, _, _ in recorded) == {
        "retry": len(ticks),
        "remind": 2,
        "escalate": 2,
        "digest": 2,
        "request": 1,  # Friday's 09:00; Monday's is after the replay's end
    }
    friday = (datetime.fromisoformat(saturday) - timedelta(days=1)).date().isoformat()
    assert [p for job, p, _ in recorded if job == "remind"] == [
        at(friday, "07:00").isoformat(),
        at(monday, "07:00").isoformat(),
    ]


# --- health from what the service records ------------------------------------------------


def test_plain_health_opens_no_smtp_connection_and_deep_health_logs_in(
    cli: Cli, tmp_path: Path
) -> None:
    from tests.smtp_server import _ca

    cli("plan", "import", str(SEED))
    ca = tmp_path / "ca.pem"
    _ca().cert_pem.write_to_path(str(ca))
    with SmtpServer("starttls", username="planworker", password="s3cret") as server:
        use_smtp(cli, server, security="starttls")
        cli.env["PLANWORKER_SMTP__CA_FILE"] = str(ca)
        cli.env["PLANWORKER_SMTP__USERNAME"] = "planworker"
        cli.env["PLANWORKER_SMTP__PASSWORD"] = "wrong"
        for _ in range(3):  # the container's probe, every 30 seconds
            plain = json.loads(cli("health", "--json", ok=False).stdout)["problems"]
            assert not any("mail" in p for p in plain)
        assert server.sessions == 0
        deep = json.loads(cli("health", "--deep", "--json", ok=False).stdout)["problems"]
        assert server.sessions == 1
        assert any(p.startswith("mail backend unreachable") for p in deep)  # the login failed
        cli.env["PLANWORKER_SMTP__PASSWORD"] = "s3cret"
        deep = json.loads(cli("health", "--deep", "--json", ok=False).stdout)["problems"]
        assert server.sessions == 2
        assert not any("mail" in p for p in deep)


def everyone(directory_path: Path = CONTACTS) -> set[str]:
    directory = load_directory(directory_path)
    people = [directory.administrator, *directory.board]
    return {r.email for r in directory.roles.values()} | {p.email for p in people}


def test_a_run_whose_mail_is_refused_for_good_is_an_error_recorded_failed_and_unhealthy(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    from worker.mail.smtp import SmtpConfig, SmtpMailer

    with SmtpServer("plain") as server:
        for address in everyone():
            server.reject_rcpt[address] = (550, "5.1.1 No such user")
        smtp = SmtpMailer(SmtpConfig(server.host, server.port, "none", timeout=5))
        service = make_service(engine, MemoryMailer())
        service.make_mailer = lambda: smtp
        with caplog.at_level("INFO", logger="planworker.service"):
            assert service.run_due("remind", at("2012-09-24", "07:00")) == "failed"
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "job remind for" in errors[0].getMessage()
    assert "message(s) failed" in errors[0].getMessage()
    assert runs(engine) == [("remind", "2012-09-24T07:00:00+01:00", "failed")]
    found = problems(service.sessions, 1, service.jobs, at("2012-09-24", "07:25"), GRACE, None)
    assert any(
        p.startswith("job remind: the run due at 2012-09-24T07:00:00+01:00 failed: ")
        and "message(s) failed" in p
        for p in found
    )
    refused = [p for p in found if p.startswith("delivery:")]
    assert len(refused) == 1 and "failed permanently" in refused[0]
    assert "550 5.1.1 No such user" in refused[0]
    assert any(address in refused[0] for address in everyone())


def test_mail_stuck_in_the_outbox_is_a_warning_and_unhealthy_with_the_last_error(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    service = make_service(engine, Recorder(fail=True))
    with caplog.at_level("INFO", logger="planworker.service"):
        assert service.run_due("remind", at("2012-09-24", "07:00")) == "failed"
    assert [r.levelname for r in caplog.records if "job remind for" in r.getMessage()] == [
        "WARNING"
    ]
    # Messages are timed by the real clock: just failed, they are not yet overdue.
    real = datetime.now(UTC)
    assert not any(
        p.startswith("delivery:")
        for p in problems(service.sessions, 1, service.jobs, real, GRACE, None)
    )
    later = problems(service.sessions, 1, service.jobs, real + timedelta(hours=1), GRACE, None)
    stuck = [p for p in later if p.startswith("delivery:")]
    assert len(stuck) == 1
    assert "waiting to be sent for more than 20 minutes" in stuck[0]
    assert stuck[0].endswith("(last error: connection refused)")


GRACE = timedelta(minutes=20)
