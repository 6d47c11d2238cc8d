"""An item for a test's message, with everything the test does not care about left plain:
an overdue reminder to one lead, texts empty."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from worker.rules.digest import Contact, Item

_PLAIN = Item(
    key="lead@example.org|1|overdue|1|2012-09-21",
    section="overdue",
    kind="overdue",
    threshold=1,
    rule="overdue by 1 day",
    action_id=1,
    ref="WS1-01",
    work_stream_number=1,
    work_stream_title="",
    key_deliverable="",
    action_text="",
    description="",
    target_text="",
    due=date(2012, 9, 21),
    precision="day",
    recurrence="",
    days=-3,
    dependencies_text="",
    strategic_lead=Contact("", ""),
    leads=(),
    via=(),
    rag=None,
    state="not started",
)


def plain_item(**changes: Any) -> Item:
    return dataclasses.replace(_PLAIN, **changes)
