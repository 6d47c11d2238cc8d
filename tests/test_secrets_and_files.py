"""Secrets and files: database passwords never shown, no password sent in clear, a private
database, output files never written through a planted link, clear errors for bad paths,
dates and databases, and stored text shown on a terminal, never obeyed by it."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import SEED, Cli
from worker.db import make_engine, shown
from worker.errors import InputError, PlanworkerError
from worker.settings import load_settings

PASSWORD = "S3cret-pw"


@pytest.fixture
def seeded(cli: Cli) -> Cli:
    cli("plan", "import", str(SEED))
    return cli


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- (a) database URLs -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://planworker:{PASSWORD}@db.example.org:port/plans",  # no port number
        f"postgresql://planworker:{PASSWORD}@db.example.org/plans?connect_timeout=soon",
        f"mysql://planworker:{PASSWORD}@db.example.org/plans",
        f"postgresql+nodriver://planworker:{PASSWORD}@db.example.org/plans",
    ],
)
def test_a_bad_database_url_is_named_without_its_password(tmp_path: Path, url: str) -> None:
    cli = Cli(url, tmp_path)
    result = cli("plan", "show", ok=False)
    assert result.exit_code == 1
    assert "planworker:***@db.example.org" in result.output
    health = cli("health", "--json", ok=False)
    problems = json.loads(health.stdout)["problems"]
    assert any("planworker:***@db.example.org" in p for p in problems), problems
    for output in (result.output, health.output):
        assert PASSWORD not in output


def test_the_url_shown_hides_a_password_sqlalchemy_cannot_parse() -> None:
    assert shown(f"postgresql://u:{PASSWORD}@h:port/db") == "postgresql://u:***@h:port/db"
    assert shown(f"postgresql://u:{PASSWORD}@h/db") == "postgresql://u:***@h/db"


# --- (b) SMTP login without encryption ---------------------------------------------------


def test_smtp_login_without_encryption_is_refused_unless_explicitly_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PLANWORKER_SMTP__SECURITY", "none")
    monkeypatch.setenv("PLANWORKER_SMTP__USERNAME", "planworker")
    with pytest.raises(InputError, match=r"smtp: .*would send the password unencrypted"):
        load_settings(None)
    monkeypatch.setenv("PLANWORKER_SMTP__ALLOW_PLAINTEXT_LOGIN", "true")
    assert load_settings(None).smtp.allow_plaintext_login is True


def test_config_check_refuses_a_plaintext_login(cli: Cli) -> None:
    cli.env.update({"PLANWORKER_SMTP__SECURITY": "none", "PLANWORKER_SMTP__USERNAME": "me"})
    result = cli("config", "check", ok=False)
    assert result.exit_code == 1
    assert "allow_plaintext_login = true" in result.output


# --- (c) a private database --------------------------------------------------------------


def test_a_new_sqlite_database_its_journal_files_and_folder_are_private(
    tmp_path: Path, umask_022: None
) -> None:
    folder = tmp_path / "var"
    database = folder / "planworker.db"
    engine = make_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE notes (body TEXT)"))
            conn.execute(text("INSERT INTO notes VALUES ('a note about a child')"))
        with engine.connect() as conn:  # open: the -wal and -shm files exist
            conn.execute(text("SELECT * FROM notes")).all()
            journal = [Path(f"{database}-wal"), Path(f"{database}-shm")]
            assert all(p.exists() for p in journal)
            assert [mode(p) for p in journal] == [0o600, 0o600]
    finally:
        engine.dispose()
    assert mode(folder) == 0o700
    assert mode(database) == 0o600


def test_an_existing_database_keeps_its_permissions(tmp_path: Path, umask_022: None) -> None:
    database = tmp_path / "shared.db"
    database.touch(mode=0o640)
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    engine.dispose()
    assert mode(database) == 0o640


# --- (d) and (e) output files ------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["plan", "export", "--format", "csv", "-o"],
        ["plan", "export", "--format", "xlsx", "-o"],
        ["report", "--format", "md", "--as-of", "2012-10-01", "-o"],
    ],
)
def test_a_link_planted_beside_an_output_file_is_not_followed(
    seeded: Cli, tmp_path: Path, command: list[str]
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    out = tmp_path / "out.file"
    (tmp_path / "out.file.partial").symlink_to(victim)
    seeded(*command, str(out))
    assert victim.read_text(encoding="utf-8") == "precious"
    assert not out.is_symlink() and out.stat().st_size > 0


@pytest.mark.parametrize(
    "command",
    [
        ["plan", "export", "--format", "yaml", "-o"],
        ["report", "--format", "html", "--as-of", "2012-10-01", "-o"],
    ],
)
def test_a_link_planted_at_the_output_file_is_refused(
    seeded: Cli, tmp_path: Path, command: list[str]
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    out = tmp_path / "out.file"
    out.symlink_to(victim)
    result = seeded(*command, str(out), ok=False)
    assert result.exit_code == 1
    assert f"cannot write {out}: it is a symbolic link" in result.output
    assert victim.read_text(encoding="utf-8") == "precious"
    assert out.is_symlink()


@pytest.mark.parametrize("fmt", ["yaml", "csv", "xlsx"])
def test_export_into_a_missing_folder_says_so(seeded: Cli, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "no-such-folder" / f"plan.{fmt}"
    result = seeded("plan", "export", "--format", fmt, "-o", str(out), ok=False)
    assert result.exit_code == 1
    assert f"cannot write {out}: the folder {out.parent} does not exist" in result.output
    assert not out.parent.exists()


def test_a_failed_write_leaves_no_partial_file(tmp_path: Path) -> None:
    from worker.io.files import write_file

    def fail(handle: object) -> None:
        raise PlanworkerError("the export failed half-way")

    with pytest.raises(PlanworkerError, match="half-way"):
        write_file(tmp_path / "out.xlsx", fail)
    assert list(tmp_path.iterdir()) == []


# --- (f) dates and databases planworker does not work with -------------------------------


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["remind", "--dry-run", "--as-of", "9999-12-31"], "--as-of"),
        (["escalate", "--dry-run", "--as-of", "0001-01-01"], "--as-of"),
        (["simulate", "--from", "9999-12-01", "--to", "9999-12-31"], "--from"),
    ],
)
def test_dates_beyond_a_sane_range_are_refused_naming_the_option(
    seeded: Cli, args: list[str], option: str
) -> None:
    result = seeded(*args, ok=False)
    assert result.exit_code == 2
    assert f"Invalid value for '{option}'" in result.output
    assert "outside the dates planworker works with (1900-01-01 to 2999-12-31)" in result.output


def test_an_unsupported_database_is_named(tmp_path: Path) -> None:
    result = Cli("mysql://planworker@localhost/plans", tmp_path)("db", "upgrade", ok=False)
    assert result.exit_code == 1
    assert "works with sqlite or postgresql databases, not 'mysql'" in result.output


# --- (g) stored text on a terminal -------------------------------------------------------

HOSTILE_NOTE = "Done\x1b]0;pwned\x07\x1b[2J\nWS1-02: Green\u202e"


def test_status_history_shows_control_characters_as_escapes_and_json_keeps_them(
    seeded: Cli,
) -> None:
    seeded("status", "set", "WS1-01", "--rag", "green", "--note", HOSTILE_NOTE, "--by", "Me")
    shown_text = seeded("status", "history", "WS1-01").output
    assert "\x1b" not in shown_text and "\x07" not in shown_text and "\u202e" not in shown_text
    assert shown_text.count("\n") == 1  # the note cannot fake a second line
    assert "Done\\x1b]0;pwned\\x07\\x1b[2J\\x0aWS1-02: Green\\u202e" in shown_text
    changes = json.loads(seeded("status", "history", "WS1-01", "--json").output)["changes"]
    assert changes[-1]["note"] == HOSTILE_NOTE


def test_plan_show_shows_control_characters_in_a_plan_title_as_escapes(
    cli: Cli, seed_copy: Path
) -> None:
    title = "Safeguarding and Looked After Children Post Inspection Action Plan 2012-2013"
    original = seed_copy.read_text(encoding="utf-8")
    seed_copy.write_text(original.replace(title, "Plan\\e[2J\\e]0;x\\a"), encoding="utf-8")
    cli("plan", "import", str(seed_copy))
    shown_text = cli("plan", "show").output
    assert "\x1b" not in shown_text and "\x07" not in shown_text
    assert "Plan\\x1b[2J\\x1b]0;x\\x07" in shown_text
