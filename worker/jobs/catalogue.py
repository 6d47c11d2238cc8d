"""Every job planworker runs, by name, and the one entry point that runs them: the command
line, the service and `simulate` all come through `run` (and the service's retry tick
through `deliver`). To add a job: declare a `Job` in a module of its own under worker/jobs/
(its rules, templates, ledger name and schedule key) and list it here."""

from __future__ import annotations

from worker.jobs import digest, escalate, remind, request
from worker.jobs.deliver import DeliveryReport
from worker.jobs.pipeline import Job, Request, deliver_and_notify, run_job
from worker.jobs.results import JobResult

JOBS: dict[str, Job] = {
    job.name: job
    for job in (remind.JOB, escalate.ESCALATE, escalate.ALERT, digest.JOB, request.JOB)
}


def run(name: str, request: Request) -> JobResult:
    """Run the named job: prepare, decide, render, record, then deliver (docs/architecture.md)."""
    return run_job(JOBS[name], request, JOBS)


def deliver(request: Request) -> DeliveryReport:
    """Deliver what is due in the outbox, re-routing and telling of refusals as a job does."""
    return deliver_and_notify(request, JOBS)
