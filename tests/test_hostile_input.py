"""Hostile input: every file is read correctly or refused with an error naming its place.

The date reader, the config file, the contacts directory, plan tables (CSV, XLSX) and status
returns are fed arbitrary and deliberately nasty input. Each must give a result or an
`InputError` naming the file -- through the CLI, exit code 1 and "Error: <file>: ..." --
never a traceback (the `Cli` helper lets exceptions through), and a refused import must leave
the database exactly as it was (compared as a full SQL dump of the SQLite file).
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import os
import re
import sqlite3
import zipfile
from collections.abc import Callable
from contextlib import closing
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from pydantic import BaseModel

from tests.conftest import SEED, Cli, seed_data
from worker.contacts import Directory, load_directory
from worker.errors import InputError
from worker.plan.dates import read_date, read_date_cell
from worker.plan.leads import role_key
from worker.settings import Settings, load_settings

# Slow (hypothesis over hostile files): left out by pytest -m 'not slow'.
pytestmark = pytest.mark.slow

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PLANWORKER_") and not name.startswith("PLANWORKER_TEST_"):
            monkeypatch.delenv(name)


# --------------------------------------------------------------------------- #
# 1. The date reader (tests/test_dates.py has the rest)
# --------------------------------------------------------------------------- #

ANY_CELL = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**4000, max_value=10**4400),  # str() of these raises
    st.floats(),
    st.decimals(),
    st.fractions(),
    st.complex_numbers(),
    st.dates(),
    st.datetimes(),
    st.times(),
    st.timedeltas(),
    st.text(),
    st.binary(),
    st.lists(st.integers(), max_size=3),
)


def _check_reading(text: object, month_day: str) -> None:
    result = read_date_cell(text, month_day=month_day)  # type: ignore[arg-type]
    assert isinstance(result.text, str)
    assert (result.due is None) == (result.precision == "none")
    if not result.readable:
        assert result.due is None and result.recurrence is None
    if result.due is not None:
        assert 1900 <= result.due.year <= 9999


@given(ANY_CELL, st.sampled_from(["end", "start"]))
def test_any_cell_value_reads_without_raising(value: object, month_day: str) -> None:
    _check_reading(value, month_day)
    if not isinstance(value, str) and value is not None:
        # read_date is typed for text, but must not raise for anything else either.
        assert read_date(value).readable is False  # type: ignore[arg-type]


CONTROL = st.text(st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp"]), min_size=1)


@given(CONTROL, CONTROL, CONTROL)
def test_control_and_format_characters_count_as_spaces(a: str, b: str, c: str) -> None:
    assert read_date(a).is_empty and read_date(a).readable
    assert read_date(f"{a}30{b}September{c}2012{a}").due == date(2012, 9, 30)


@pytest.mark.parametrize(
    "text",
    [
        "x" * 100_000,
        "1" * 100_000,
        "\x00" * 100_000,
        "30 September 2012 " * 5_600,
        "30/" * 33_000,
        "<p" * 50_000,
        "<!--" * 25_000,
        "&amp;" * 20_000,
        "Review every two months " * 4_000,
    ],
)
def test_huge_texts_are_read_without_raising(text: str) -> None:
    result = read_date(text)
    assert result.text == text
    _check_reading(text, "end")


@pytest.mark.parametrize(
    ("value", "due"),
    [
        ("31/12/9999", date(9999, 12, 31)),
        ("Q4 9999", date(9999, 12, 31)),
        ("FY 9998/99", date(9999, 3, 31)),
        (9999, date(9999, 12, 31)),
        (datetime.max, date(9999, 12, 31)),
        ("31/12/10000", None),
        ("December 10000", None),
        ("10000", None),
        ("FY 9999/10000", None),
        (10000, None),
        (date(1, 1, 1), None),
    ],
)
def test_years_9999_and_10000(value: object, due: date | None) -> None:
    result = read_date_cell(value)
    assert (result.due, result.readable) == (due, due is not None)


# --------------------------------------------------------------------------- #
# TOML documents built by hypothesis
# --------------------------------------------------------------------------- #


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, date):  # datetimes too: TOML local date-times
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_value(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def toml_doc(data: dict[str, Any]) -> str:
    return "".join(f"{toml_value(key)} = {toml_value(value)}\n" for key, value in data.items())


def write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def loads_or_names_the_file(load: Callable[[Path], Any], path: Path) -> Any:
    """The loaded value, or None after checking the InputError names the file."""
    try:
        return load(path)
    except InputError as error:
        assert error.problems
        assert str(error).startswith(f"{path}: "), str(error)
        return None


DEEP = "x = " + "[" * 50_000 + "]" * 50_000 + "\n"
TOML_BYTES = st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode))


# --------------------------------------------------------------------------- #
# 2. The config file
# --------------------------------------------------------------------------- #


def _setting_names(model: type[BaseModel]) -> set[str]:
    names = set(model.model_fields)
    for field in model.model_fields.values():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            names |= _setting_names(field.annotation)
    return names


SETTING_NAMES = sorted(_setting_names(Settings))
KEYS = st.one_of(
    st.sampled_from([*SETTING_NAMES, "_env_file", "_cli_parse_args", "__pydantic_self__"]),
    st.text(max_size=8),
)
SCALARS = st.one_of(
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(),
    st.dates(),
    st.text(max_size=30),
    st.sampled_from(
        [
            "end", "start", "smtp", "tls", "json", "monday", "Europe/London", "Mars/Base",
            "0 7 * * mon-fri", "99999999999999999999 * * * *", "http://example.org",
            "a@example.org", "a@example.org\nBcc: b@evil.test", "sqlite:///x.db", "x" * 5_000,
        ]
    ),
)  # fmt: skip
TOML_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=10,
)
CONFIGS = st.dictionaries(KEYS, TOML_VALUES, max_size=5)


@FUZZ
@given(CONFIGS)
@example({"_env_file": "/etc/passwd"})
@example({"_cli_parse_args": True, "__pydantic_self__": 1})
@example({"smtp": {"ca_file": "x" * 5_000}})
@example({"service": {"timezone": "x" * 5_000}})
@example({"smtp": {"port": 10**30, "timeout": math.nan}})
@example({"reminders": {"before_days": list(range(100_000))}})
@example({"plan": "x" * 1_000_000, "database_url": {"nested": "table"}})
@example({"dates": [{"month_day": "end"}], "jobs": {"remind": "0 7 * * *"}})
def test_any_config_document_loads_or_names_the_file(tmp_path: Path, doc: dict[str, Any]) -> None:
    settings_ = loads_or_names_the_file(load_settings, write(tmp_path / "p.toml", toml_doc(doc)))
    assert settings_ is None or isinstance(settings_, Settings)


@FUZZ
@given(TOML_BYTES)
@example(b'database_url = "\xff\xfe"\n')
@example('database_url = "sqlite:///x.db"\n'.encode("utf-16"))
@example(b'\xef\xbb\xbfdatabase_url = "sqlite:///x.db"\n')
@example(DEEP.encode())
@example(("x = " + "{a=" * 5_000 + "1" + "}" * 5_000).encode())
@example(b"[dates.month_day]\nx = 1\n")
@example(b"[[smtp]]\nhost = 'a'\n[[smtp]]\nhost = 'b'\n")
@example(b"[dates]\nmonth_day = 'end'\n[dates]\n")
def test_any_config_bytes_load_or_name_the_file(tmp_path: Path, raw: bytes) -> None:
    loads_or_names_the_file(load_settings, write(tmp_path / "p.toml", raw))


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"_env_file": "/etc/passwd"}, "_env_file: unknown key"),
        ({"__pydantic_self__": 1}, "__pydantic_self__: unknown key"),
        ({"smtp": {"ca_file": "x" * 5_000}}, "smtp.ca_file: Value error, cannot use"),
        ({"service": {"timezone": "x" * 5_000}}, "service.timezone: Value error"),
    ],
)
def test_config_keys_that_broke_the_loader_are_named(
    tmp_path: Path, doc: dict[str, Any], expected: str
) -> None:
    path = write(tmp_path / "p.toml", toml_doc(doc))
    with pytest.raises(InputError, match=re.escape(f"{path}: {expected}")):
        load_settings(path)


def test_deeply_nested_toml_is_refused_not_a_recursion_error(tmp_path: Path) -> None:
    path = write(tmp_path / "p.toml", DEEP)
    with pytest.raises(InputError, match="nested too deeply"):
        load_settings(path)


# --------------------------------------------------------------------------- #
# 3. The contacts directory
# --------------------------------------------------------------------------- #

ODD_NAMES = [
    "Head of QA", "head of qa.", "HEAD  OF QA", "Head\nof QA", 'Head "QA"', "Head 'QA'",
    "Audit Manager", "", " ", "...", "x" * 300, "[administrator]", 'QA"\n[administrator]',
    "\u202eAQ fo daeH", "Chef de l'équipe",
]  # fmt: skip
NAMES = st.one_of(st.sampled_from(ODD_NAMES), st.text(max_size=12))
EMAILS = st.one_of(
    st.sampled_from(
        [
            "", "qa@example.org", " qa@example.org ", "qa at example.org", "a@b",
            "x@example.org\nBcc: y@evil.test", "ü@exämple.org", "a" * 300 + "@example.org",
        ]
    ),
    st.text(max_size=15),
)  # fmt: skip


@st.composite
def directories(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(NAMES, max_size=5, unique=True))
    # Deputies and line managers: another role, the role itself, or a name of no role.
    links = st.one_of(st.sampled_from(names), NAMES) if names else NAMES
    roles: dict[str, Any] = {}
    for name in names:
        role: dict[str, Any] = {}
        for key, values in (
            ("email", EMAILS),
            ("person", NAMES),
            ("aliases", st.lists(links, max_size=3)),
            ("deputy", st.one_of(st.just(name), links)),
            ("line_manager", links),
        ):
            if draw(st.booleans()):
                role[key] = draw(values)
        if draw(st.integers(0, 9)) == 0:
            role[draw(st.text(max_size=6))] = draw(SCALARS)
        roles[name] = role
    doc: dict[str, Any] = {"roles": roles}
    if draw(st.integers(0, 9)) == 0:
        doc["roles"] = draw(TOML_VALUES)
    if draw(st.integers(0, 9)) > 0:
        admin_name = st.one_of(st.just("Plan Administrator"), NAMES)
        doc["administrator"] = {"name": draw(admin_name), "email": draw(EMAILS)}
    if draw(st.booleans()):
        board = st.fixed_dictionaries({"name": NAMES, "email": EMAILS})
        doc["board"] = draw(st.lists(board, max_size=2))
    return doc


def _check_directory(directory: Directory) -> None:
    assert "\n" not in directory.administrator.name
    for key, role in directory.roles.items():
        assert key == role.key == role_key(role.name)
        assert 0 < len(key) <= 255
        assert directory.find(role.name) is role
        assert all(directory.find(alias) is role for alias in role.aliases)
        for link in (role.deputy, role.line_manager):
            assert link == "" or (link in directory.roles and link != key)
        assert role.email == "" or "@" in role.email


ADMIN = {"name": "Plan Administrator", "email": "admin@example.org"}


@FUZZ
@given(directories())
@example({"administrator": ADMIN, "roles": {"Head of QA": {"deputy": "head of qa."}}})
@example({"administrator": ADMIN, "roles": {"Head of QA": {}, "head of qa.": {}}})
@example({"administrator": ADMIN, "roles": {"A": {"aliases": ["B"]}, "B": {}}})
@example({"administrator": ADMIN, "roles": {"...": {}, "B": {"deputy": " . "}}})
@example({"administrator": ADMIN, "roles": {"x" * 300: {"email": "x@example.org"}}})
@example({"administrator": {"name": "A\nBcc: x@evil.test", "email": "a@example.org"}})
@example({"administrator": ADMIN, "roles": {'Head "QA"\n[administrator]': {"aliases": [""]}}})
def test_any_contacts_directory_loads_or_names_the_file(
    tmp_path: Path, doc: dict[str, Any]
) -> None:
    path = write(tmp_path / "contacts.toml", toml_doc(doc))
    directory = loads_or_names_the_file(load_directory, path)
    if directory is not None:
        _check_directory(directory)


@FUZZ
@given(TOML_BYTES)
@example(DEEP.encode())
@example(b"[administrator]\nname = 'A'\nemail = 'a@example.org'\n[roles.'A']\n[roles.'a']\n")
def test_any_contacts_bytes_load_or_name_the_file(tmp_path: Path, raw: bytes) -> None:
    directory = loads_or_names_the_file(load_directory, write(tmp_path / "contacts.toml", raw))
    if directory is not None:
        _check_directory(directory)


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ({"Head of QA": {"deputy": "head of qa."}}, "deputy: 'head of qa.' is this role itself"),
        ({"Head of QA": {}, "head of qa.": {}}, "names the same role as 'Head of QA'"),
        ({"...": {}}, "roles.'...': the role name is blank"),
        ({"A": {"aliases": [" "]}}, "roles.'A': the alias ' ' is blank"),
        ({"x" * 300: {}}, "is longer than 255 characters"),
    ],
)
def test_directory_mistakes_that_were_accepted_are_named(
    tmp_path: Path, roles: dict[str, Any], expected: str
) -> None:
    path = write(tmp_path / "contacts.toml", toml_doc({"administrator": ADMIN, "roles": roles}))
    with pytest.raises(InputError, match=re.escape(expected)) as error:
        load_directory(path)
    assert str(error.value).startswith(f"{path}: ")


# --------------------------------------------------------------------------- #
# 4. Plan tables and status returns, through the CLI, against a seeded SQLite file
# --------------------------------------------------------------------------- #

PLAN = "cbc-2012-13"


@pytest.fixture(scope="module")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file holding the real seed plan, made once and copied per test."""
    folder = tmp_path_factory.mktemp("seeded")
    cli = Cli(f"sqlite:///{folder / 'db.sqlite'}", folder)
    cli("db", "upgrade")
    cli("plan", "import", str(SEED))
    return folder / "db.sqlite"


