"""The `planworker` command: parse arguments, call one function, print the result.

One module per area registers its commands on `main` (cli/app.py); all output is made in
cli/output.py, and every run of a job goes through cli/jobs.py.
"""

from worker.cli import config, jobs, outbox, plan, service, status, web
from worker.cli.app import main

__all__ = ["config", "jobs", "main", "outbox", "plan", "service", "status", "web"]
