"""The container, without a Docker engine: the entrypoint script run in a plain shell, and
the Dockerfile and compose example read as text (docs/container.md, "What CI tests")."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from worker.migrate import head_revision

# Slow (runs the entrypoint script in a shell): left out by pytest -m 'not slow'.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docs" / "docker-compose.yml"
SEED = ROOT / "seed" / "cbc-action-plan-2012-13.yaml"
CONTACTS = ROOT / "config" / "contacts.toml"
SEED_ACTIONS = 110


def _environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    # Nothing of the caller's planworker settings: only what the test gives.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANWORKER_")}
    env.update(
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        PLANWORKER_CONFIG="",
        PLANWORKER_DATABASE_URL=f"sqlite:///{tmp_path / 'planworker.db'}",
        PLANWORKER_CONTACTS_FILE=str(CONTACTS),
        PLANWORKER_MAIL__MAILDIR=str(tmp_path / "outbox"),
    )
    env.update(extra)
    return env


def _entrypoint(env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _query(database: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(database) as conn:
        return conn.execute(sql).fetchall()


# --- the entrypoint, in a plain shell -------------------------------------------------------


def test_entrypoint_migrates_imports_the_seed_and_runs_the_command(tmp_path: Path) -> None:
    env = _environment(tmp_path, PLANWORKER_SEED_FILE=str(SEED))

    first = _entrypoint(env, "planworker", "plan", "show", "--json")

    assert first.returncode == 0, first.stderr
    assert _query(tmp_path / "planworker.db", "SELECT version_num FROM alembic_version") == [
        (head_revision(),)
    ]
    # The entrypoint reports on stderr: stdout is the command's alone, here pure JSON.
    shown = json.loads(first.stdout)
    assert shown["actions"] == SEED_ACTIONS
    assert sum(ws["actions"] for ws in shown["work_streams"]) == SEED_ACTIONS
    assert "importing" in first.stderr

    second = _entrypoint(env, "planworker", "plan", "show", "--json")

    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout) == shown
    assert "already holds a plan" in second.stderr
    assert "importing" not in second.stderr
    assert _query(tmp_path / "planworker.db", "SELECT count(*) FROM plans") == [(1,)]
    assert _query(tmp_path / "planworker.db", "SELECT count(*) FROM actions") == [(SEED_ACTIONS,)]


def test_entrypoint_keeps_the_seed_variable_from_the_command(tmp_path: Path) -> None:
    # planworker refuses PLANWORKER_* variables it does not know: the command must not see it.
    env = _environment(tmp_path, PLANWORKER_SEED_FILE=str(SEED))

    result = _entrypoint(env, "sh", "-c", 'echo "seed=${PLANWORKER_SEED_FILE-unset}"')

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "seed=unset"


def test_entrypoint_without_a_seed_file_migrates_only(tmp_path: Path) -> None:
    result = _entrypoint(_environment(tmp_path), "planworker", "plan", "show")

    assert result.returncode == 1
    assert "no plan in the database yet" in result.stderr
    assert _query(tmp_path / "planworker.db", "SELECT version_num FROM alembic_version") == [
        (head_revision(),)
    ]
    assert _query(tmp_path / "planworker.db", "SELECT count(*) FROM plans") == [(0,)]


def test_entrypoint_stops_before_the_command_when_migration_fails(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    env = _environment(tmp_path, PLANWORKER_DATABASE_URL="not a database url")

    result = _entrypoint(env, "touch", str(marker))

    assert result.returncode != 0
    assert "PLANWORKER_DATABASE_URL" in result.stderr
    assert not marker.exists()


def test_entrypoint_is_an_executable_posix_script() -> None:
    mode = ENTRYPOINT.stat().st_mode
    assert mode & stat.S_IXUSR and mode & stat.S_IXGRP and mode & stat.S_IXOTH
    text = ENTRYPOINT.read_text(encoding="utf-8")
    assert text.startswith("#!/bin/sh\n")
    assert "set -eu" in text
    assert 'exec "$@"' in text


# --- the Dockerfile -------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends in a continuation line"
    return instructions


def _one(keyword: str) -> str:
    found = [arguments for kw, arguments in _instructions() if kw == keyword]
    assert found, f"no {keyword} in the Dockerfile"
    # As Docker does, the last one counts.
    return found[-1]


def test_dockerfile_base_image() -> None:
    # A build stage makes the wheel; the image itself starts again from the same base.
    assert [args for kw, args in _instructions() if kw == "FROM"] == [
        "python:3.11-slim AS build",
        "python:3.11-slim",
    ]


def test_dockerfile_installs_the_built_wheel_from_pinned_dependencies() -> None:
    runs = [args for kw, args in _instructions() if kw == "RUN"]
    assert any("pip wheel" in run and "--no-deps" in run for run in runs)
    assert any("--require-hashes -r requirements.lock" in run for run in runs)
    assert any("pip install" in run and "/tmp/dist/*.whl" in run for run in runs)
    assert not [run for run in runs if " -e " in f" {run} " or "--editable" in run]
    # The image carries no source tree: only the wheel's files are installed.
    copied = [args.split()[0] for kw, args in _instructions() if kw == "COPY"]
    assert "." not in copied


def test_lock_file_pins_every_dependency_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    pinned = {
        re.sub(r"[-_.]+", "-", name).lower()
        for name in re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", lock, flags=re.M)
    }
    wanted = {
        re.sub(r"[-_.]+", "-", re.split(r"[\[<>=!~ ;]", dep, maxsplit=1)[0]).lower()
        for dep in project["dependencies"]
    }
    assert wanted <= pinned, f"not in requirements.lock: {sorted(wanted - pinned)}"
    requirements = [line for line in lock.splitlines() if re.match(r"^[A-Za-z0-9]", line)]
    assert all("==" in line for line in requirements)
    assert lock.count("--hash=sha256:") >= len(pinned)


def test_dockerfile_runs_as_a_user_that_is_not_root() -> None:
    user = _one("USER").split(":")[0]
    assert user not in ("", "root", "0")
    assert user == "planworker"


def test_dockerfile_entrypoint_and_command() -> None:
    assert json.loads(_one("ENTRYPOINT")) == ["/app/docker/entrypoint.sh"]
    assert json.loads(_one("CMD")) == ["planworker", "run"]
    assert ("WORKDIR", "/app") in _instructions()


def test_dockerfile_health_check_runs_planworker_health() -> None:
    options, _, command = _one("HEALTHCHECK").partition("CMD ")
    assert "--interval=30s" in options.split()
    assert json.loads(command)[-2:] == ["planworker", "health"]


@pytest.mark.parametrize(
    "setting",
    [
        "PYTHONUNBUFFERED=1",
        "PLANWORKER_DATABASE_URL=sqlite:////data/planworker.db",
        "PLANWORKER_MAIL__MAILDIR=/data/outbox",
    ],
)
def test_dockerfile_environment(setting: str) -> None:
    settings = [word for kw, args in _instructions() if kw == "ENV" for word in args.split()]
    assert setting in settings


def test_dockerfile_data_volume_and_no_secrets() -> None:
    assert "/data" in json.loads(_one("VOLUME"))
    names = [
        word.split("=")[0]
        for kw, args in _instructions()
        if kw in ("ENV", "ARG")
        for word in args.split()
    ]
    assert not [n for n in names if "PASSWORD" in n.upper() or "SECRET" in n.upper()]


# --- the compose example --------------------------------------------------------------------


def test_compose_example_services() -> None:
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services = compose["services"]

    assert services["db"]["image"] == "postgres:15"
    assert services["mailpit"]["image"].startswith("axllent/mailpit")
    workers = {
        name: service
        for name, service in services.items()
        if service.get("command") == ["planworker", "run"]
    }
    assert len(workers) >= 2
    for service in workers.values():
        env = service["environment"]
        assert env["PLANWORKER_DATABASE_URL"].startswith("postgresql://planworker:")
        assert env["PLANWORKER_DATABASE_URL"].endswith("@db/planworker")
        assert env["PLANWORKER_MAIL__BACKEND"] == "smtp"
        assert env["PLANWORKER_SMTP__HOST"] == "mailpit"
        assert str(env["PLANWORKER_SMTP__PORT"]) == "1025"
        assert env["PLANWORKER_SMTP__SECURITY"] == "none"
        assert service["depends_on"]["db"]["condition"] == "service_healthy"
        assert "planworker health" in " ".join(service["healthcheck"]["test"])
    seeded = [s for s in workers.values() if "PLANWORKER_SEED_FILE" in s["environment"]]
    assert [s["environment"]["PLANWORKER_SEED_FILE"] for s in seeded] == [
        "/etc/planworker/cbc-action-plan-2012-13.yaml"
    ]
    assert services["db"]["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db_password"
    assert "db_password" in compose["secrets"]
    for name in ("db", "mailpit"):
        assert services[name]["healthcheck"]["test"]
