"""CSV and XLSX files as a council would type them, and the errors a person can act on."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from tests.conftest import Cli
from worker.errors import InputError
from worker.io.tables import read_csv, read_xlsx

HEAD = "Work Stream,Key Del,Actions,Description,Lead,Dependencies,Start Date,Target End Date"


def csv_file(tmp_path: Path, body: str, head: str = HEAD, encoding: str = "utf-8") -> Path:
    path = tmp_path / "plan.csv"
    path.write_bytes(f"{head}\n{body}".encode(encoding))
    return path


def test_headings_match_whatever_their_case_and_spacing(tmp_path: Path) -> None:
    head = (
        "work stream,KEY DEL,actions,Description (including PIs),lead,dependencies,"
        "StartDate,TARGET END DATE"
    )
    table = read_csv(
        csv_file(tmp_path, "1,1.,Audit,Check files,Head of QA,None,May 2012,Sept 2012\n", head)
    )
    (action,) = table.actions
    assert (action.ref, action.work_stream, action.lead_roles, action.target) == (
        "WS1-01",
        1,
        ("Head of QA",),
        "Sept 2012",
    )


def test_unknown_columns_are_reported_and_ignored(tmp_path: Path) -> None:
    table = read_csv(
        csv_file(tmp_path, "1,1.,A,B,Head of QA,,May 2012,June 2012,x\n", HEAD + ",Comments")
    )
    assert table.warnings == ("column 'Comments' is not a plan column and was ignored",)


def test_a_missing_required_heading_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="row 1: missing the 'Target End Date' column"):
        read_csv(csv_file(tmp_path, "1,A\n", "Work Stream,Actions,Lead"))


def test_duplicate_ids_name_both_rows(tmp_path: Path) -> None:
    body = "X1,1,A,Head of QA,June 2012\nX1,1,B,Head of QA,July 2012\n"
    with pytest.raises(InputError, match=r"row 3, column 'ID': 'X1' is already used on row 2"):
        read_csv(csv_file(tmp_path, body, "ID,Work Stream,Actions,Lead,Target End Date"))


def test_a_huge_cell_is_refused_with_its_place(tmp_path: Path) -> None:
    body = f"1,A,{'x' * 40_000},June 2012\n"
    with pytest.raises(InputError, match=r"row 2, column 'Lead': cell holds 40,000 characters"):
        read_csv(csv_file(tmp_path, body, "Work Stream,Actions,Lead,Target End Date"))


def test_a_huge_cell_without_a_heading_is_named_by_its_column_letter(tmp_path: Path) -> None:
    body = f"1,A,Head,June 2012,{'x' * 40_000}\n"
    with pytest.raises(InputError, match=r"row 2, column E: cell holds 40,000 characters"):
        read_csv(csv_file(tmp_path, body, "Work Stream,Actions,Lead,Target End Date"))


def test_plan_headings_follow_the_status_return_rule_for_underscores(tmp_path: Path) -> None:
    head = "Work_Stream,Actions,Lead,Target_End_Date"
    (action,) = read_csv(csv_file(tmp_path, "1,Audit,Head of QA,June 2012\n", head)).actions
    assert (action.work_stream, action.target) == (1, "June 2012")


def test_excel_windows_csv_is_read_with_a_warning(tmp_path: Path) -> None:
    path = csv_file(
        tmp_path,
        "1,Children’s plan,Head of QA,June 2012\n",
        "Work Stream,Actions,Lead,Target End Date",
        encoding="cp1252",
    )
    table = read_csv(path)
    assert table.actions[0].action == "Children’s plan"
    assert any("Windows-1252" in w for w in table.warnings)


def test_an_empty_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="the file is empty"):
        read_csv(path)


def xlsx(tmp_path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for r in rows:
        sheet.append(r)
    path = tmp_path / "plan.xlsx"
    book.save(path)
    return path


def test_real_date_cells_are_read_as_days(tmp_path: Path) -> None:
    path = xlsx(
        tmp_path,
        [
            ["Work Stream", "Actions", "Lead", "Start Date", "Target End Date"],
            [1, "Audit", "Head of QA", datetime(2012, 5, 1), datetime(2012, 9, 30)],
        ],
    )
    (action,) = read_xlsx(path).actions
    assert (action.start, action.target) == ("1 May 2012", "30 September 2012")


def test_formula_cells_are_refused_not_evaluated(tmp_path: Path) -> None:
    path = xlsx(
        tmp_path,
        [
            ["Work Stream", "Actions", "Lead", "Target End Date"],
            [1, '=HYPERLINK("http://example.org")', "Head of QA", "June 2012"],
        ],
    )
    with pytest.raises(InputError, match=r"row 2, cell B2: formula cells are not imported"):
        read_xlsx(path)


def test_a_file_that_is_not_a_workbook_is_named(tmp_path: Path) -> None:
    path = tmp_path / "plan.xlsx"
    path.write_bytes(b"not a zip")
    with pytest.raises(InputError, match=r"plan\.xlsx: not a readable \.xlsx workbook"):
        read_xlsx(path)


def test_a_new_plan_starts_from_a_spreadsheet_and_a_status_column_records_history(
    cli: Cli, tmp_path: Path
) -> None:
    path = xlsx(
        tmp_path,
        [
            ["ID", "Work Stream", "Actions", "Lead", "Target End Date", "RAG", "Status"],
            [
                "A1",
                "Work Stream 1: Safeguarding",
                "Audit",
                "Head of QA",
                "30/09/2012",
                "Amber",
                "In progress",
            ],
        ],
    )
    result = json.loads(cli("plan", "import", str(path), "--plan", "council-b", "--json").output)
    assert (result["created_plan"], result["added"], result["status_changes"]) == (True, 1, 1)
    again = json.loads(cli("plan", "import", str(path), "--plan", "council-b", "--json").output)
    assert (again["added"], again["updated"], again["status_changes"]) == (0, 0, 0)


def test_an_unknown_file_type_is_refused(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "plan.xls"
    path.write_bytes(b"\xd0\xcf")
    result = cli("plan", "import", str(path), ok=False)
    assert "unknown file type '.xls' (save it as .xlsx)" in result.output
