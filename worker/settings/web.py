"""The web settings ([web]): where the leads' page is served and the key its links are
signed with (docs/web.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from worker.errors import PlanworkerError
from worker.settings.sections import Section

# A signing key shorter than this is guessable: refused (`openssl rand -hex 32` gives 64).
MIN_KEY_LENGTH = 32
KEY_ENV = "PLANWORKER_WEB__SECRET_KEY_FILE"
# The board's shared password is typed by people: long enough not to be guessed online.
MIN_BOARD_SECRET = 16


class WebSettings(Section):
    # The public address of `planworker web` behind the council's HTTPS proxy, as leads'
    # links start: e.g. "https://actionplan.council.gov.uk". Empty: messages carry no link,
    # and `planworker web` and `planworker web link` refuse to start.
    base_url: str = ""
    # The file holding the key links are signed with (never the key itself in this file);
    # replacing the key invalidates every link sent so far.
    secret_key_file: Path | None = None
    # How long a lead's link works.
    link_days: int = Field(default=45, ge=1, le=366)
    # The file holding the board's shared password for GET/POST /board (docs/web.md); none:
    # the board's page opens only from a board member's signed link.
    board_secret_file: Path | None = None

    @field_validator("secret_key_file", "board_secret_file", mode="before")
    @classmethod
    def _unset(cls, value: object) -> object:
        # An empty variable (PLANWORKER_WEB__SECRET_KEY_FILE=) means no file, not the folder ".".
        return None if value == "" else value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (the address leads open)")
        return value

    def secret_key(self) -> str:
        """The signing key from secret_key_file; PlanworkerError naming the setting and the
        file when it is not set, unreadable or too short. The key itself is never shown."""
        path = self.secret_key_file
        if path is None:
            raise PlanworkerError(
                f"no signing key for links: set web.secret_key_file or {KEY_ENV} to a file "
                f"holding at least {MIN_KEY_LENGTH} random characters "
                "(e.g. `openssl rand -hex 32 > web-key.txt`)"
            )
        key = read_secret(path, "web.secret_key_file")
        if len(key) < MIN_KEY_LENGTH:
            raise PlanworkerError(
                f"web.secret_key_file {path}: the key is {len(key)} characters long; "
                f"use at least {MIN_KEY_LENGTH} random characters (`openssl rand -hex 32`)"
            )
        return key

    def board_secret(self) -> str | None:
        """The board's shared password from board_secret_file (None when not set);
        PlanworkerError when unreadable or shorter than MIN_BOARD_SECRET. Never shown."""
        path = self.board_secret_file
        if path is None:
            return None
        secret = read_secret(path, "web.board_secret_file")
        if len(secret) < MIN_BOARD_SECRET:
            raise PlanworkerError(
                f"web.board_secret_file {path}: the password is {len(secret)} characters "
                f"long; use at least {MIN_BOARD_SECRET} (e.g. four random words)"
            )
        return secret


def read_secret(path: Path, setting: str) -> str:
    """A secret file's text, stripped; PlanworkerError naming the setting and the file (never
    the contents) when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not a text file"
        raise PlanworkerError(f"{setting} {path}: {reason}") from None
