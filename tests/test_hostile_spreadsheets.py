"""Hostile workbooks and cells: sizes, zip bombs, control characters and formula guards.

Each hostile file is built here, small enough that the test stays cheap. A reader that
spins on a sheet's claimed size is run in a child process held to a CPU limit, so the
old code fails the test rather than hanging it; memory is measured, never time.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from sqlalchemy import update

from tests.conftest import ROOT, Cli
from worker.db import make_engine
from worker.errors import InputError
from worker.io.cells import FORMULA_START, csv_safe, unguard_formula
from worker.io.export import write_csv
from worker.io.tables import read_csv, read_xlsx
from worker.io.xlsx import Limits
from worker.mail.board import csv_cell
from worker.models import Action
from worker.status_return import read_status_return

# Slow (child processes reading hostile workbooks): left out by pytest -m 'not slow'.
pytestmark = pytest.mark.slow

PLAN_HEAD = ["ID", "Work Stream", "Actions", "Lead", "Target End Date"]
STATUS_HEAD = ["ID", "RAG", "Status", "Note", "Updated By"]
SHEET = "xl/worksheets/sheet1.xml"
MB = 1024 * 1024


def workbook(path: Path, rows: list[list[Any]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def rewritten(path: Path, change: dict[str, bytes] | None = None, **replace: bytes) -> Path:
    """The workbook with parts replaced (`change`) or edited (old text -> new, in the sheet)."""
    source = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if change and info.filename in change:
                data = change[info.filename]
            if info.filename == SHEET:
                for old, new in replace.items():
                    data = data.replace(old.encode(), new)
            target.writestr(info.filename, data)
    return path


def claiming_the_whole_grid(path: Path, rows: list[list[Any]]) -> Path:
    """A workbook of a few rows and one cell in Excel's last row, whose sheet claims every
    cell Excel has (A1:XFD1048576): a couple of kilobytes."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    sheet.cell(row=1_048_576, column=1, value="x")
    book.save(path)
    part = zipfile.ZipFile(path).read(SHEET)
    claimed = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD1048576"', part)
    assert claimed != part
    rewritten(path, {SHEET: claimed})
    assert path.stat().st_size < 10_000
    return path


