"""Status returns as leads send them back: real CSV and XLSX files, good and bad."""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from worker.errors import InputError
from worker.plan.data import Rag, State
from worker.status_return import StatusUpdate, read_status_return

HEAD = ["ID", "RAG", "Status", "Note", "Updated By", "Date"]
Cell = str | date | datetime | int | float | None


def write_csv(
    path: Path, rows: Sequence[Sequence[str]], encoding: str = "utf-8", head: Sequence[str] = HEAD
) -> Path:
    with path.open("w", encoding=encoding, newline="") as out:
        writer = csv.writer(out)
        writer.writerow(head)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows: Sequence[Sequence[Cell]], head: Sequence[str] = HEAD) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(head))
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


def problems_of(error: pytest.ExceptionInfo[InputError]) -> list[str]:
    return [str(p) for p in error.value.problems]


# --- good files ----------------------------------------------------------------------------


NOTE = "Audit done.\n\nReport to board next."
SEP_30 = date(2012, 9, 30)
OCT_1 = date(2012, 10, 1)


def test_a_good_csv_reads_every_row(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "return.csv",
        [
            [
                " WS1-01 ",
                "G",
                "In progress",
                "Audit done.\r\n\r\nReport to board next.",
                "Jo Ng",
                "",
            ],
            ["WS4-03.1", "amber", "", "Waiting on HR", " Sam Patel ", "30/09/2012"],
            ["WS2-02", "", "completed", "Signed off", "Sam Patel", "2012-10-01"],
        ],
    )
    result = read_status_return(path, today=date(2012, 10, 1))
    assert result.source == str(path)
    assert result.warnings == ()
    assert result.updates == (
        StatusUpdate(2, "WS1-01", Rag.GREEN, State.IN_PROGRESS, NOTE, "Jo Ng", None),
        StatusUpdate(3, "WS4-03.1", Rag.AMBER, None, "Waiting on HR", "Sam Patel", SEP_30),
        StatusUpdate(4, "WS2-02", None, State.COMPLETED, "Signed off", "Sam Patel", OCT_1),
    )


def test_a_good_xlsx_reads_date_cells_and_spellings(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "return.xlsx",
        [
            ["WS1-01", "G", "in-progress", "Line one\nLine two", "Jo Ng", datetime(2012, 9, 28)],
            ["WS4-03.1", "amber", None, "Waiting", "Sam Patel", date(2012, 9, 30)],
            ["WS2-02", None, "Done", "Signed off", "Sam Patel", "1 October 2012"],
            ["WS3-01", "Red", "Not started", "Late", "Sam Patel", None],
        ],
        head=["id", "rag", "STATUS", "Note", "Updated by", "Date"],
    )
    result = read_status_return(path)
    assert result.warnings == ()
    assert [(u.row, u.ref, u.rag, u.state, u.on) for u in result.updates] == [
        (2, "WS1-01", Rag.GREEN, State.IN_PROGRESS, date(2012, 9, 28)),
        (3, "WS4-03.1", Rag.AMBER, None, date(2012, 9, 30)),
        (4, "WS2-02", None, State.COMPLETED, date(2012, 10, 1)),
        (5, "WS3-01", Rag.RED, State.NOT_STARTED, None),
    ]
    assert result.updates[0].note == "Line one\nLine two"


@pytest.mark.parametrize("heading", ["Updated By", "updated by", "Updated_By", "UPDATEDBY"])
def test_updated_by_heading_spellings(tmp_path: Path, heading: str) -> None:
    head = ["ID", "RAG", "Status", "Note", heading]
    path = write_csv(tmp_path / "r.csv", [["WS1-01", "G", "", "ok", "Jo"]], head=head)
    assert read_status_return(path).updates[0].by == "Jo"


def test_the_date_column_is_optional(tmp_path: Path) -> None:
    head = ["Note", "Updated By", "ID", "Status", "RAG"]
    path = write_csv(tmp_path / "r.csv", [["ok", "Jo", "WS1-01", "", "A"]], head=head)
    (update,) = read_status_return(path).updates
    assert (update.ref, update.rag, update.on) == ("WS1-01", Rag.AMBER, None)


def test_wholly_blank_rows_are_skipped_keeping_row_numbers(tmp_path: Path) -> None:
    rows = [["", "", "", "", "", ""], ["WS1-01", "G", "", "ok", "Jo", ""], [" ", "", "\t"]]
    rows += [["WS1-02", "R", "", "late", "Jo", ""], []]
    csv_result = read_status_return(write_csv(tmp_path / "r.csv", rows))
    assert [(u.row, u.ref) for u in csv_result.updates] == [(3, "WS1-01"), (5, "WS1-02")]
    xlsx_rows: list[list[Cell]] = [[None] * 6, ["WS1-01", "G", None, "ok", "Jo"], [None, " "]]
    xlsx_rows.append(["WS1-02", "R", None, "late", "Jo"])
    xlsx_result = read_status_return(write_xlsx(tmp_path / "r.xlsx", xlsx_rows))
    assert [(u.row, u.ref) for u in xlsx_result.updates] == [(3, "WS1-01"), (5, "WS1-02")]