@pytest.fixture
def seeded(seeded_file: Path, tmp_path: Path) -> Cli:
    target = tmp_path / "db.sqlite"
    # The backup API, not a file copy: the seed may still be in the write-ahead log.
    with closing(sqlite3.connect(seeded_file)) as source, closing(sqlite3.connect(target)) as copy_:
        source.backup(copy_)
    return Cli(f"sqlite:///{target}", tmp_path)


def dump(cli: Cli) -> list[str]:
    with closing(sqlite3.connect(cli.db_url.removeprefix("sqlite:///"))) as conn:
        return list(conn.iterdump())


def attempt(cli: Cli, path: Path, *args: str) -> Result:
    """Run a command on `path`: it succeeds, or exits 1 naming the file and changes nothing."""
    before = dump(cli)
    result = cli(*args, str(path), ok=False)  # a traceback is raised, failing the test
    if currently_in_test_context():  # counts shown by --hypothesis-show-statistics
        event("imported" if result.exit_code == 0 else "refused")
    if result.exit_code != 0:
        assert result.exit_code == 1, result.output
        assert f"Error: {path}: " in result.output, result.output
        assert dump(cli) == before, f"a refused file changed the database: {result.output}"
    return result


def again_changes_nothing(cli: Cli, path: Path, *args: str) -> None:
    """An imported file, imported again, changes nothing (as the CLI help promises)."""
    stored = dump(cli)
    cli(*args, str(path))
    assert dump(cli) == stored, "importing the same file again changed the database"


