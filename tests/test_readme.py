"""The README's promises: its test command is the one CI runs."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def _readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", text, flags=re.DOTALL)


def _commands() -> list[str]:
    """The set-up commands: the shell blocks of the "Two commands" section."""
    section = _readme().split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return _blocks(section)


def test_readme_has_exactly_two_setup_commands() -> None:
    commands = _commands()
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)
    # Every other example uses what those two installed; none installs anything itself.
    others = [b for b in _blocks(_readme()) if b not in commands]
    assert not [b for b in others if "pip install" in b or "-m venv" in b]


def test_ci_runs_the_readme_test_command_word_for_word() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _commands()[1] in ci.splitlines()


def test_readme_first_command_imports_the_shipped_seed() -> None:
    first = _commands()[0]
    seed = re.search(r"plan import (\S+)", first)
    assert seed and (ROOT / seed.group(1)).is_file()
