"""The data-quality report behind `planworker plan check` (pure).

Findings are things an admin should fix before reminders rely on them. Notes record how
multi-item rows became actions (the split rule in split.py), so the choice is visible.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date

from worker.contacts import Directory
from worker.plan.data import ActionData, PlanDoc
from worker.plan.dates import MonthDay, ReadDate
from worker.plan.due import ActionDates, read_action_dates
from worker.plan.split import action_shape

KINDS = {
    "no_lead": "actions with no lead",
    "no_target": "actions with no target date",
    "unreadable_date": "dates that cannot be read",
    "target_before_start": "target dates before start dates",
    "no_contact": "lead roles with no contact in the directory",
    "dependency_nowhere": "dependencies that point nowhere",
}


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    subject: str  # an action ID or a role name
    message: str
    work_stream: int | None = None


@dataclass(frozen=True, slots=True)
class Report:
    findings: tuple[Finding, ...]
    notes: tuple[Finding, ...]

    def by_kind(self) -> dict[str, list[Finding]]:
        grouped: dict[str, list[Finding]] = {kind: [] for kind in KINDS}
        for finding in self.findings:
            grouped[finding.kind].append(finding)
        return grouped

    def as_json(self) -> dict[str, object]:
        return {
            "findings": [asdict(f) for f in self.findings],
            "counts": {kind: len(found) for kind, found in self.by_kind().items()},
            "rows": [asdict(n) for n in self.notes],
        }


def _fmt(read: ReadDate) -> str:
    return f"{read.text!r} (read as {read.due:%d %b %Y})" if read.due else repr(read.text)


def _date_findings(action: ActionData, dates: ActionDates) -> Iterable[Finding]:
    ws = action.work_stream
    if not dates.targets:
        yield Finding("no_target", action.ref, "the Target End Date cell is empty", ws)
    for read in dates.unreadable:
        yield Finding(
            "unreadable_date", action.ref, f"cannot read {read.text!r}; kept as written", ws
        )
    yield from _before_start(action, dates)


def _before_start(action: ActionData, dates: ActionDates) -> Iterable[Finding]:
    held = (
        "; held back from overdue reminders and Red until it is corrected in the plan or "
        f"confirmed with `planworker status set {action.ref} --confirm-date`"
        if dates.before_start
        else ""
    )
    if len(dates.starts) == len(dates.targets):
        pairs = list(zip(dates.starts, dates.targets, strict=True))
    elif dates.start and dates.due:
        pairs = [
            (
                min((s for s in dates.starts if s.due), key=_due),
                max((t for t in dates.targets if t.due), key=_due),
            )
        ]
    else:
        pairs = []
    for start, target in pairs:
        if start.due and target.due and target.due < start.due:
            yield Finding(
                "target_before_start",
                action.ref,
                f"target {_fmt(target)} is before start {_fmt(start)}{held}",
                action.work_stream,
            )


def _due(read: ReadDate) -> date:
    assert read.due is not None
    return read.due


def _lead_findings(action: ActionData) -> Iterable[Finding]:
    if not action.lead_roles:
        yield Finding(
            "no_lead", action.ref, "no lead is named, so no one can be reminded", action.work_stream
        )


def _contact_findings(doc: PlanDoc, directory: Directory) -> Iterable[Finding]:
    users: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for action in doc.actions:
        for role in action.lead_roles:
            if directory.find(role) is None:
                key = role.casefold()
                names.setdefault(key, role)
                users.setdefault(key, []).append(action.ref)
    for key, refs in users.items():
        shown = ", ".join(refs[:5]) + (f" and {len(refs) - 5} more" if len(refs) > 5 else "")
        yield Finding(
            "no_contact",
            names[key],
            f"lead of {shown}; add it (or an alias) to the contacts directory",
        )
    for ws in doc.work_streams:
        if ws.strategic_lead and directory.find(ws.strategic_lead) is None:
            yield Finding(
                "no_contact",
                ws.strategic_lead,
                f"strategic lead of work stream {ws.number}",
                ws.number,
            )


def key_deliverable_numbers(label: str) -> set[int]:
    """The numbers a Key Del label names: "1, 2, 3, 4" -> {1, 2, 3, 4}; "5 & 6." -> {5, 6}."""
    return {int(n) for n in re.findall(r"\d+", label)}


def _dependency_findings(doc: PlanDoc) -> Iterable[Finding]:
    deliverables: dict[int, set[int]] = {ws.number: set() for ws in doc.work_streams}
    for ws in doc.work_streams:
        deliverables[ws.number] |= {int(o.number) for o in ws.outcomes if o.number.isdigit()}
    for action in doc.actions:
        deliverables.setdefault(action.work_stream, set()).update(
            key_deliverable_numbers(action.key_deliverable)
        )
    for action in doc.actions:
        for ref in action.depends_on:
            if ref.work_stream not in deliverables:
                reason = f"there is no work stream {ref.work_stream}"
            elif (
                ref.key_deliverable is not None
                and ref.key_deliverable not in deliverables[ref.work_stream]
            ):
                reason = (
                    f"work stream {ref.work_stream} has no key deliverable {ref.key_deliverable}"
                )
            else:
                continue
            yield Finding(
                "dependency_nowhere",
                action.ref,
                f"depends on {ref} ({action.dependencies!r}), but {reason}",
                action.work_stream,
            )


def _row_notes(doc: PlanDoc, month_day: MonthDay) -> Iterable[Finding]:
    """How each row listing several dates became actions (the split rule in split.py)."""
    groups: dict[str, list[ActionData]] = {}
    for action in doc.actions:
        groups.setdefault(action.row_ref or action.ref, []).append(action)
    for row_ref, members in groups.items():
        first = members[0]
        if len(members) > 1:
            refs = ", ".join(a.ref for a in members)
            yield Finding(
                "row_split",
                row_ref,
                f"split into {len(members)} actions ({refs}): "
                "its descriptions and target dates line up one to one",
                first.work_stream,
            )
            continue
        shape = action_shape(first)
        if shape.several_dates:
            dates = read_action_dates(first.start, first.target, month_day)
            due = f"{dates.due:%d %b %Y}" if dates.due else "no date"
            leads = len(first.lead_roles)
            milestones = (
                f", with a milestone reminded on each of its {len(dates.milestones)} dates"
                if dates.milestones
                else ""
            )
            yield Finding(
                "row_whole",
                row_ref,
                f"{shape.describe()}: one action due on its "
                f"latest target date, {due}{milestones}; all {leads} lead role(s) reminded",
                first.work_stream,
            )


def check_plan(
    doc: PlanDoc,
    directory: Directory,
    month_day: MonthDay,
    confirmed: frozenset[str] = frozenset(),
) -> Report:
    """The findings and row notes; `confirmed`: refs whose dates an admin has confirmed, so
    a target before their start is no longer a finding."""
    findings: list[Finding] = []
    for action in doc.actions:
        findings += _lead_findings(action)
        findings += (
            f
            for f in _date_findings(
                action, read_action_dates(action.start, action.target, month_day)
            )
            if not (f.kind == "target_before_start" and action.ref in confirmed)
        )
    findings += _contact_findings(doc, directory)
    findings += _dependency_findings(doc)
    order = list(KINDS)
    findings.sort(key=lambda f: order.index(f.kind))
    return Report(tuple(findings), tuple(_row_notes(doc, month_day)))
