"""Admins' files: the config and the contacts directory fail loudly, naming file, key, reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CONTACTS, ROOT
from worker.contacts import load_directory
from worker.errors import InputError
from worker.settings import load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("PLANWORKER_") and not name.startswith("PLANWORKER_TEST_"):
            monkeypatch.delenv(name)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_config_loads_with_the_embedded_defaults() -> None:
    settings = load_settings(ROOT / "config" / "planworker.toml")
    assert settings.database_url.startswith("sqlite:///")
    assert settings.dates.month_day == "end"


def test_a_misspelt_key_names_the_file_the_key_and_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "p.toml", '[dates]\nmonth_dya = "end"\n')
    with pytest.raises(InputError) as err:
        load_settings(path)
    message = str(err.value)
    assert str(path) in message and "dates.month_dya" in message
    assert "did you mean 'month_day'" in message


def test_a_bad_value_names_the_key_and_the_reason(tmp_path: Path) -> None:
    path = write(tmp_path, "p.toml", '[dates]\nmonth_day = "middle"\n')
    with pytest.raises(InputError, match=r"dates\.month_day: Input should be 'end' or 'start'"):
        load_settings(path)


def test_malformed_toml_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "p.toml", "database_url = \n")
    with pytest.raises(InputError, match=r"p\.toml: not valid TOML: .*line 1"):
        load_settings(path)


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "p.toml", '[dates]\nmonth_day = "end"\n')
    monkeypatch.setenv("PLANWORKER_DATES__MONTH_DAY", "start")
    monkeypatch.setenv("PLANWORKER_DATABASE_URL", "postgresql://planworker@db/planworker")
    settings = load_settings(path)
    assert settings.dates.month_day == "start"
    assert settings.database_url == "postgresql://planworker@db/planworker"


def test_a_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANWORKER_DATES__MONTH_DAY", "soon")
    with pytest.raises(InputError, match="PLANWORKER_DATES__MONTH_DAY"):
        load_settings(ROOT / "config" / "planworker.toml")


def test_an_unknown_planworker_variable_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANWORKER_DATABSE_URL", "sqlite:///x.db")
    with pytest.raises(
        InputError,
        match="PLANWORKER_DATABSE_URL: not a planworker setting "
        r"\(did you mean PLANWORKER_DATABASE_URL\?\)",
    ):
        load_settings(ROOT / "config" / "planworker.toml")


def test_config_path_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "other.toml", 'plan = "training"\n')
    monkeypatch.setenv("PLANWORKER_CONFIG", str(path))
    assert load_settings().plan == "training"


def test_missing_config_file_is_an_error_not_a_silent_default(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")


# --- contacts ---------------------------------------------------------------------------

CONTACTS_OK = """
[administrator]
name = "Plan Administrator"
email = "admin@example.org"

[[board]]
name = "Chair"
email = "chair@example.org"

[roles."Head of QA"]
email = "qa@example.org"
aliases = ["HOS QA"]
deputy = "Audit Manager"

[roles."Audit Manager"]
email = ""
line_manager = "hos qa"
"""


def test_directory_finds_roles_by_any_spelling(tmp_path: Path) -> None:
    directory = load_directory(write(tmp_path, "c.toml", CONTACTS_OK))
    for spelling in ("Head of QA", "head of qa.", "HOS  QA", "HoS QA"):
        role = directory.find(spelling)
        assert role is not None and role.name == "Head of QA"
    audit = directory.find("Audit manager")
    assert audit is not None and audit.email == "" and audit.line_manager == "head of qa"
    assert directory.find("Head of Safeguarding") is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ('email = "qa@example.org"', 'email = "qa at example.org"'),
            r"roles\.Head of QA\.email: Value error, 'qa at example\.org' is not a valid email",
        ),
        (
            ('deputy = "Audit Manager"', 'deputy = "Auditor"'),
            r"roles\.'Head of QA'\.deputy: no role named 'Auditor'",
        ),
        (
            ('aliases = ["HOS QA"]', 'aliases = ["Audit manager"]'),
            r"'Audit Manager' already names role 'head of qa'|'Audit manager' already names role",
        ),
        (('name = "Chair"', 'nmae = "Chair"'), r"board\.0\.nmae: Extra inputs are not permitted"),
        (
            ('email = "admin@example.org"', 'email = "admin@example.org\\nBcc: x@evil.test"'),
            r"administrator\.email: Value error",
        ),
    ],
)
def test_a_bad_directory_names_the_key_and_the_reason(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    path = write(tmp_path, "c.toml", CONTACTS_OK.replace(*change))
    with pytest.raises(InputError, match=expected) as err:
        load_directory(path)
    assert str(path) in str(err.value)


def test_shipped_directory_is_valid_and_uses_placeholder_addresses() -> None:
    directory = load_directory(CONTACTS)
    emails = [r.email for r in directory.roles.values() if r.email]
    emails += [directory.administrator.email, *(p.email for p in directory.board)]
    assert emails and all(e.endswith("@example.org") for e in emails)
    assert directory.board


# --- reminders and mail ------------------------------------------------------------------


def test_shipped_config_gives_the_documented_reminder_policy() -> None:
    settings = load_settings(ROOT / "config" / "planworker.toml")
    policy = settings.reminders.policy()
    assert policy.upcoming == (14, 7, 1, 0)
    assert (policy.every_days, policy.back_off_after_days, policy.back_off_every_days) == (
        7,
        28,
        28,
    )
    assert settings.mail.backend == "maildir"


def test_a_bad_smtp_security_from_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PLANWORKER_SMTP__SECURITY", "ssl")
    with pytest.raises(
        InputError, match=r"PLANWORKER_SMTP__SECURITY: .*'none', 'starttls' or 'tls'"
    ):
        load_settings(None)


def test_the_smtp_password_is_read_from_a_secret_file_and_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = write(tmp_path, "password", "hunter2-secret\n")
    monkeypatch.setenv("PLANWORKER_SMTP__PASSWORD_FILE", str(secret))
    settings = load_settings(None)
    assert settings.smtp.password.get_secret_value() == "hunter2-secret"
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.smtp)


def test_a_missing_password_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANWORKER_SMTP__PASSWORD_FILE", str(tmp_path / "nope"))
    with pytest.raises(InputError, match=r"password_file .*nope: No such file"):
        load_settings(None)


def test_password_and_password_file_together_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLANWORKER_SMTP__PASSWORD", "x")
    monkeypatch.setenv("PLANWORKER_SMTP__PASSWORD_FILE", str(write(tmp_path, "pw", "y")))
    with pytest.raises(InputError, match="not both"):
        load_settings(None)


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[reminders]\nbefore_days = [14, 0]\n", "reminders.before_days"),
        ("[reminders]\nevery_days = 0\n", "reminders.every_days"),
        ('[reminders]\nclosed_days = ["24/12/2012"]\n', "reminders.closed_days.0"),
        ('[mail]\nfrom_address = "not an address"\n', "mail.from_address"),
        ('[mail]\nbackend = "pigeon"\n', "mail.backend"),
        ("[smtp]\nport = 70000\n", "smtp.port"),
    ],
)
def test_bad_reminder_and_mail_settings_name_the_key(tmp_path: Path, toml: str, key: str) -> None:
    with pytest.raises(InputError, match=key.replace(".", r"\.")):
        load_settings(write(tmp_path, "p.toml", toml))
