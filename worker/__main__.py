"""`python -m worker` is `planworker`."""

from worker.cli import main

main()
