"""Print the top entries of a cProfile stats file (from `bench/run.py --profile-dir DIR` or
`bench/steps.py STEP --profile FILE`) as a short Markdown table.

    .venv/bin/python bench/top.py var/profiles/sqlite-100000-ws100-daily.prof --sort tottime
"""

from __future__ import annotations

import argparse
import pstats
from collections.abc import Sequence
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1]) + "/"


def _where(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    if filename == "~":  # a built-in
        return name
    short = filename.replace(ROOT, "")
    if "site-packages/" in short:
        short = short.split("site-packages/", 1)[1]
    elif "/lib/python3" in short:
        short = "stdlib/" + short.split("/lib/python3", 1)[1].split("/", 1)[1]
    return f"{short}:{line}({name})"


def top(path: Path, sort: str, limit: int, match: str) -> str:
    stats = pstats.Stats(str(path))
    table = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for _, _, tt, _, _ in table.values())
    index = {"tottime": 2, "cumtime": 3, "calls": 1}[sort]
    rows = sorted(table.items(), key=lambda kv: kv[1][index], reverse=True)
    lines = [
        f"{path.name}: {total:.2f} s profiled",
        "",
        "| calls | own (s) | with callees (s) | function |",
        "|---:|---:|---:|---|",
    ]
    shown = 0
    for key, (_, calls, own, cumulative, _) in rows:
        where = _where(key)
        if match and match not in where:
            continue
        lines.append(f"| {calls:,} | {own:.2f} | {cumulative:.2f} | `{where}` |")
        shown += 1
        if shown >= limit:
            break
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stats", type=Path)
    parser.add_argument("--sort", choices=("tottime", "cumtime", "calls"), default="cumtime")
    parser.add_argument("--limit", type=int, default=15)
    parser.add_argument("--match", default="", help="only functions whose place contains this")
    args = parser.parse_args(argv)
    print(top(args.stats, args.sort, args.limit, args.match))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
