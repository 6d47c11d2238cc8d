"""planworker as users install it: `pip install .`, then run from a folder of their own.

The wheel must carry the templates, the example config and contacts and the seed plan; the
source tree must not be needed. The slow test builds the wheel, unpacks it into a folder of
its own and runs the README's new-site commands from an empty folder with that copy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEED, Cli


def source_tree_reminders(workdir: Path) -> int:
    """How many lead reminders the source tree plans for the seed on 24 September 2012: the
    installed package must send the same (tests/test_remind.py says what is in them)."""
    cli = Cli(f"sqlite:///{workdir / 'source.db'}", workdir)
    cli("db", "upgrade")
    cli("plan", "import", str(SEED))
    planned = json.loads(cli("remind", "--as-of", "2012-09-24", "--dry-run", "--json").stdout)
    return len(planned["messages"])


def _declared_packages() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return set(config["tool"]["setuptools"]["packages"])


def test_every_source_package_is_declared_for_the_wheel() -> None:
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "worker").rglob("__init__.py")
    }
    missing = found - _declared_packages()
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANWORKER_")}
    return {**env, **extra}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        env=_clean_env(),
    )  # fmt: skip
    (built,) = out.glob("planworker-*.whl")
    return built


@pytest.mark.slow
def test_the_wheel_carries_templates_config_contacts_and_seed(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = [
        "worker/templates/reminder/body.html",
        "worker/templates/reminder/body.txt",
        "worker/templates/reminder/subject.txt",
        "worker/templates/digest/body.html",
        "worker/config/planworker.toml",
        "worker/config/contacts.toml",
        "worker/seed/cbc-action-plan-2012-13.yaml",
        "worker/migrations/versions/0001_initial.py",
    ]
    assert [name for name in shipped if name not in names] == []
    for folder in ("templates", "seed"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file():
                assert f"worker/{path.relative_to(ROOT).as_posix()}" in names


@pytest.mark.slow
def test_an_installed_planworker_starts_a_site_from_an_empty_folder(
    wheel: Path, tmp_path: Path
) -> None:
    site_packages = tmp_path / "installed"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
         str(site_packages), str(wheel)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    empty = tmp_path / "empty"
    empty.mkdir()
    # Only the unpacked wheel is on the path before the installed dependencies: nothing of
    # the checkout (the test runs from another folder, and -P drops the script's folder).
    env = _clean_env(PYTHONPATH=str(site_packages))

    def planworker(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-P", "-m", "worker", *args],
            cwd=empty,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    where = subprocess.run(
        [sys.executable, "-P", "-c", "import worker; print(worker.__file__)"],
        cwd=empty, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert Path(where.strip()).is_relative_to(site_packages)

    planworker("init", "site")
    config = ["--config", "site/planworker.toml"]
    planworker(*config, "db", "upgrade")
    planworker(*config, "plan", "import", "site/cbc-action-plan-2012-13.yaml")
    planworker(*config, "remind", "--as-of", "2012-09-24")

    sent = list((empty / "site" / "var" / "outbox" / "new").iterdir())
    assert len(sent) == source_tree_reminders(tmp_path) > 10
    assert sorted(p.name for p in empty.iterdir()) == ["site"]
