"""Where the config comes from, what its paths mean, and what happens without one."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import CONTACTS, ROOT
from worker.cli import main
from worker.errors import PlanworkerError
from worker.settings import load_settings
from worker.settings import loading as settings_module
from worker.site_init import site_config


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("PLANWORKER_") and not name.startswith("PLANWORKER_TEST_"):
            monkeypatch.delenv(name)
    # /etc/planworker of this machine is none of the tests' business.
    monkeypatch.setattr(
        settings_module,
        "SEARCHED",
        (Path("config/planworker.toml"), tmp_path / "etc" / "planworker" / "planworker.toml"),
    )


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def site(folder: Path, config: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "contacts.toml").write_bytes(CONTACTS.read_bytes())
    path = folder / "planworker.toml"
    path.write_text(config, encoding="utf-8")
    return path


def test_relative_paths_in_a_config_file_are_read_from_its_own_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = site(
        tmp_path / "site",
        'database_url = "sqlite:///data/plan.db"\ncontacts_file = "contacts.toml"\n'
        '[mail]\nmaildir = "mail/out"\n',
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = load_settings(Path("../site/planworker.toml"))
    folder = path.parent.resolve()
    assert loaded.database_url == f"sqlite:///{folder / 'data' / 'plan.db'}"
    assert Path(loaded.contacts_file).resolve() == folder / "contacts.toml"
    assert Path(loaded.mail.maildir).resolve() == folder / "mail" / "out"


def test_defaults_a_config_file_leaves_out_live_in_its_folder_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = site(tmp_path / "site", 'plan = ""\n')
    monkeypatch.chdir(tmp_path)
    loaded = load_settings(path)
    assert loaded.database_url == f"sqlite:///{tmp_path / 'site' / 'var' / 'planworker.db'}"
    assert Path(loaded.mail.maildir) == tmp_path / "site" / "var" / "outbox"


def test_paths_from_the_environment_are_relative_to_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = site(tmp_path / "site", 'contacts_file = "contacts.toml"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLANWORKER_CONTACTS_FILE", "mine.toml")
    monkeypatch.setenv("PLANWORKER_DATABASE_URL", "sqlite:///here.db")
    loaded = load_settings(path)
    assert loaded.contacts_file == Path("mine.toml")
    assert loaded.database_url == "sqlite:///here.db"


@pytest.mark.parametrize("where", ["option", "environment", "current folder", "etc"])
def test_config_check_says_which_file_it_read_and_how_it_was_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    places = {
        "option": tmp_path / "given" / "planworker.toml",
        "environment": tmp_path / "env" / "planworker.toml",
        "current folder": tmp_path / "cwd" / "config" / "planworker.toml",
        "etc": settings_module.SEARCHED[1],
    }
    path = site(places[where].parent, 'plan = "found"\n')
    cwd = tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    monkeypatch.chdir(cwd)
    args = ["--config", str(path)] if where == "option" else []
    if where == "environment":
        monkeypatch.setenv("PLANWORKER_CONFIG", str(path))
    result = run(*args, "config", "check", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert Path(summary["config"]).resolve() == path.resolve()
    text = run(*args, "config", "check").output
    assert str(path.resolve()) in text


def test_an_option_beats_the_environment_which_beats_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site(tmp_path / "config", 'plan = "cwd"\n')
    env = site(tmp_path / "env", 'plan = "env"\n')
    given = site(tmp_path / "given", 'plan = "given"\n')
    monkeypatch.chdir(tmp_path)
    assert load_settings().plan == "cwd"
    monkeypatch.setenv("PLANWORKER_CONFIG", str(env))
    assert load_settings().plan == "env"
    assert load_settings(given).plan == "given"


@pytest.mark.parametrize(
    "command", [["db", "upgrade"], ["plan", "show"], ["remind", "--as-of", "2012-09-24"]]
)
def test_without_any_config_a_database_command_says_so_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(*command)
    assert result.exit_code == 1
    assert re.search(r"no (database|contacts file) configured: no config file", result.output)
    assert "planworker init" in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_database_that_was_never_created_is_named_not_made_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = site(tmp_path / "site", 'contacts_file = "contacts.toml"\n')
    monkeypatch.chdir(tmp_path)
    result = run("--config", str(path), "plan", "show")
    assert result.exit_code == 1
    assert "var/planworker.db does not exist: run 'planworker db upgrade'" in result.output
    assert not (tmp_path / "site" / "var").exists()


def test_init_writes_a_site_that_works_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("init", "council")
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / "council").iterdir())
    assert written == ["cbc-action-plan-2012-13.yaml", "contacts.toml", "planworker.toml"]
    # Every comment of the shipped config is kept: a new admin reads what each key means.
    shipped = (ROOT / "config" / "planworker.toml").read_text(encoding="utf-8")
    mine = (tmp_path / "council" / "planworker.toml").read_text(encoding="utf-8")
    assert mine.count("\n#") == shipped.count("\n#")
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.chdir(other)
    loaded = load_settings(Path("../council/planworker.toml"))
    council = tmp_path / "council"
    assert loaded.database_url == f"sqlite:///{council / 'var' / 'planworker.db'}"
    assert Path(loaded.contacts_file) == council / "contacts.toml"
    assert Path(loaded.mail.maildir) == council / "var" / "outbox"


def test_init_never_overwrites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "council").mkdir()
    (tmp_path / "council" / "contacts.toml").write_text("mine", encoding="utf-8")
    result = run("init", "council")
    assert result.exit_code == 1
    assert "not overwriting" in result.output and "contacts.toml" in result.output
    assert (tmp_path / "council" / "contacts.toml").read_text(encoding="utf-8") == "mine"
    assert not (tmp_path / "council" / "planworker.toml").exists()


def test_init_refuses_a_shipped_config_whose_paths_it_cannot_find() -> None:
    with pytest.raises(PlanworkerError, match="no longer contains"):
        site_config('database_url = "sqlite:///elsewhere.db"\n')


def test_paths_that_climb_out_of_the_config_folder_are_shown_plainly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The checkout's own config keeps its database one folder up, in var/.
    path = site(
        tmp_path / "config",
        'database_url = "sqlite:///../var/planworker.db"\n[mail]\nmaildir = "../var/outbox"\n',
    )
    monkeypatch.chdir(tmp_path)
    loaded = load_settings(path)
    assert loaded.database_url == f"sqlite:///{tmp_path / 'var' / 'planworker.db'}"
    assert str(loaded.mail.maildir) == str(tmp_path / "var" / "outbox")
