"""A large plan table is imported as it is read: a chunk at a time in one transaction, so
that memory holds a chunk, not the file, and a bad row anywhere still writes nothing."""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.conftest import Cli
from tests.test_plan_store import snapshot
from worker.cli import plan as plan_cli
from worker.errors import InputError
from worker.io import sheets
from worker.io.sheets import csv_encoding
from worker.io.tables import ActionRows, read_csv
from worker.store.action_links import CHUNK

HEAD = "ID,Work Stream,Actions,Lead,Target End Date,Status"
# More rows than two chunks, so that a late bad row comes after chunks were written.
ROWS = CHUNK * 2 + 500


def _row(n: int, *, target: str = "30 June 2013", text: str = "Audit case files") -> str:
    return f"A{n:05d},{1 + n % 9},{text} {n},Head of QA,{target},{'' if n % 3 else 'in progress'}"


def _table(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join([HEAD, *rows]) + "\n", encoding="utf-8")
    return path


def _big(tmp_path: Path, name: str = "big.csv", **bad: str) -> Path:
    rows = [_row(n) for n in range(1, ROWS + 1)]
    for index, row in bad.items():
        rows[int(index.removeprefix("r"))] = row
    return _table(tmp_path / name, rows)


def test_a_large_table_is_written_in_chunks_with_the_same_report(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    path = _big(tmp_path)
    first = json.loads(cli("plan", "import", str(path), "--json").output)
    assert first["added"] == ROWS
    assert first["status_changes"] == ROWS // 3
    before = snapshot(engine)
    again = json.loads(cli("plan", "import", str(path), "--json").output)
    assert again["unchanged"] == ROWS and again["added"] == again["updated"] == 0
    assert snapshot(engine) == before
    # Changes in the last chunk, rows removed from the first and added at the end.
    rows = [_row(n) for n in range(11, ROWS + 1)]
    rows[-1] = _row(ROWS, target="31 March 2014")
    rows.append(_row(ROWS + 1))
    edited = json.loads(
        cli("plan", "import", str(_table(tmp_path / "e.csv", rows)), "--json").output
    )
    assert (edited["added"], edited["archived"], edited["targets_moved"]) == (1, 10, 1)


def test_a_bad_row_late_in_a_large_file_writes_nothing(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    before = snapshot(engine)
    late = ROWS - 3
    path = _big(tmp_path, **{f"r{late}": f"A{late:05d},none,Text,Head of QA,June 2013,"})
    result = cli("plan", "import", str(path), ok=False)
    assert result.exit_code != 0
    # The file, the spreadsheet row (the heading is row 1) and the reason.
    assert str(path) in result.output
    assert f"row {late + 2}, column 'Work Stream'" in result.output
    assert "'none' is not a work stream number" in result.output
    assert snapshot(engine) == before  # not even the plan row


def test_a_bad_row_late_in_a_re_import_leaves_the_plan_as_it_was(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    cli("plan", "import", str(_big(tmp_path)))
    before = snapshot(engine)
    rows = [_row(n, text="Revised audit of case files") for n in range(1, ROWS + 1)]
    rows[-1] = f"A{ROWS:05d},1,Text,Head of QA,June 2013,sideways"
    result = cli("plan", "import", str(_table(tmp_path / "bad.csv", rows)), ok=False)
    assert result.exit_code != 0 and f"row {ROWS + 1}" in result.output
    assert snapshot(engine) == before


def test_a_duplicate_id_chunks_apart_names_both_rows_and_writes_nothing(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    before = snapshot(engine)
    late = ROWS - 1
    path = _big(tmp_path, **{f"r{late}": _row(5)})
    result = cli("plan", "import", str(path), ok=False)
    assert f"row {late + 2}, column 'ID': 'A00005' is already used on row 6" in result.output
    assert snapshot(engine) == before


def test_problems_stay_in_row_order_with_duplicates_among_them(cli: Cli, tmp_path: Path) -> None:
    rows = [_row(1), _row(1), "A00003,x,Text,Head of QA,June 2013,", _row(1)]
    path = _table(tmp_path / "t.csv", rows)
    expected = ["row 3, column 'ID'", "row 4, column 'Work Stream'", "row 5, column 'ID'"]
    with pytest.raises(InputError) as raised:
        read_csv(path)
    assert [p.place for p in raised.value.problems] == expected
    output = cli("plan", "import", str(path), ok=False).output
    assert [output.index(place) for place in expected] == sorted(
        output.index(place) for place in expected
    )


def test_rows_are_read_lazily_not_held() -> None:
    """An endless table yields its first actions: nothing reads ahead of what is taken."""

    def endless() -> Iterator[tuple[int, list[str]]]:
        yield 1, HEAD.split(",")
        for n in itertools.count(1):
            yield n + 1, _row(n).split(",")

    rows = ActionRows(endless(), "endless.csv")
    taken = [action.ref for _, action in itertools.islice(rows, 3)]
    assert taken == ["A00001", "A00002", "A00003"]
    assert rows.rows_read == 3


def test_a_csv_is_checked_block_by_block_with_the_same_refusals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sheets, "_BLOCK", 7)  # characters and bad bytes across blocks
    good = tmp_path / "utf8.csv"
    good.write_bytes(("\ufeff" + HEAD + "\nA1,1,Café – déjà vu,Head,June 2013,\n").encode())
    assert csv_encoding(good) == ("utf-8-sig", [])
    assert read_csv(good).actions[0].action == "Café – déjà vu"
    windows = tmp_path / "cp1252.csv"
    windows.write_bytes((HEAD + "\nA1,1,Caf\xe9,Head,June 2013,\n").encode("cp1252"))
    encoding, notes = csv_encoding(windows)
    assert encoding == "cp1252" and "Windows-1252" in notes[0]
    assert read_csv(windows).actions[0].action == "Café"
    neither = tmp_path / "neither.csv"
    neither.write_bytes(b"Work Stream,Actions\n1,\xe9\x81\n")
    with pytest.raises(InputError, match=r"byte 23: the file is neither UTF-8"):
        csv_encoding(neither)
    nul = tmp_path / "nul.csv"
    nul.write_bytes(b"Work Stream,Actions\n1,a\x00b\n")
    with pytest.raises(InputError, match="NUL bytes"):
        csv_encoding(nul)


def test_progress_is_shown_only_on_a_terminal_every_few_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = io.StringIO()
    shown.isatty = lambda: False  # type: ignore[method-assign]
    monkeypatch.setattr(plan_cli.sys, "stderr", shown)
    assert plan_cli._terminal_progress(tmp_path / "p.csv") is None
    assert shown.getvalue() == ""
    shown.isatty = lambda: True  # type: ignore[method-assign]
    clock = iter([0.0, 0.5, 3.0, 3.1])
    monkeypatch.setattr(plan_cli.time, "monotonic", lambda: next(clock))
    report = plan_cli._terminal_progress(tmp_path / "p.csv", every=2.0)
    assert report is not None
    report(2000, 2000, False)  # half a second in: nothing
    report(4000, 4000, False)  # three seconds in: a line
    report(4500, 4500, True)  # the end: always
    lines = shown.getvalue()
    assert "2,000" not in lines
    assert "read 4,000 actions; writing actions: 4,000 of 4,000" in lines
    assert lines.endswith("writing actions: 4,500 of 4,500\n")
