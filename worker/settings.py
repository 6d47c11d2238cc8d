"""Configuration: a commented TOML file (config/planworker.toml) plus PLANWORKER_* variables.

Precedence: environment variables over the file over built-in defaults. Nested keys use "__"
in variable names (PLANWORKER_DATES__MONTH_DAY=start). Every problem names the file or the
variable, the key and the reason, and stops start-up.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from worker.errors import InputError, Problem
from worker.tomlfile import read_toml

ENV_PREFIX = "PLANWORKER_"
DEFAULT_CONFIG = Path("config/planworker.toml")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DateSettings(_Section):
    # What a month-only date ("Sept 2012") means: its last day (default) or its first.
    month_day: Literal["end", "start"] = "end"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    database_url: str = "sqlite:///var/planworker.db"
    contacts_file: Path = Path("config/contacts.toml")
    # The plan commands act on when the database holds several and --plan is not given.
    plan: str = ""
    dates: DateSettings = Field(default_factory=DateSettings)

    @field_validator("database_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError("must be a SQLAlchemy URL such as sqlite:///var/planworker.db")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values arrive as init arguments; the environment overrides them.
        return (env_settings, init_settings)


def config_path(explicit: Path | None) -> Path | None:
    """--config, else PLANWORKER_CONFIG, else config/planworker.toml if it exists."""
    if explicit is not None:
        return explicit
    from_env = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if from_env:
        return Path(from_env)
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


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
_NOT_SETTINGS = ("CONFIG", "TEST_")


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
    resolved = config_path(path)
    data = read_toml(resolved, "config file") if resolved else {}
    try:
        return Settings(**data)
    except ValidationError as exc:
        by_source: dict[str, list[Problem]] = {}
        for error in exc.errors():
            env, problem = _problem(error)
            by_source.setdefault(env or str(resolved or "configuration"), []).append(problem)
        source, problems = next(iter(by_source.items()))
        extra = [Problem(src, str(p)) for src, ps in list(by_source.items())[1:] for p in ps]
        raise InputError(source, problems + extra) from None