def import_plan(cli: Cli, path: Path) -> Result:
    # These small files replace the seeded plan: that is not what is tested here.
    result = attempt(cli, path, "plan", "import", "--replace", "--plan", PLAN)
    if result.exit_code == 0:
        again_changes_nothing(cli, path, "plan", "import", "--replace", "--plan", PLAN)
        cli("plan", "export", "--plan", PLAN)  # what was stored can be read back
    return result


def import_status(cli: Cli, path: Path) -> Result:
    result = attempt(cli, path, "status", "import", "--no-alert")
    if result.exit_code == 0:
        again_changes_nothing(cli, path, "status", "import", "--no-alert")
    return result


def live_refs(cli: Cli) -> list[str]:
    with closing(sqlite3.connect(cli.db_url.removeprefix("sqlite:///"))) as conn:
        rows = conn.execute("SELECT ref FROM actions WHERE NOT archived ORDER BY id LIMIT 4")
        return [ref for (ref,) in rows]


def csv_text(rows: list[list[str]], newline: str = "\r\n") -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator=newline).writerows(rows)
    return out.getvalue()


BASIC = ["ID", "Work Stream", "Actions", "Lead", "Target End Date"]
PLAN_HEADINGS = st.one_of(
    st.sampled_from(
        [
            *BASIC, "Row", "Key Del", "Description", "Lead Roles", "Dependencies",
            "Depends On", "Start Date", "RAG", "Status", "Due", "Comments", "",
        ]
    ),
    st.text(max_size=10),
)  # fmt: skip
HOSTILE_TEXT = [
    "", "1", "WS 2", "Work Stream 3: Care", "0", "99999", "A1", "WS1-01", "WS1-02",
    "=cmd|' /C calc'!A0", "'=1+1", "+1", "@SUM(A1)", "-2", "31/12/9999", "Winter 9999",
    "10000", "June 2012", "Green", "Purple", "done", "WS1 KD2", "WS99999999999999999999",
    "WS-1", "a\nb", "a\n\nb", "Head of QA", "Head of QA and Audit Manager", "y" * 300,
    "z" * 33_000, "B" * 64, "\u202e", "\r", '"', "é", "ÿ", "Children’s",
]  # fmt: skip


