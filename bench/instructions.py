"""Instructions a command executes, counted by valgrind: a measure the machine's load cannot move.

CPU seconds on this kind of machine vary by up to a factor of two from hour to hour, so two
versions of the code timed even back to back can differ by noise alone. Cachegrind counts
the instructions the process executes (user space), which are the same on every run of the
same code on the same data; the count is a fair measure of a change to our own Python code.

Two limits to keep in mind when reading a count:
- it is not a time: a cache miss or a system call weighs as much as any instruction;
- valgrind does not run the CPU's SHA extensions, so OpenSSL hashes in a slower portable
  path: the SHA-256 of each message's parts (its MIME boundaries) counts about 9% of a run
  here, against well under 1% of its time on the real CPU.

Each checkout runs `python -m worker ARGS` on its own copy of the database (the command
writes to it), with this script's settings in the environment, from a temporary folder:

    .venv/bin/python bench/instructions.py --db var/q.db --contacts var/q-contacts.toml \
        . ../other-checkout -- remind --as-of 2012-11-15

It takes about 3 minutes per checkout for the 100k quick check (valgrind runs the command
about 20 times slower); the checkouts run two at a time.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

_TOTAL = re.compile(r"I\s+refs:\s+([\d,]+)")


def count(code: Path, db: Path, contacts: Path, args: Sequence[str], folder: Path) -> int:
    """Instructions of one run of the command with `code` first on the path."""
    shutil.copy(db, folder / "q.db")
    env = {
        **os.environ,
        "PYTHONPATH": str(code),
        "PLANWORKER_DATABASE_URL": f"sqlite:///{folder / 'q.db'}",
        "PLANWORKER_CONTACTS_FILE": str(contacts),
        "PLANWORKER_MAIL__BACKEND": "maildir",
        "PLANWORKER_MAIL__MAILDIR": str(folder / "mail"),
        "PLANWORKER_CONFIG": "",
    }
    run = subprocess.run(
        [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            f"--cachegrind-out-file={folder / 'cachegrind.out'}",
            sys.executable,
            "-m",
            "worker",
            *args,
        ],
        cwd=folder,  # not a checkout: `python -m worker` would put it ahead of PYTHONPATH
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    found = _TOTAL.search(run.stderr)
    if run.returncode != 0 or found is None:
        raise SystemExit(
            f"{code}: the command failed (exit {run.returncode}):\n{run.stderr[-2000:]}"
        )
    return int(found.group(1).replace(",", ""))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="a SQLite plan (copied per run)")
    parser.add_argument("--contacts", type=Path, required=True)
    parser.add_argument("checkouts", type=Path, nargs="+", help="folders holding worker/")
    given = list(sys.argv[1:] if argv is None else argv)
    # What follows "--" is the command's own (default: the quick check's remind).
    cut = given.index("--") if "--" in given else len(given)
    options = parser.parse_args(given[:cut])
    args = given[cut + 1 :] or ["remind", "--as-of", "2012-11-15"]
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="planworker-instructions-") as tmp:
        folders = [Path(tmp, str(i)) for i in range(len(options.checkouts))]
        for folder in folders:
            folder.mkdir()
        code = [c.resolve() for c in options.checkouts]
        for checkout in code:  # as `pip install .` leaves it: not compiled on every run
            compileall.compile_dir(checkout / "worker", quiet=1)
        db, contacts = options.db.resolve(), options.contacts.resolve()
        with ThreadPoolExecutor(max_workers=2) as pool:
            pairs = zip(code, folders, strict=True)
            runs = [pool.submit(count, c, db, contacts, args, f) for c, f in pairs]
            totals = [run.result() for run in runs]
    first = totals[0]
    for path, total in zip(options.checkouts, totals, strict=True):
        print(f"{total:>16,} instructions  {total / first - 1:+7.1%}  {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