def test_a_utf8_bom_is_not_part_of_the_first_heading(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", [["WS1-01", "G", "", "café", "Zoë"]], encoding="utf-8-sig")
    result = read_status_return(path)
    assert (result.updates[0].note, result.warnings) == ("café", ())


def test_a_windows_1252_csv_is_read_with_a_warning(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "r.csv", [["WS1-01", "G", "", "Children’s panel – met", "Jo"]], "cp1252"
    )
    result = read_status_return(path)
    assert result.updates[0].note == "Children’s panel – met"
    assert result.warnings == ("the file is not UTF-8; it was read as Windows-1252 (Excel's CSV)",)


def test_unknown_columns_are_named_in_a_warning_and_ignored(tmp_path: Path) -> None:
    head = [*HEAD, "Comments", ""]
    rows = [["WS1-01", "G", "", "ok", "Jo", "", "see me", "stray"], ["WS1-02", "G", "", "ok", "Jo"]]
    result = read_status_return(write_csv(tmp_path / "r.csv", rows, head=head))
    assert len(result.updates) == 2
    assert result.warnings == (
        "column 'Comments' is not a status-return column and was ignored",
        "column H has no heading; its text was ignored (rows 2)",
    )


# --- bad files -----------------------------------------------------------------------------


def test_every_bad_row_is_collected_in_one_error(tmp_path: Path) -> None:
    rows = [
        ["", "G", "", "ok", "Jo", ""],  # 2: no ID
        ["WS1-02", "Purple", "Finished", "ok", "Jo", ""],  # 3: bad RAG and Status
        ["WS1-03", "", "", "ok", "Jo", ""],  # 4: neither RAG nor Status
        ["WS1-04", "G", "", "  ", "", ""],  # 5: no note, nobody
        ["WS1-05", "G", "", "ok", "Jo\nSam", ""],  # 6: two lines
        ["WS1-06", "G", "", "ok", "Jo", "Sept 2012"],  # 7: a month
        ["WS1-07", "G", "", "ok", "Jo", "TBC"],  # 8: no date
        ["WS1-08", "G", "", "ok", "Jo", "1/11/2012"],  # 9: after today
        ["WS1-09", "G", "", "x" * 40_000, "Jo", ""],  # 10: too long
        ["WS1-10", "G", "", "ok", "Jo", "Review 1/9/2012"],  # 11: more than a date
        ["WS1-11", "G", "", "fine", "Jo", "1/9/2012"],  # 12: good, but the file is refused
    ]
    with pytest.raises(InputError) as error:
        read_status_return(write_csv(tmp_path / "r.csv", rows), today=date(2012, 10, 31))
    problems = problems_of(error)
    assert len(problems) == 12
    assert problems[0] == "row 2, column 'ID': the action's ID (like WS1-01) is required"
    assert problems[1].startswith("row 3, column 'RAG': 'Purple' is not a RAG rating")
    assert problems[2].startswith("row 3, column 'Status': 'Finished' is not a progress state")
    assert problems[3:5] == [
        "row 4, columns 'RAG' and 'Status': give a RAG rating or a Status (or both)",
        "row 5, column 'Note': a note saying what has been done is required",
    ]
    assert problems[5] == "row 5, column 'Updated By': say who updated it"
    assert problems[6] == "row 6, column 'Updated By': must be on one line"
    assert problems[7].startswith("row 7, column 'Date': 'Sept 2012' is not a single day")
    assert problems[8].startswith("row 8, column 'Date': 'TBC' is not a date")
    assert problems[9] == (
        "row 9, column 'Date': 1 November 2012 is in the future (today is 31 October 2012)"
    )
    assert problems[10] == "row 10, column 'Note': cell holds 40,000 characters (limit 32,767)"
    assert problems[11].startswith("row 11, column 'Date': 'Review 1/9/2012' holds more than")
    assert "12 problem(s)" in str(error.value)


def test_future_dates_are_allowed_without_today(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", [["WS1-01", "G", "", "ok", "Jo", "1/1/2099"]])
    assert read_status_return(path).updates[0].on == date(2099, 1, 1)


def test_a_repeated_id_names_the_first_row(tmp_path: Path) -> None:
    rows = [["WS1-01", "G", "", "a", "Jo"], ["WS1-02", "G", "", "b", "Jo"]]
    rows += [["ws1-01", "R", "", "c", "Jo"], ["WS1-01", "R", "", "d", "Jo"]]
    with pytest.raises(InputError) as error:
        read_status_return(write_csv(tmp_path / "r.csv", rows))
    assert problems_of(error) == [
        "row 4, column 'ID': WS1-01 already given in row 2",
        "row 5, column 'ID': WS1-01 already given in row 2",
    ]


def test_missing_and_repeated_headings_are_refused(tmp_path: Path) -> None:
    head = ["ID", "Status", "Note", "status", "Date"]
    with pytest.raises(InputError) as error:
        read_status_return(write_csv(tmp_path / "r.csv", [["WS1-01", "G"]], head=head))
    assert problems_of(error) == [
        "row 1, column 'status': heading appears twice",
        "row 1: missing the 'RAG' column",
        "row 1: missing the 'Updated By' column",
    ]


def test_formula_cells_are_refused_not_evaluated(tmp_path: Path) -> None:
    rows: list[list[Cell]] = [["WS1-01", "G", None, "=A1&B1", "Jo"], ["WS1-02", '="G"', "", "ok"]]
    with pytest.raises(InputError) as error:
        read_status_return(write_xlsx(tmp_path / "r.xlsx", rows))
    assert problems_of(error) == [
        "row 2, column 'Note': cell D2 holds a formula; status returns take values only",
        "row 3, column 'RAG': cell B3 holds a formula; status returns take values only",
        "row 3, column 'Updated By': say who updated it",
    ]


def test_a_whole_number_date_cell_is_a_year_not_a_day(tmp_path: Path) -> None:
    rows: list[list[Cell]] = [["WS1-01", "G", None, "ok", "Jo", 2012]]
    rows.append(["WS1-02", "G", None, "ok", "Jo", 41182])  # Excel serial: 30 Sep 2012
    with pytest.raises(InputError) as error:
        read_status_return(write_xlsx(tmp_path / "r.xlsx", rows))
    assert problems_of(error) == [
        "row 2, column 'Date': '2012' is not a single day; write the day it happened, "
        "like 30/09/2012"
    ]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_headings_without_rows_say_so(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"r{suffix}"
    if suffix == ".csv":
        write_csv(path, [[], ["", ""]])
    else:
        write_xlsx(path, [[None, None]])
    with pytest.raises(InputError, match="no status rows"):
        read_status_return(path)


def test_an_empty_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="the file is empty: no headings, no status rows"):
        read_status_return(path)


@pytest.mark.parametrize("name", ["r.xls", "r.ods", "r.txt", "r"])
def test_other_kinds_of_file_are_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"ID,RAG\n")
    with pytest.raises(InputError, match=r"must be a \.csv or \.xlsx file") as error:
        read_status_return(path)
    assert error.value.source == str(path)


def test_a_broken_workbook_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    path.write_bytes(b"ID,RAG,Status\n")
    with pytest.raises(InputError, match=r"not a readable \.xlsx workbook"):
        read_status_return(path)


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the file"):
        read_status_return(tmp_path / "absent.csv")


# --- any text at all -----------------------------------------------------------------------

_HEADINGS = st.one_of(st.sampled_from([*HEAD, "updated_by", "Comments", ""]), st.text(max_size=12))
_CELLS = st.one_of(
    st.sampled_from(["", "WS1-01", "G", "amber", "Done", "30/09/2012", "=1+1", "'=x", "\n"]),
    st.text(max_size=30),
)
_GRID = st.tuples(
    st.one_of(st.just(HEAD), st.lists(_HEADINGS, max_size=7)),
    st.lists(st.lists(_CELLS, max_size=8), max_size=5),
)


def _check_any(path: Path) -> None:
    try:
        result = read_status_return(path, today=date(2012, 10, 31))
    except InputError as error:
        assert error.problems
        return
    for update in result.updates:
        assert update.ref and update.note and update.by
        assert update.rag is not None or update.state is not None
        assert update.on is None or update.on <= date(2012, 10, 31)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_GRID)
def test_any_csv_text_reads_or_is_an_input_error(grid: tuple[list[str], list[list[str]]]) -> None:
    head, rows = grid
    with tempfile.TemporaryDirectory() as folder:
        _check_any(write_csv(Path(folder) / "r.csv", rows, head=head))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_GRID)
def test_any_xlsx_text_reads_or_is_an_input_error(grid: tuple[list[str], list[list[str]]]) -> None:
    # Characters XML cannot hold cannot be put in a workbook at all.
    head, rows = grid
    clean_head = [ILLEGAL_CHARACTERS_RE.sub("", cell) for cell in head]
    clean = [[ILLEGAL_CHARACTERS_RE.sub("", cell) for cell in row] for row in rows]
    with tempfile.TemporaryDirectory() as folder:
        _check_any(write_xlsx(Path(folder) / "r.xlsx", clean, head=clean_head))