def mostly(good: list[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """One of `good`, or (about one time in six) `other`: so that many files import and the
    stored plan is checked too, while the hostile values still turn up in every run."""
    return st.integers(0, 5).flatmap(lambda n: st.sampled_from(good) if n < 5 else other)


PLAIN = ["", "x", "Audit", "Head of QA", "June 2012", "30/09/2012", "Ongoing"]
CELLS = mostly(PLAIN, st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=20)))


PLAN_CELLS = {
    "ID": mostly(["", "", "WS1-01", "B" * 64], CELLS),
    "Work Stream": mostly(["1", "2", " WS 3 ", "Work Stream 9: x"], CELLS),
    "RAG": mostly(["", "G", "amber", "Red"], CELLS),
    "Status": mostly(["", "done", "In progress", "cancelled"], CELLS),
    "Depends On": mostly(["", "WS1", "WS4 KD6; WS2"], CELLS),
}


@st.composite
def tables(
    draw: st.DrawFn,
    basic: list[str],
    headings: st.SearchStrategy[str],
    columns: dict[str, st.SearchStrategy[Any]],
    cells: st.SearchStrategy[Any],
) -> list[list[Any]]:
    """A heading row and a few rows, mostly with the headings the file needs."""
    kind = draw(st.integers(0, 9))  # small numbers come first: mostly the right headings
    if kind < 5:
        head = basic
    elif kind < 7:
        head = draw(st.permutations(basic))
    elif kind < 9:
        head = basic + draw(st.lists(headings, max_size=3))
    else:
        head = draw(st.lists(headings, max_size=8))
    rows: list[list[Any]] = [list(head)]
    for _ in range(draw(st.integers(1, 3))):
        row = [draw(columns.get(h, cells)) for h in head]
        rows.append(row + draw(st.lists(cells, max_size=2)))
    return rows


