"""The settings model: every key of the config file, its default and its checks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, PrivateAttr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from worker.settings.mail import MailSettings, SmtpSettings
from worker.settings.sections import (
    DateSettings,
    DigestSettings,
    EscalationSettings,
    RagSettings,
    ReminderSettings,
    RequestSettings,
)
from worker.settings.service import JobsSettings, ServiceSettings
from worker.settings.web import WebSettings

ENV_PREFIX = "PLANWORKER_"
DEFAULT_SEND_DEADLINE = 180.0  # seconds; see SmtpSettings.deadline_seconds


@dataclass(frozen=True)
class ConfigSource:
    """Which config file was read, and how it was found (what `config check` reports)."""

    path: Path | None  # absolute; None: no file, built-in defaults and the environment only
    how: str


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
    web: WebSettings = Field(default_factory=WebSettings)
    requests: RequestSettings = Field(default_factory=RequestSettings)
    _source: ConfigSource = PrivateAttr(default=ConfigSource(None, "not loaded from a file"))

    @property
    def source(self) -> ConfigSource:
        """The config file these settings were read from."""
        return self._source

    def record_source(self, source: ConfigSource) -> None:
        """Note which config file these settings were read from (see `source`)."""
        self._source = source

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
