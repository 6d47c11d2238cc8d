"""How long another writer waits for SQLite's write lock while a planworker command runs.

A lead's report from the web page, `status set` or a second worker each need the write lock
for a moment. This runs the command given after `--` as a process and, beside it, asks for
the write lock every `--every` seconds (BEGIN IMMEDIATE, then ROLLBACK) on the same
database, timing each wait. It prints the longest waits and how many passed 1, 5 and 30
seconds: the 5 s is the busy timeout a command or page uses unless the URL says otherwise.

    python bench/lock_waits.py --db /work/var/q.db -- planworker remind --as-of 2012-11-15
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import threading
import time


def probe(db: str, every: float, stop: threading.Event, waits: list[float]) -> None:
    connection = sqlite3.connect(db, timeout=3600, isolation_level=None)
    try:
        while not stop.is_set():
            started = time.monotonic()
            connection.execute("BEGIN IMMEDIATE")
            waits.append(time.monotonic() - started)
            connection.execute("ROLLBACK")
            stop.wait(every)
    finally:
        connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="the SQLite file the command writes")
    parser.add_argument("--every", type=float, default=0.05, help="seconds between asks")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- the command to run")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    waits: list[float] = []
    stop = threading.Event()
    asker = threading.Thread(target=probe, args=(args.db, args.every, stop, waits))
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    asker.start()
    code = process.wait()
    stop.set()
    asker.join()
    wall = time.monotonic() - started
    longest = sorted(waits, reverse=True)
    print(f"command exit {code}, {wall:.1f} s wall, {len(waits):,} asks for the write lock")
    print("longest waits (s): " + ", ".join(f"{w:.2f}" for w in longest[:10]))
    for limit in (1, 5, 30):
        print(f"  over {limit:>2} s: {sum(w > limit for w in waits)}")
    return code


if __name__ == "__main__":
    sys.exit(main())