ENCODINGS = mostly(["utf-8"], st.sampled_from(["utf-8-sig", "cp1252", "utf-16"]))
JUNK = mostly([b""], st.binary(max_size=4))


@FUZZ
@given(
    tables(BASIC, PLAN_HEADINGS, PLAN_CELLS, CELLS),
    ENCODINGS,
    JUNK,
    st.sampled_from(["\r\n", "\n", "\r"]),
)
def test_any_csv_plan_imports_or_is_refused_leaving_the_database_as_it_was(
    seeded: Cli, rows: list[list[str]], encoding: str, junk: bytes, newline: str
) -> None:
    raw = csv_text(rows, newline).encode(encoding, errors="replace")
    import_plan(seeded, write(seeded.workdir / "plan.csv", junk + raw))


H = ",".join(BASIC) + "\n"
DEPS = "ID,Work Stream,Actions,Lead,Target End Date,Depends On\n"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ((H + "A1,1,Children’s plan,Head of QA,June 2012\n").encode("cp1252"), None),
        ((H + "A1,1,x,Head of QA,June 2012\n").encode("utf-16"), "the file is UTF-16 text"),
        (bytes(range(256)) * 3, "neither UTF-8 nor Windows-1252"),
        ((H + "A1,1," + "x" * 40_000 + ",Head,May 2012\n").encode(), "row 2, column 'Actions'"),
        ((H + "A1,1,=cmd|' /C calc'!A0,Head of QA,June 2012\n").encode(), None),
        (b"A1,1,x,Head of QA,June 2012\n", "row 1: missing the 'Work Stream' column"),
        ((H + "A1,1,x,Head,May 2012\nA1,1,y,Head,May 2012\n").encode(), "'A1' is already used"),
        ((H + "A1,1,x,Head of QA,31/12/9999\nA2,1,x,Head of QA,10000\n").encode(), None),
        (b"", "the file is empty"),
        (H.encode(), "no action rows: the file has headings only"),
        ((H + "A1,1,x\x00,Head of QA,June 2012\n").encode(), "the file holds NUL bytes"),
        ((H + 'A1,1,"x,Head of QA,June 2012\n').encode(), "not valid CSV: unexpected end"),
        ((H + "A" * 65 + ",1,x,Head of QA,June 2012\n").encode(), "longer than 64 characters"),
        ((H + '"A\nB",1,x,Head of QA,June 2012\n').encode(), "must be on one line"),
        ((H + "A1,1,x," + "y" * 300 + ",June 2012\n").encode(), "row 2, column 'Lead': the lead"),
        ((DEPS + "A1,1,x,Head,May 2012,WS99999999999999999999\n").encode(), "1 to 9999"),
        ((DEPS + "A1,1,x,Head,May 2012,WS-1 KD-5\n").encode(), "numbered 1 to 9999"),
        (
            b"ID,Work Stream,Actions,Description,Lead,Target End Date\n"
            + b"B" * 64
            + b',1,x,"one\n\ntwo",Head,"May 2012\nJune 2012"\n',
            "(the row is split into one action per item",
        ),
    ],
)
def test_hostile_csv_plans(seeded: Cli, raw: bytes, expected: str | None) -> None:
    path = write(seeded.workdir / "plan.csv", raw)
    result = import_plan(seeded, path)
    if expected is None:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 1 and expected in result.output, result.output


