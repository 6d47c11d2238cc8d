"""Configuration: a commented TOML file (config/planworker.toml) plus PLANWORKER_* variables.

Precedence: environment variables over the file over built-in defaults. Nested keys use "__"
in variable names (PLANWORKER_DATES__MONTH_DAY=start). Every problem names the file or the
variable, the key and the reason, and stops start-up.
"""

from __future__ import annotations

import copy
import difflib
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from worker.contacts import check_address, check_name
from worker.errors import InputError, Problem
from worker.rules.escalation import EscalationPolicy
from worker.rules.rag import RagPolicy
from worker.rules.stages import ReminderPolicy
from worker.tomlfile import read_toml

ENV_PREFIX = "PLANWORKER_"
DEFAULT_SEND_DEADLINE = 180.0  # seconds; see SmtpSettings.deadline_seconds
# Where a config file is looked for when neither --config nor PLANWORKER_CONFIG names one.
SEARCHED = (Path("config/planworker.toml"), Path("/etc/planworker/planworker.toml"))


@dataclass(frozen=True)
class ConfigSource:
    """Which config file was read, and how it was found (what `config check` reports)."""

    path: Path | None  # absolute; None: no file, built-in defaults and the environment only
    how: str


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DateSettings(_Section):
    # What a month-only date ("Sept 2012") means: its last day (default) or its first.
    month_day: Literal["end", "start"] = "end"


class ReminderSettings(_Section):
    # Days before the target date on which a lead is reminded, and whether on the day too.
    before_days: list[int] = Field(default=[14, 7, 1])
    on_the_day: bool = True
    # Overdue actions: reminded 1 day after the target, then every `every_days` days; once
    # `back_off_after_days` have passed (0 = never), every `back_off_every_days` instead.
    every_days: int = Field(default=7, ge=1)
    back_off_after_days: int = Field(default=28, ge=0)
    back_off_every_days: int = Field(default=28, ge=1)
    # The review cycle of "ongoing" and "Review <date>" actions whose text gives none.
    review_every_months: int = Field(default=3, ge=1, le=24)
    # Council closure days that are not bank holidays (weekends and England and Wales bank
    # holidays are never working days).
    closed_days: list[date] = Field(default=[])

    @field_validator("before_days")
    @classmethod
    def _before(cls, value: list[int]) -> list[int]:
        if any(day < 1 or day > 366 for day in value):
            raise ValueError("each must be a whole number of days from 1 to 366")
        return sorted(set(value), reverse=True)

    def policy(self) -> ReminderPolicy:
        return ReminderPolicy(
            before_days=tuple(self.before_days),
            on_the_day=self.on_the_day,
            every_days=self.every_days,
            back_off_after_days=self.back_off_after_days,
            back_off_every_days=self.back_off_every_days,
            review_every_months=self.review_every_months,
        )


class RagSettings(_Section):
    # A derived RAG from the dates and progress, shown beside the reported one; the worse of
    # the two counts. Overdue by more than this many days is Red, less is Amber.
    red_after_overdue_days: int = Field(default=0, ge=0, le=366)
    # Not completed with the target this close: Amber.
    amber_within_days: int = Field(default=7, ge=0, le=366)
    # Still "not started" after its start date: Amber.
    amber_when_start_passed: bool = True

    def policy(self) -> RagPolicy:
        return RagPolicy(
            red_after_overdue_days=self.red_after_overdue_days,
            amber_within_days=self.amber_within_days,
            amber_when_start_passed=self.amber_when_start_passed,
        )


class EscalationSettings(_Section):
    # Level 2: a work stream's strategic lead hears about each of its actions that is Amber
    # or Red, or overdue by more than `overdue_days`, every `repeat_every_days` while it stays so.
    to_strategic_leads: bool = True
    overdue_days: int = Field(default=14, ge=0, le=366)
    repeat_every_days: int = Field(default=7, ge=1, le=366)
    # When an action turns Red, its strategic lead and the board are told at once.
    red_alert: bool = True

    def policy(self) -> EscalationPolicy:
        return EscalationPolicy(
            to_strategic_leads=self.to_strategic_leads,
            overdue_days=self.overdue_days,
            repeat_every_days=self.repeat_every_days,
            red_alert=self.red_alert,
        )


class DigestSettings(_Section):
    # The board digest's day of the week (for `planworker simulate`; the service's schedule
    # is set with the jobs).
    weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday"] = "monday"
    # A digest whose date is a bank holiday or closure day is skipped (the next one reports
    # everything that changed since the last one sent); true: it goes out on those days too.
    on_holidays: bool = False


