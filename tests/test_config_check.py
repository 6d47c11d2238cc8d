"""`config check` tells an admin, before anything is sent, what planworker will do."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import CONTACTS
from worker.cli import main


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("PLANWORKER_") and not name.startswith("PLANWORKER_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def check(tmp_path: Path, config: str = "", contacts: str | None = None, *json_: str) -> Result:
    (tmp_path / "contacts.toml").write_text(
        contacts if contacts is not None else CONTACTS.read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    (tmp_path / "planworker.toml").write_text(config, encoding="utf-8")
    args = ["--config", str(tmp_path / "planworker.toml"), "config", "check", *json_]
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_a_template_that_breaks_on_sample_data_fails_the_check_naming_file_and_line(
    tmp_path: Path,
) -> None:
    mine = tmp_path / "mine" / "digest"
    mine.mkdir(parents=True)
    # Fine for most messages; breaks only when a board member's digest has changes.
    (mine / "body.txt").write_text(
        "Digest\n{% for c in changes %}{{ c.no_such_field }}{% endfor %}\n", encoding="utf-8"
    )
    result = check(tmp_path, 'templates_dir = "mine"\n')
    assert result.exit_code == 1
    assert "mine/digest/body.txt, line 2" in result.output
    assert "no_such_field" in result.output


def test_the_shipped_templates_pass_and_the_folders_used_are_listed(tmp_path: Path) -> None:
    result = check(tmp_path, "", None, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["templates"][-1].endswith("templates")


def test_placeholder_addresses_are_warned_about_by_where_they_are_set(tmp_path: Path) -> None:
    contacts = """
[administrator]
name = "Plan Administrator"
email = "admin@council.gov.uk"

[[board]]
name = "Director"
email = "director@example.org"

[roles."Head of QA"]
person = "Ann Lee"
email = "ann.lee@council.gov.uk"
"""
    result = check(tmp_path, '[mail]\nfrom_address = "planworker@council.gov.uk"\n', contacts)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert "1 placeholder address" in warnings[0] and "board[0] Director" in warnings[0]
    assert "Head of QA" not in warnings[0] and "administrator" not in warnings[0]


def test_a_digest_schedule_on_another_day_than_the_digest_setting_is_warned_about(
    tmp_path: Path,
) -> None:
    config = '[digest]\nweekday = "monday"\n[jobs.digest]\nschedule = "30 7 * * tue"\n'
    summary = json.loads(check(tmp_path, config, None, "--json").output)
    weekday = [w for w in summary["warnings"] if "digest.weekday" in w]
    assert weekday and "tuesday" in weekday[0]
    agreeing = '[digest]\nweekday = "tuesday"\n[jobs.digest]\nschedule = "30 7 * * tue"\n'
    summary = json.loads(check(tmp_path, agreeing, None, "--json").output)
    assert not [w for w in summary["warnings"] if "digest.weekday" in w]


def test_the_reminder_policy_read_is_shown(tmp_path: Path) -> None:
    config = "[reminders]\nbefore_days = [10, 3]\non_the_day = false\nevery_days = 5\n"
    result = check(tmp_path, config)
    assert "due soon: 10, 3 days before the target\n" in result.output
    assert "overdue: every 5 days" in result.output
    policy = json.loads(check(tmp_path, config, None, "--json").output)["policy"]
    assert policy["reminders"]["days_before_target"] == [10, 3]
    assert policy["reminders"]["on_the_day"] is False
