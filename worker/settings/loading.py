"""Finding the config file and loading it with the environment: every problem names where."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from worker.errors import InputError, Problem
from worker.settings.model import ENV_PREFIX, ConfigSource, Settings
from worker.settings.paths import resolve_paths
from worker.tomlfile import read_toml

# Where a config file is looked for when neither --config nor PLANWORKER_CONFIG names one.
SEARCHED = (Path("config/planworker.toml"), Path("/etc/planworker/planworker.toml"))


def _absolute(path: Path) -> Path:
    # Normalised ("a/../b" is "b") without resolving symlinks: the admin's own spelling.
    return Path(os.path.abspath(path))


def config_path(explicit: Path | None) -> ConfigSource:
    """--config, else PLANWORKER_CONFIG, else the first of SEARCHED that exists."""
    if explicit is not None:
        return ConfigSource(_absolute(explicit), "--config")
    from_env = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if from_env:
        return ConfigSource(_absolute(Path(from_env)), f"{ENV_PREFIX}CONFIG")
    for candidate in SEARCHED:
        if candidate.is_file():
            return ConfigSource(_absolute(candidate), f"found as {candidate}")
    looked = ", ".join(str(place) for place in SEARCHED)
    return ConfigSource(None, f"no config file (looked for --config, {ENV_PREFIX}CONFIG, {looked})")


def _env_name(loc: tuple[int | str, ...]) -> str:
    return ENV_PREFIX + "__".join(str(part).upper() for part in loc)


def _known_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def _problem(error: Any) -> tuple[str, Problem]:
    loc = tuple(error["loc"])
    key = ".".join(str(part) for part in loc)
    reason = error["msg"]
    if error["type"] == "extra_forbidden":
        close = difflib.get_close_matches(str(loc[-1]), _known_keys(Settings, loc), n=1)
        reason = "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
    # The environment overrides the file, so a variable that is set supplied the bad value.
    if _env_name(loc) in os.environ:
        return _env_name(loc), Problem("", reason)
    return "", Problem(key, reason)


# Variables with our prefix that are not settings: the config path and the test suite's own.
_NOT_SETTINGS = ("CONFIG", "TEST_", "SEED_FILE")


def _unknown_variables() -> list[Problem]:
    problems = []
    for name in sorted(os.environ):
        rest = name[len(ENV_PREFIX) :]
        if not name.startswith(ENV_PREFIX) or rest.startswith(_NOT_SETTINGS):
            continue
        top = rest.split("__")[0].lower()
        if top not in Settings.model_fields:
            close = difflib.get_close_matches(top, list(Settings.model_fields), n=1)
            hint = f" (did you mean {_env_name((close[0],))}?)" if close else ""
            problems.append(Problem(name, f"not a planworker setting{hint}"))
    return problems


def load_settings(path: Path | None = None) -> Settings:
    """Settings from the config file (see `config_path`) and the environment."""
    unknown = _unknown_variables()
    if unknown:
        raise InputError("environment", unknown)
    source = config_path(path)
    resolved = source.path
    data = read_toml(resolved, "config file") if resolved else {}
    # BaseSettings takes "_env_file", "_cli_parse_args"... as arguments that change how it
    # loads: a file must not reach them (nor clash with "__pydantic_self__").
    private = [Problem(key, "unknown key") for key in data if key.startswith("_")]
    if private:
        raise InputError(str(resolved), private)
    if resolved is not None:
        data = resolve_paths(data, resolved.parent)
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        by_source: dict[str, list[Problem]] = {}
        for error in exc.errors():
            env, problem = _problem(error)
            by_source.setdefault(env or str(resolved or "configuration"), []).append(problem)
        source_name, problems = next(iter(by_source.items()))
        extra = [Problem(src, str(p)) for src, ps in list(by_source.items())[1:] for p in ps]
        raise InputError(source_name, problems + extra) from None
    settings.record_source(source)
    return settings
