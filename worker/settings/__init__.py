"""Configuration: a commented TOML file (config/planworker.toml) plus PLANWORKER_* variables.

Precedence: environment variables over the file over built-in defaults. Nested keys use "__"
in variable names (PLANWORKER_DATES__MONTH_DAY=start). Every problem names the file or the
variable, the key and the reason, and stops start-up.

`model` holds the settings as a whole, `sections`, `service` and `mail` its tables, `paths`
how file names in a config file are read and `loading` how the file is found and read.
"""

from worker.settings.loading import config_path, load_settings
from worker.settings.mail import MailSettings, SmtpSettings
from worker.settings.model import DEFAULT_SEND_DEADLINE, ENV_PREFIX, ConfigSource, Settings
from worker.settings.sections import (
    DateSettings,
    DigestSettings,
    EscalationSettings,
    RagSettings,
    ReminderSettings,
)
from worker.settings.service import (
    HeartbeatSettings,
    JobSettings,
    JobsSettings,
    ServiceSettings,
    check_cron,
)
from worker.settings.web import WebSettings

__all__ = [
    "DEFAULT_SEND_DEADLINE",
    "ENV_PREFIX",
    "ConfigSource",
    "DateSettings",
    "DigestSettings",
    "EscalationSettings",
    "HeartbeatSettings",
    "JobSettings",
    "JobsSettings",
    "MailSettings",
    "RagSettings",
    "ReminderSettings",
    "ServiceSettings",
    "Settings",
    "SmtpSettings",
    "WebSettings",
    "check_cron",
    "config_path",
    "load_settings",
]
