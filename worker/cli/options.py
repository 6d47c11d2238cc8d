"""The options and argument types that several commands share."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

import click

# What click's decorators take and give back: a command's function, or the command.
F = TypeVar("F", bound=Callable[..., Any])

plan_option = click.option(
    "--plan",
    "plan_slug",
    metavar="NAME",
    help="The plan to act on (needed only when the database holds several).",
)
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print a machine-readable summary."
)


dry_run_option = click.option(
    "--dry-run", is_flag=True, help="Render and list what would be sent; send and record nothing."
)


class Day(click.DateTime):
    """A YYYY-MM-DD date within the years planworker works in: the day arithmetic of a run
    (stages, reviews, a simulation's days) would overflow near the year 9999."""

    name = "date"
    first, last = date(1900, 1, 1), date(2999, 12, 31)

    def __init__(self) -> None:
        super().__init__(formats=["%Y-%m-%d"])

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        day = super().convert(value, param, ctx)
        if not self.first <= day.date() <= self.last:
            self.fail(
                f"{day:%Y-%m-%d} is outside the dates planworker works with "
                f"({self.first:%Y-%m-%d} to {self.last:%Y-%m-%d})",
                param,
                ctx,
            )
        return day


def day_option(flag: str, dest: str, help_text: str, *, required: bool = False) -> Callable[[F], F]:
    """An option that takes a date (Day)."""
    return click.option(
        flag, dest, required=required, type=Day(), metavar="YYYY-MM-DD", help=help_text
    )


as_of_option = day_option(
    "--as-of", "as_of", "The date to act as of (default: today in the plan's time zone)."
)