def test_dates_in_the_year_9999_are_stored_and_10000_is_kept_as_unreadable_text(
    seeded: Cli,
) -> None:
    path = write(seeded.workdir / "plan.csv", H + "A1,1,x,Head,31/12/9999\nA2,1,x,Head,10000\n")
    import_plan(seeded, path)
    with closing(sqlite3.connect(seeded.db_url.removeprefix("sqlite:///"))) as conn:
        query = "SELECT ref, due_date, dates_readable FROM actions WHERE ref IN ('A1', 'A2')"
        stored = sorted(conn.execute(query))
    assert stored == [("A1", "9999-12-31", 1), ("A2", None, 0)]


def test_formula_text_from_a_csv_is_stored_as_text_and_exported_guarded(seeded: Cli) -> None:
    path = write(seeded.workdir / "plan.csv", H + "A1,1,=cmd|' /C calc'!A0,Head,June 2012\n")
    assert import_plan(seeded, path).exit_code == 0
    exported = seeded("plan", "export", "--format", "csv", "--plan", PLAN).output
    assert "'=cmd|' /C calc'!A0" in exported


XLSX_VALUES = st.one_of(
    CELLS,
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            None, True, 41182, 2013, 1e300, "=1+1", "=cmd|' /C calc'!A0",
            datetime(9999, 12, 31), date(1900, 1, 1), datetime(2012, 9, 30, 14, 5),
            time(12, 30), timedelta(days=3), Decimal("1.5"),
        ]
    ),
)  # fmt: skip


def workbook(path: Path, sheets: list[tuple[str, list[list[Any]]]]) -> Path:
    book = Workbook()
    for index, (title, rows) in enumerate(sheets):
        sheet = book.active if index == 0 else book.create_sheet()
        assert sheet is not None
        sheet.title = title
        for row in rows:
            # Characters XML cannot hold cannot be put in a workbook at all.
            sheet.append(
                [ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in row]
            )
    book.save(path)
    return path


def patched(path: Path, change: Callable[[str, bytes], bytes]) -> Path:
    """Rewrite the parts of an .xlsx file (a zip), as a broken or hostile program might."""
    source = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    with zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            target.writestr(info, change(info.filename, source.read(info.filename)))
    return path


