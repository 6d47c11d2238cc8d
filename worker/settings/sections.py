"""The policy sections of the settings: dates, reminders, RAG, escalation and the digest."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from worker.rules.digest import LISTED_ESCALATIONS, LISTED_IN_FULL
from worker.rules.stages import ReminderPolicy

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_Plain = TypeVar("_Plain", bound="DataclassInstance")


class Section(BaseModel):
    """One [table] of the config file: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")

    def as_dataclass(self, kind: type[_Plain], **given: Any) -> _Plain:
        """The plain-data `kind` (a dataclass: a rules' policy, a mailer's config) built from
        this section's values of the same names; `given` supplies (or converts) the others."""
        names = [f.name for f in dataclasses.fields(kind) if f.name not in given]
        return kind(**{name: getattr(self, name) for name in names}, **given)


class DateSettings(Section):
    # What a month-only date ("Sept 2012") means: its last day (default) or its first.
    month_day: Literal["end", "start"] = "end"


class ReminderSettings(Section):
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
    # A lead's message describes this many of their actions in full, the most pressing
    # first; it names the rest by reference, and the lead's page has them all.
    listed_in_full: int = Field(default=LISTED_IN_FULL, ge=1, le=1000)
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
        return self.as_dataclass(ReminderPolicy, before_days=tuple(self.before_days))


class RagSettings(Section):
    # A derived RAG from the dates, shown beside the reported one; the dates can only make a
    # report worse (docs/escalation.md). Overdue by more than this many days is Red, less is
    # Amber.
    red_after_overdue_days: int = Field(default=0, ge=0, le=366)
    # Opt-in (the legend leaves Amber to the lead): not completed with the target this close
    # is Amber; 0: never.
    amber_within_days: int = Field(default=0, ge=0, le=366)
    # Opt-in: still "not started" after its start date is Amber.
    amber_when_start_passed: bool = False


class EscalationSettings(Section):
    # Level 2: a work stream's strategic lead hears about each of its actions that is Amber
    # or Red, or overdue by more than `overdue_days`, every `repeat_every_days` while it stays so.
    to_strategic_leads: bool = True
    overdue_days: int = Field(default=14, ge=0, le=366)
    repeat_every_days: int = Field(default=7, ge=1, le=366)
    # When an action turns Red (or its lead reports Red), its strategic lead is told at once;
    # the board reads it in its next digest, or at once too with `red_alert_to_board`.
    red_alert: bool = True
    red_alert_to_board: bool = False
    # Leads first: working days a lead has, after their first reminder about an action, to
    # report before it goes above them (a lead's own Amber or Red report goes up at once).
    grace_days: int = Field(default=5, ge=0, le=366)
    # A strategic lead's message describes this many escalations in full, Red alerts first,
    # the most overdue next; it names the rest by reference.
    listed_in_full: int = Field(default=LISTED_ESCALATIONS, ge=1, le=1000)


class DigestSettings(Section):
    # The board digest's day of the week (for `planworker simulate`; the service's schedule
    # is set with the jobs).
    weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday"] = "monday"
    # A digest whose date is a bank holiday or closure day is skipped (the next one reports
    # everything that changed since the last one sent); true: it goes out on those days too.
    on_holidays: bool = False
    # An action its lead has reported Red for this many weeks or more is listed under "Needs
    # the board" in every digest until it is no longer Red (0: never).
    long_red_weeks: int = Field(default=4, ge=0, le=104)
    # Where board members read the full report (`planworker report` published on the
    # intranet): the digest links to it. Empty: the digest says to run `planworker report`.
    report_url: str = ""


class RequestSettings(Section):
    # Status-return requests (`planworker request`, docs/web.md): each lead with open actions
    # is asked for a return this many working days before the board digest's morning...
    days_before_digest: int = Field(default=3, ge=1, le=20)
    # ...and a lead who has not returned this many working days after the request gets one
    # chaser (before the digest).
    chase_after_days: int = Field(default=2, ge=1, le=20)