def check_cron(value: str) -> str:
    """A five-field cron expression ("0 7 * * mon-fri"); ValueError naming the problem."""
    from datetime import UTC, datetime

    from apscheduler.triggers.cron import CronTrigger

    from worker.schedule import crontab, weekday_numbers

    if len(value.split()) != 5:
        raise ValueError(
            f"{value!r} is not a cron expression: it needs five fields "
            "(minute hour day month weekday), e.g. '0 7 * * mon-fri'"
        )
    numbered = weekday_numbers(value)
    if numbered:
        raise ValueError(
            f"{value!r}: write the weekdays as names, e.g. 'mon-fri' or 'sun', not "
            f"{numbered!r}: numbers count from Monday = 0 here, not from Sunday as in cron, "
            "so '1-5' would mean Tuesday to Saturday"
        )
    try:
        parsed = CronTrigger.from_crontab(crontab(value), timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid cron expression: {exc}") from None
    # A job that can never run would fail silently for ever (31 June, 30 February).
    if parsed.get_next_fire_time(None, datetime(2000, 1, 1, tzinfo=UTC)) is None:
        raise ValueError(f"{value!r} names no date that exists: the job would never run")
    return value


class JobSettings(_Section):
    enabled: bool = True
    # When it runs: a cron expression in the service's time zone (minute hour day month
    # weekday). "0 7 * * mon-fri" is 07:00 every weekday.
    schedule: str

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        return check_cron(value)


class HeartbeatSettings(JobSettings):
    # A monitoring URL to GET after checking the service is healthy (healthchecks.io style).
    url: str = ""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


class JobsSettings(_Section):
    remind: JobSettings = JobSettings(schedule="0 7 * * mon-fri")
    escalate: JobSettings = JobSettings(schedule="15 7 * * mon-fri")
    digest: JobSettings = JobSettings(schedule="30 7 * * mon")
    # Sends what is waiting in the outbox (messages that failed for a passing reason).
    retry: JobSettings = JobSettings(schedule="*/10 * * * *")
    heartbeat: HeartbeatSettings = HeartbeatSettings(enabled=False, schedule="*/5 * * * *")


class ServiceSettings(_Section):
    # The time zone the schedules are in; empty: the plan's (Europe/London by default).
    timezone: str = ""
    # "text" for people, "json" for one JSON object per line (log collectors).
    log_format: Literal["text", "json"] = "text"
    # A job run that started this long ago and never finished (its worker died) may be
    # taken over by another worker.
    run_lease_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # `planworker health` fails when a job's run due this long ago has not succeeded.
    health_grace_minutes: int = Field(default=20, ge=1, le=24 * 60)
    # How many days after today --as-of may name, except with --dry-run: a run dated further
    # ahead would record as sent what real runs must still send (docs/security.md).
    as_of_horizon_days: int = Field(default=1, ge=0, le=31)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if value:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                raise ValueError(f"{value!r} is not a time zone (e.g. 'Europe/London')") from None
        return value


class MailSettings(_Section):
    # smtp: a mail server ([smtp] below); maildir: files in a Maildir folder any mail client
    # can open; console: printed to standard output.
    backend: Literal["smtp", "maildir", "console"] = "maildir"
    maildir: Path = Path("var/outbox")
    from_address: str = "planworker@example.org"
    from_name: str = "Action plan reminders"
    # Where replies go; empty: the plan administrator in the contacts directory.
    reply_to: str = ""
    # A message that keeps failing for a passing reason is retried with growing waits,
    # `retry_after_seconds` doubled each time, and given up after `max_attempts`.
    max_attempts: int = Field(default=8, ge=1, le=100)
    retry_after_seconds: int = Field(default=60, ge=0)
    # A message claimed by a worker that then died is sent again after this long.
    lease_seconds: int = Field(default=300, ge=1)
    # The largest message sent, in KiB (less when the server's SIZE says so): a longer
    # reminder is split into parts ("part 1 of 3"), each listing some of the actions.
    max_message_kb: int = Field(default=10240, ge=64, le=100 * 1024)

    @field_validator("from_address")
    @classmethod
    def _from(cls, value: str) -> str:
        return check_address(value)

    @field_validator("reply_to")
    @classmethod
    def _reply_to(cls, value: str) -> str:
        return check_address(value) if value.strip() else ""

    @field_validator("from_name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return check_name(value)  # one line of at most 200 characters, for the From: header


class SmtpSettings(_Section):
    host: str = "localhost"
    # Empty: 25 without TLS, 587 with STARTTLS, 465 with implicit TLS.
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: str = ""
    # Give the password in PLANWORKER_SMTP__PASSWORD or, better, a file readable only by
    # planworker (PLANWORKER_SMTP__PASSWORD_FILE, e.g. a container secret). Never logged.
    password: SecretStr = SecretStr("")
    password_file: Path | None = None
    timeout: float = Field(default=30.0, gt=0, le=600)
    # The longest one message's whole conversation with the server may take; past it the
    # connection is closed and the message retried later. Must be less than
    # mail.lease_seconds; empty: 180, or 90% of the lease when that is shorter.
    deadline_seconds: float | None = Field(default=None, gt=0, le=3600)
    # Certificates to trust for the server (PEM), e.g. a council's own CA; default: the system's.
    ca_file: Path | None = None
    # Logging in with security = "none" sends the password unencrypted: refused unless this
    # is set, for a relay on this machine or a network the council trusts.
    allow_plaintext_login: bool = False

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, value: Path | None) -> Path | None:
        try:
            is_file = value is None or value.is_file()
        except OSError as exc:  # a name too long for the file system, say
            raise ValueError(f"cannot use {value}: {exc.strerror}") from None
        if not is_file:
            raise ValueError(f"{value} is not a file")
        return value

    @model_validator(mode="after")
    def _no_plaintext_password(self) -> SmtpSettings:
        if self.security == "none" and self.username and not self.allow_plaintext_login:
            raise ValueError(
                'security = "none" with a username would send the password unencrypted: use '
                '"starttls" or "tls", or set allow_plaintext_login = true for a server on '
                "this machine or a trusted network"
            )
        return self

    @model_validator(mode="after")
    def _password_from_file(self) -> SmtpSettings:
        if self.password_file is None:
            return self
        if self.password.get_secret_value():
            raise ValueError("give password or password_file, not both")
        try:
            text = self.password_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"password_file {self.password_file}: {exc.strerror}") from None
        self.password = SecretStr(text.rstrip("\r\n"))
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    database_url: str = "sqlite:///var/planworker.db"
    contacts_file: Path = Path("config/contacts.toml")
    # The plan commands act on when the database holds several and --plan is not given.
    plan: str = ""
    dates: DateSettings = Field(default_factory=DateSettings)
    # An admin's templates folder: its files replace the shipped ones of the same name.
    templates_dir: Path | None = None
    reminders: ReminderSettings = Field(default_factory=ReminderSettings)
    rag: RagSettings = Field(default_factory=RagSettings)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    jobs: JobsSettings = Field(default_factory=JobsSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    mail: MailSettings = Field(default_factory=MailSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    _source: ConfigSource = PrivateAttr(default=ConfigSource(None, "not loaded from a file"))

    @property
    def source(self) -> ConfigSource:
        """The config file these settings were read from."""
        return self._source

    @field_validator("database_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError("must be a SQLAlchemy URL such as sqlite:///var/planworker.db")
        return value

    @property
    def send_deadline(self) -> float:
        """Seconds one message's conversation with the mail server may take."""
        if self.smtp.deadline_seconds is not None:
            return self.smtp.deadline_seconds
        return min(DEFAULT_SEND_DEADLINE, 0.9 * self.mail.lease_seconds)

    @model_validator(mode="after")
    def _deadline_within_lease(self) -> Settings:
        # A send that could outlast its claim would let a second worker send it too.
        if self.send_deadline >= self.mail.lease_seconds:
            raise ValueError(
                f"smtp.deadline_seconds ({self.send_deadline:g}) must be less than "
                f"mail.lease_seconds ({self.mail.lease_seconds}): a message still being sent "
                "when its lease runs out is sent again by another worker"
            )
        return self

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


# Settings that name files: written in a config file, they are relative to that file's folder,
# so a site's folder works wherever planworker is started from; given in the environment,
# they are relative to the current folder, as anything typed in a shell is.
_PATH_KEYS: tuple[tuple[str, ...], ...] = (
    ("contacts_file",),
    ("templates_dir",),
    ("mail", "maildir"),
    ("smtp", "ca_file"),
    ("smtp", "password_file"),
)
_DEFAULT_PATHS: dict[tuple[str, ...], str] = {
    ("database_url",): "sqlite:///var/planworker.db",
    ("contacts_file",): "contacts.toml",  # beside the config file
    ("mail", "maildir"): "var/outbox",
}


def _sqlite_url_in(folder: Path, url: str) -> str:
    """A SQLite URL whose relative file name is taken as relative to `folder`."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # a bad URL is reported by the validator, as the admin wrote it
        return url
    database = parsed.database
    if (
        parsed.get_backend_name() != "sqlite"
        or not database
        or database == ":memory:"
        or database.startswith("file:")
        or Path(database).is_absolute()
    ):
        return url
    return parsed.set(database=os.path.normpath(folder / database)).render_as_string(
        hide_password=False
    )


def _parent(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any] | None:
    """The table holding keys[-1], created when absent; None if a non-table is in the way."""
    table = data
    for key in keys[:-1]:
        inner = table.setdefault(key, {})
        if not isinstance(inner, dict):
            return None  # the validator names the key
        table = inner
    return table


def _resolve_paths(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The file's data with its relative paths (and the defaults') made absolute in `folder`."""
    resolved = copy.deepcopy(data)
    for keys, default in _DEFAULT_PATHS.items():
        table = _parent(resolved, keys)
        if table is not None:
            table.setdefault(keys[-1], default)
    if isinstance(resolved["database_url"], str):
        resolved["database_url"] = _sqlite_url_in(folder, resolved["database_url"])
    for keys in _PATH_KEYS:
        table = _parent(resolved, keys)
        value = table.get(keys[-1]) if table is not None else None
        if table is not None and isinstance(value, str) and value and not Path(value).is_absolute():
            # Normalised, so messages say /site/var/outbox, not /site/config/../var/outbox.
            table[keys[-1]] = os.path.normpath(folder / value)
    return resolved


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
        data = _resolve_paths(data, resolved.parent)
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
    settings._source = source
    return settings