@FUZZ
@given(
    tables(BASIC, PLAN_HEADINGS, PLAN_CELLS, XLSX_VALUES),
    st.lists(st.sampled_from(["Notes", "Sheet 2", "actions "]), max_size=2, unique=True),
    st.sampled_from(["Plan", "Actions"]),
)
def test_any_xlsx_plan_imports_or_is_refused_leaving_the_database_as_it_was(
    seeded: Cli, rows: list[list[Any]], others: list[str], title: str
) -> None:
    sheets = [(name, [["Nothing to see", 1]]) for name in others]
    sheets.insert(len(sheets) // 2, (title, rows))
    import_plan(seeded, workbook(seeded.workdir / "plan.xlsx", sheets))


SHEET = "xl/worksheets/sheet1.xml"


def _no_sheets(name: str, data: bytes) -> bytes:
    return re.sub(rb"<sheet [^>]*/>", b"", data) if name == "xl/workbook.xml" else data


def _huge_cell(name: str, data: bytes) -> bytes:
    return data.replace(b"PLACEHOLDER", b"x" * 40_000) if name == SHEET else data


def _cut_sheet(name: str, data: bytes) -> bytes:
    return data[: len(data) // 2] if name == SHEET else data


def _text_in_number(name: str, data: bytes) -> bytes:
    return data.replace(b"<v>1</v>", b"<v>one</v>") if name == SHEET else data


ROW = ["A1", 1, "PLACEHOLDER", "Head of QA", "June 2012"]


@pytest.mark.parametrize(
    ("sheets", "change", "expected"),
    [
        ([("S", [BASIC, ["A1", 1, "=cmd|' /C calc'!A0", "Head", "May 2012"]])], None, "cell C2"),
        ([("S", [BASIC, ["A1", 1, "x", "Head of QA", datetime(9999, 12, 31)]])], None, None),
        ([("S", [BASIC, [12345, 1.0, 3.5, 7, 41182]])], None, None),
        ([("S", [BASIC, ROW])], _huge_cell, "row 2, column 'Actions': cell holds 40,000"),
        ([("Notes", [["hello"]]), ("Actions", [BASIC, ROW])], None, None),
        ([("Notes", [["hello"]]), ("Other", [BASIC, ROW])], None, "missing the 'Actions'"),
        ([("S", [])], None, "the file is empty"),
        ([("S", [BASIC])], None, "no action rows: the file has headings only"),
        ([("S", [BASIC, ROW])], _no_sheets, "the workbook has no worksheet"),
        ([("S", [BASIC, ROW])], _cut_sheet, "not a readable .xlsx worksheet"),
        ([("S", [BASIC, ROW])], _text_in_number, "not a readable .xlsx worksheet"),
    ],
)
def test_hostile_xlsx_plans(
    seeded: Cli,
    sheets: list[tuple[str, list[list[Any]]]],
    change: Callable[[str, bytes], bytes] | None,
    expected: str | None,
) -> None:
    path = workbook(seeded.workdir / "plan.xlsx", sheets)
    result = import_plan(seeded, patched(path, change) if change else path)
    if expected is None:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 1 and expected in result.output, result.output


def test_a_workbook_of_numbers_and_a_date_in_9999_is_read_as_text(seeded: Cli) -> None:
    rows: list[list[Any]] = [BASIC, [12345, 1, 3.5, 7, datetime(9999, 12, 31)]]
    assert import_plan(seeded, workbook(seeded.workdir / "p.xlsx", [("S", rows)])).exit_code == 0
    exported = seeded("plan", "export", "--format", "csv", "--plan", PLAN).output
    assert "12345,,1,,3.5,,7,7,,,,31 December 9999,9999-12-31,day" in exported


def _seed_changed(change: Callable[[dict[str, Any]], None]) -> str:
    data = copy.deepcopy(seed_data())
    change(data)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def _first_action(data: dict[str, Any]) -> dict[str, Any]:
    action: dict[str, Any] = data["work_streams"][0]["actions"][0]
    return action


def _split_action(data: dict[str, Any]) -> None:
    action = {"id": "B" * 64, "description": ["one", "two"], "target": ["May 2012", "June 2012"]}
    data["work_streams"][0]["actions"].append(action)


SEED_TEXT = SEED.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (SEED_TEXT, None),
        (
            _seed_changed(lambda d: d["work_streams"][0].update(number=10**20)),
            "work_streams[0].number: Input should be less than or equal to 9999",
        ),
        (
            _seed_changed(lambda d: _first_action(d).update(depends_on=[{"work_stream": 2**63}])),
            "depends_on[0].work_stream: Input should be less than or equal to 9999",
        ),
        (
            _seed_changed(lambda d: _first_action(d).update(id="WS1\n01")),
            "work_streams[0].actions[0].id: the ID 'WS1\\n01' must be on one line",
        ),
        (
            _seed_changed(lambda d: _first_action(d).update(key_deliverable="k" * 65)),
            "key_deliverable: String should have at most 64 characters",
        ),
        (_seed_changed(_split_action), "is longer than 64 characters (the row is split"),
        (
            _seed_changed(lambda d: d["plan"].update(timezone="Mars/Base")),
            "plan.timezone: Value error, 'Mars/Base' is not a time zone",
        ),
        (
            _seed_changed(lambda d: d["work_streams"][0]["outcomes"][0].update(number="1" * 17)),
            "number: String should have at most 16 characters",
        ),
        (SEED_TEXT + "\nplan: {id: other, title: Other}\n", "the key 'plan' is given twice"),
        ("x: &a [1, 2]\nplan: *a\n", "line 2, column 7: not valid YAML: aliases (*name)"),
        ("plan: " + "[" * 50_000 + "]" * 50_000, "lists or mappings are nested too deeply"),
    ],
)
def test_hostile_yaml_plans(seeded: Cli, text: str, expected: str | None) -> None:
    result = import_plan(seeded, write(seeded.workdir / "plan.yaml", text))
    if expected is None:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 1 and expected in result.output, result.output


STATUS_HEAD = ["ID", "RAG", "Status", "Note", "Updated By", "Date"]
STATUS_HEADINGS = st.one_of(
    st.sampled_from([*STATUS_HEAD, "updated_by", "Comments", ""]), st.text(max_size=10)
)
STATUS_HOSTILE = [
    "", "G", "amber", "Purple", "Done", "nope", "Me", "a\nb", "01/06/2012", "31/12/9999",
    "10000", "June 2012", "=cmd|' /C calc'!A0", "z" * 33_000, '"',
]  # fmt: skip
STATUS_CELLS = mostly(PLAIN, st.one_of(st.sampled_from(STATUS_HOSTILE), st.text(max_size=20)))
STATUS_COLUMNS = {
    "RAG": mostly(["G", "amber", "Red"], STATUS_CELLS),
    "Status": mostly(["", "Done", "in progress"], STATUS_CELLS),
    "Note": mostly(["Done as planned", "Delayed: staff shortage"], STATUS_CELLS),
    "Updated By": mostly(["Me", "A. N. Other"], STATUS_CELLS),
    "Date": mostly(["", "01/06/2012", "2012-06-30"], STATUS_CELLS),
}