def bounded_child(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `code` in a child Python held to 30 s of CPU (it is killed past that), which
    prints its peak memory last: the readers used to spin for hours on a claimed size."""
    prelude = "import resource\nresource.setrlimit(resource.RLIMIT_CPU, (30, 30))\n"
    # The child's own high-water mark: ru_maxrss would also count the RSS of the pytest
    # process it was forked from (Linux keeps it across exec), hundreds of MB late in a run.
    epilogue = (
        "\nfrom pathlib import Path as _P\n"
        "_hwm = [l for l in _P('/proc/self/status').read_text().splitlines()"
        " if l.startswith('VmHWM:')] if _P('/proc/self/status').exists() else []\n"
        "print(int(_hwm[0].split()[1]) // 1024 if _hwm"
        " else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", prelude + code + epilogue, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def peak_mb(child: subprocess.CompletedProcess[str]) -> int:
    assert child.returncode == 0, (child.returncode, child.stderr[-2000:])
    return int(child.stdout.split()[-1])


# --- sizes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "read"),
    [
        (PLAN_HEAD, "from worker.io.tables import read_xlsx as read"),
        (STATUS_HEAD, "from worker.status_return import read_status_return as read"),
    ],
)
def test_a_sheet_claiming_every_cell_of_the_grid_stops_at_the_row_limit_in_little_memory(
    tmp_path: Path, head: list[str], read: str
) -> None:
    path = claiming_the_whole_grid(tmp_path / "claims.xlsx", [head])
    child = bounded_child(
        f"import sys\nfrom pathlib import Path\n{read}\nfrom worker.errors import InputError\n"
        "try:\n    read(Path(sys.argv[1]))\nexcept InputError as exc:\n    print(exc)",
        str(path),
    )
    assert peak_mb(child) < 200
    assert child.stdout.splitlines()[0] == (
        f"{path}: row 100001: the sheet has more than 100,000 rows (limit)"
    )


def test_a_filled_cell_far_beyond_the_column_limit_is_refused_naming_the_cell(
    tmp_path: Path,
) -> None:
    row: list[Any] = ["A1", 1, "Audit", "Head of QA", "June 2012"]
    path = workbook(tmp_path / "plan.xlsx", [PLAN_HEAD, row + [None] * 16_378 + ["far away"]])
    with pytest.raises(InputError, match=r"row 2, cell XFD2: a sheet may use at most 256 columns"):
        read_xlsx(path)


def test_a_sheet_with_more_rows_than_the_limit_stops_at_the_limit(tmp_path: Path) -> None:
    rows: list[list[Any]] = [PLAN_HEAD] + [[f"A{n}", 1, "x", "Head", "May 2012"] for n in range(20)]
    path = workbook(tmp_path / "plan.xlsx", rows)
    with pytest.raises(InputError, match=rf"{re.escape(str(path))}: row 11: .*more than 10 rows"):
        read_xlsx(path, limits=Limits(rows=10))


def test_a_sheet_with_more_filled_cells_than_the_limit_is_refused(tmp_path: Path) -> None:
    rows: list[list[Any]] = [PLAN_HEAD] + [[f"A{n}", 1, "x", "Head", "May 2012"] for n in range(20)]
    path = workbook(tmp_path / "plan.xlsx", rows)
    with pytest.raises(InputError, match=r"row 7: the sheet has more than 30 filled cells"):
        read_xlsx(path, limits=Limits(cells=30))


def test_a_csv_with_more_rows_than_the_limit_stops_at_the_limit(tmp_path: Path) -> None:
    lines = [",".join(PLAN_HEAD)] + [f"A{n},1,x,Head,May 2012" for n in range(20)]
    path = tmp_path / "plan.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"plan\.csv: row 11: the file has more than 10 rows"):
        read_csv(path, limits=Limits(rows=10))


def test_a_zip_bomb_is_refused_before_it_is_unpacked_and_memory_stays_small(
    tmp_path: Path, cli: Cli
) -> None:
    path = workbook(tmp_path / "bomb.xlsx", [PLAN_HEAD, ["A1", 1, "x", "Head", "May 2012"]])
    # 40 MB of padding in the sheet packs into about 40 KB: a thousand to one.
    rewritten(path, **{"<sheetData>": b" " * (40 * MB) + b"<sheetData>"})
    assert path.stat().st_size < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(
            InputError, match=r"xl/worksheets/sheet1\.xml unpacks to 4[0-9,]+ bytes"
        ):
            read_xlsx(path)
        with pytest.raises(InputError, match=r"more than 200 times its packed size"):
            read_status_return(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * MB
    result = cli("plan", "import", str(path), ok=False)
    assert result.exit_code == 1
    assert f"Error: {path}: " in result.output and "(limit)" in result.output


def with_shared_strings(path: Path, rows: list[list[str]]) -> Path:
    """A workbook as Excel writes one: every text in xl/sharedStrings.xml, cells by index.
    (openpyxl writes its text inline.)"""
    strings: dict[str, int] = {}
    sheet_rows = []
    for r, row in enumerate(rows, start=1):
        cells = "".join(
            f'<c r="{chr(65 + c)}{r}" t="s"><v>{strings.setdefault(v, len(strings))}</v></c>'
            for c, v in enumerate(row)
        )
        sheet_rows.append(f'<row r="{r}">{cells}</row>')
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    package = "http://schemas.openxmlformats.org/package/2006/relationships"
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{kind}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{kind}.worksheet+xml"/>'
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{kind}.sharedStrings+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{package}"><Relationship Id="rId1" '
            f'Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>'
            '<sheet name="Actions" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{package}">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/>'
            "</Relationships>"
        ),
        SHEET: (
            f'<worksheet xmlns="{main}"><sheetData>{"".join(sheet_rows)}</sheetData></worksheet>'
        ),
        "xl/sharedStrings.xml": (
            f'<sst xmlns="{main}">'
            + "".join(f"<si><t>{text}</t></si>" for text in strings)
            + "</sst>"
        ),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, xml in parts.items():
            archive.writestr(name, xml)
    return path


def test_shared_strings_past_their_limit_are_refused_before_they_are_loaded(
    tmp_path: Path,
) -> None:
    # Each distinct string costs a hundred bytes or more once loaded, and distinct strings
    # pack only a few times smaller: the ratio limit does not catch them.
    rows = [PLAN_HEAD] + [[f"A{n}", "1", f"action {n}", "Head", "May 2012"] for n in range(3000)]
    path = with_shared_strings(tmp_path / "plan.xlsx", rows)
    expected = r"xl/sharedStrings\.xml unpacks to [0-9,]+ bytes of text \(limit 10,000\)"
    with pytest.raises(InputError, match=expected):
        read_xlsx(path, limits=Limits(shared_strings_bytes=10_000))
    assert len(read_xlsx(path).actions) == 3000


def test_a_workbook_unpacking_past_the_size_limit_is_refused(tmp_path: Path) -> None:
    rows: list[list[Any]] = [PLAN_HEAD] + [
        [f"A{n}", 1, f"action {n}", "Head", "May 2012"] for n in range(3000)
    ]
    path = workbook(tmp_path / "plan.xlsx", rows)
    with pytest.raises(InputError, match=r"plan\.xlsx: the workbook unpacks to [0-9,]+ bytes"):
        read_xlsx(path, limits=Limits(unpacked_bytes=100_000))
    assert len(read_xlsx(path).actions) == 3000  # within the real limits


# --- control characters ------------------------------------------------------------------


def test_a_control_character_in_a_csv_plan_is_refused_naming_row_and_column(
    cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "plan.csv"
    path.write_text(
        ",".join(PLAN_HEAD) + "\nA1,1,ok,Head,May 2012\nA2,1,Audit\x1b[2J,Head,May 2012\n",
        encoding="utf-8",
    )
    result = cli("plan", "import", str(path), ok=False)
    assert result.exit_code == 1
    assert "row 3, column 'Actions': holds the control character U+001B" in result.output


def test_a_control_character_in_a_status_return_is_refused_naming_row_and_column(
    tmp_path: Path,
) -> None:
    path = tmp_path / "return.csv"
    path.write_text(",".join(STATUS_HEAD) + "\nWS1-01,Red,,Late\x07,Me\n", encoding="utf-8")
    with pytest.raises(
        InputError, match=r"row 2, column 'Note': holds the control character U\+0007"
    ):
        read_status_return(path)


def test_a_plan_stored_with_a_control_character_still_exports_to_xlsx(
    cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "plan.csv"
    path.write_text(",".join(PLAN_HEAD) + "\nA1,1,Audit,Head,May 2012\n", encoding="utf-8")
    cli("plan", "import", str(path))
    # As an import before control characters were refused could have stored it.
    engine = make_engine(cli.db_url)
    with engine.begin() as conn:
        conn.execute(update(Action).where(Action.ref == "A1").values(action_text="Audit\x1b[2J"))
    engine.dispose()
    out = tmp_path / "plan-out.xlsx"
    cli("plan", "export", "--format", "xlsx", "-o", str(out))
    sheet = load_workbook(out).active
    assert sheet is not None
    assert sheet["E2"].value == "Audit\ufffd[2J"


# --- the formula guard -------------------------------------------------------------------


@given(st.text(alphabet=st.sampled_from(["'", "=", "+", "-", "@", "\t", "\r", "a", " "])))
def test_a_guarded_cell_reads_back_as_written_and_never_starts_like_a_formula(text: str) -> None:
    guarded = csv_safe(text)
    assert not guarded.startswith(FORMULA_START)
    assert unguard_formula(guarded) == text


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1+1", "\r=1+1", "'=1+1"])
def test_plan_exports_and_board_reports_guard_the_same_cells(text: str) -> None:
    out = io.StringIO()
    write_csv([[text]], out)
    (exported,) = next(csv.reader(io.StringIO(out.getvalue())))
    assert exported == csv_cell(text) == "'" + text


def test_a_status_return_csv_past_the_row_or_column_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "return.csv"
    row = "WS1-01,Red,,Late,Me\n"
    path.write_text(",".join(STATUS_HEAD) + "\n" + row * 100_000, encoding="utf-8")
    with pytest.raises(InputError, match=r"row 100001: the file has more than 100,000 rows"):
        read_status_return(path)
    path.write_text(",".join(STATUS_HEAD) + "\n" + row.strip() + "," * 252 + "x\n", "utf-8")
    with pytest.raises(InputError, match=r"row 2: a row may have at most 256 columns"):
        read_status_return(path)