@FUZZ
@given(st.data(), ENCODINGS)
def test_any_status_return_imports_or_is_refused_leaving_the_database_as_it_was(
    seeded: Cli, data: st.DataObject, encoding: str
) -> None:
    refs = live_refs(seeded)
    # IDs of this plan, ones the reader refuses, and one the plan lacks.
    ids = mostly(refs, st.sampled_from(["", f"{refs[0]}\n{refs[1]}", "NOPE-1"]))
    columns = {**STATUS_COLUMNS, "ID": ids}
    rows = data.draw(tables(STATUS_HEAD, STATUS_HEADINGS, columns, STATUS_CELLS))
    raw = csv_text(rows).encode(encoding, errors="replace")
    import_status(seeded, write(seeded.workdir / "return.csv", raw))


SH = ",".join(STATUS_HEAD) + "\n"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (SH + "WS1-01,Green,In progress,fine,Me,01/06/2012\n", None),
        (SH + "WS1-01,Green,In progress,=cmd|' /C calc'!A0,Me,\n", None),
        (SH + "WS1-01,Green,In progress,fine,Me,31/12/9999\n", "31 December 9999 is in the future"),
        (SH + "WS1-01,Green,In progress,fine,Me,31/12/10000\n", "is not a date"),
        (SH, "no status rows: the file has headings only"),
        ("", "the file is empty"),
        (SH + 'WS1-01,Green,,"fine,Me,\nWS1-02,Red,,x,Me,\n', "not valid CSV: unexpected end"),
        (SH + "WS1-01,Red,,x\x00,Me,\n", "the file holds NUL bytes"),
        (SH + "WS1-01,Red,," + "x" * 40_000 + ",Me,\n", "cell holds 40,000 characters"),
        ("ID,RAG,Note\nWS1-01,Red,x\n", "missing the 'Status' column"),
    ],
)
def test_hostile_csv_status_returns(seeded: Cli, raw: str, expected: str | None) -> None:
    result = import_status(seeded, write(seeded.workdir / "return.csv", raw))
    if expected is None:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 1 and expected in result.output, result.output


@pytest.mark.parametrize(
    ("sheets", "change", "expected"),
    [
        ([("S", [STATUS_HEAD, ["WS1-01", "Red", "", "=1+1", "Me"]])], None, "holds a formula"),
        ([("S", [STATUS_HEAD, ["WS1-01", "Red", "", "x", "Me", datetime(9999, 12, 31)]])], None,
         "in the future"),
        ([("S", [STATUS_HEAD, ["WS1-01", "Red", "", 12345, "Me", 41182.5]])], None, None),
        ([("S", [STATUS_HEAD, ["WS1-01", "Red", "", "x", "Me"]])], _no_sheets,
         "the workbook has no worksheet"),
        ([("S", [STATUS_HEAD, ["WS1-01", "Red", "", "x", "Me"]])], _cut_sheet,
         "sheet 'S': not a readable .xlsx worksheet"),
    ],
)  # fmt: skip
def test_hostile_xlsx_status_returns(
    seeded: Cli,
    sheets: list[tuple[str, list[list[Any]]]],
    change: Callable[[str, bytes], bytes] | None,
    expected: str | None,
) -> None:
    path = workbook(seeded.workdir / "return.xlsx", sheets)
    result = import_status(seeded, patched(path, change) if change else path)
    if expected is None:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 1 and expected in result.output, result.output


def test_a_status_return_naming_no_action_of_the_plan_changes_nothing(seeded: Cli) -> None:
    path = write(seeded.workdir / "return.csv", SH + "WS1-01,Red,,x,Me,\nNOPE-1,Red,,x,Me,\n")
    before = dump(seeded)
    result = seeded("status", "import", "--no-alert", str(path), ok=False)
    assert result.exit_code == 1 and "row 3, column 'ID': no action 'NOPE-1'" in result.output
    assert dump(seeded) == before


def test_a_status_return_naming_no_action_of_the_plan_names_the_file(seeded: Cli) -> None:
    path = write(seeded.workdir / "return.csv", SH + "NOPE-1,Red,,x,Me,\n")
    result = seeded("status", "import", "--no-alert", str(path), ok=False)
    assert f"Error: {path}: " in result.output


@pytest.mark.postgres
def test_a_status_return_with_a_long_file_name_imports_on_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    cli = Cli(postgres_url, tmp_path)
    cli("db", "upgrade")
    cli("plan", "import", str(SEED))
    path = write(tmp_path / "status-return-september-2012.csv", SH + "WS1-01,Red,,x,Me,\n")
    assert cli("status", "import", "--no-alert", str(path)).exit_code == 0
