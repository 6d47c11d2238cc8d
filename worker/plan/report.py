"""Text for `plan show`, `plan check` and `plan import --diff` (and the dicts behind their
--json)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy.orm import Session

from worker.contacts import Directory
from worker.models import Plan
from worker.plan.check import KINDS, Report, check_plan
from worker.plan.data import PlanDoc
from worker.plan.dates import MonthDay
from worker.plan.due import read_action_dates
from worker.store.import_result import ImportResult
from worker.store.plan import load_plan


def _date(value: Any) -> str:
    return f"{value:%d %b %Y}" if value else "—"


def plan_summary(
    session: Session, plan: Plan, directory: Directory, month_day: MonthDay
) -> dict[str, Any]:
    doc = load_plan(session, plan)
    report = check_plan(doc, directory, month_day)
    precision: Counter[str] = Counter()
    recurrence: Counter[str] = Counter()
    streams: dict[int, dict[str, Any]] = {
        ws.number: {
            "number": ws.number,
            "title": ws.title,
            "phase": ws.phase,
            "strategic_lead": ws.strategic_lead,
            "actions": 0,
            "first_due": None,
            "last_due": None,
        }
        for ws in doc.work_streams
    }
    for action in doc.actions:
        dates = read_action_dates(action.start, action.target, month_day)
        precision[dates.precision if dates.readable else "unreadable"] += 1
        recurrence[str(dates.recurrence) if dates.recurrence else "once"] += 1
        entry = streams[action.work_stream]
        entry["actions"] += 1
        if dates.due:
            earliest = dates.first_due or dates.due  # a milestone comes before its target
            entry["first_due"] = min(filter(None, (entry["first_due"], earliest)))
            entry["last_due"] = max(filter(None, (entry["last_due"], dates.due)))
    return {
        "plan": {
            "id": doc.info.slug,
            "title": doc.info.title,
            "organisation": doc.info.organisation,
            "timezone": doc.info.timezone,
            "phases": {str(k): v for k, v in doc.info.phases.items()},
        },
        "actions": len(doc.actions),
        "work_streams": list(streams.values()),
        "dates": {"precision": dict(precision), "recurrence": dict(recurrence)},
        "findings": report.as_json()["counts"],
        "rows": {
            "split": sum(1 for n in report.notes if n.kind == "row_split"),
            "kept_whole": sum(1 for n in report.notes if n.kind == "row_whole"),
        },
    }


def render_summary(summary: dict[str, Any]) -> str:
    plan = summary["plan"]
    lines = [
        f"{plan['title']} [{plan['id']}]",
        f"{plan['organisation']} · {summary['actions']} actions · time zone {plan['timezone']}",
    ]
    phase = None
    for ws in summary["work_streams"]:
        if ws["phase"] != phase:
            phase = ws["phase"]
            title = plan["phases"].get(str(phase), "")
            lines += ["", f"Phase {phase}" + (f": {title}" if title else "")]
        due = f"due {_date(ws['first_due'])} – {_date(ws['last_due'])}"
        lines.append(f"  {ws['number']:>2}. {ws['title']:<46} {ws['actions']:>3} actions  {due}")
        if ws["strategic_lead"]:
            lines.append(f"      strategic lead: {ws['strategic_lead']}")
    dates = summary["dates"]
    read = ", ".join(f"{n} {k}" for k, n in sorted(dates["precision"].items()))
    cycles = ", ".join(f"{n} {k}" for k, n in sorted(dates["recurrence"].items()))
    lines += [
        "",
        f"Target dates read: {read}",
        f"Recurrence: {cycles}",
        f"Rows with several items: {summary['rows']['split']} split into actions, "
        f"{summary['rows']['kept_whole']} kept whole (see plan check)",
        "",
        "Data-quality findings:",
    ]
    lines += [f"  {n:>3}  {KINDS[k]}" for k, n in summary["findings"].items()]
    if sum(summary["findings"].values()):
        lines.append("Run 'planworker plan check' for the details.")
    return "\n".join(lines)


def render_check(doc: PlanDoc, report: Report) -> str:
    lines = [f"Data-quality report for {doc.info.title} [{doc.info.slug}]"]
    for kind, found in report.by_kind().items():
        lines += ["", f"{KINDS[kind].capitalize()}: {len(found) or 'none'}"]
        lines += [f"  {f.subject}: {f.message}" for f in found]
    split = [n for n in report.notes if n.kind == "row_split"]
    whole = [n for n in report.notes if n.kind == "row_whole"]
    lines += [
        "",
        "How rows listing several items were read (docs/plan-data.md):",
        f"  split into one action per item: {len(split) or 'none'}",
    ]
    lines += [f"    {n.subject}: {n.message}" for n in split]
    lines.append(f"  kept whole, with several dates: {len(whole) or 'none'}")
    lines += [f"    {n.subject}: {n.message}" for n in whole]
    total = len(report.findings)
    lines += ["", f"{total} finding(s)." if total else "No findings."]
    return "\n".join(lines)


def diff_json(result: ImportResult, refused: str | None) -> dict[str, Any]:
    """What `plan import --diff` found: each action the import would add, change, archive."""
    changes = result.changes
    assert changes is not None, "the import was not asked to list its changes"
    return {
        "plan": result.plan,
        "new_plan": result.created_plan,
        "add": changes.added,
        "change": [{"id": ref, "fields": fields} for ref, fields in changes.changed.items()],
        "archive": changes.archived,
        "unchanged": result.unchanged,
        "needs_replace": refused,
        "warnings": result.warnings,
    }


def render_diff(diff: dict[str, Any]) -> str:
    plan = diff["plan"] + (" (a new plan)" if diff["new_plan"] else "")
    lines = [
        f"plan {plan}: the import would add {len(diff['add'])}, change "
        f"{len(diff['change'])} and archive {len(diff['archive'])} actions "
        f"({diff['unchanged']} unchanged); nothing was written"
    ]
    lines += [f"  add      {ref}" for ref in diff["add"]]
    lines += [f"  change   {c['id']}: {', '.join(c['fields'])}" for c in diff["change"]]
    lines += [f"  archive  {ref}" for ref in diff["archive"]]
    if diff["needs_replace"]:
        lines.append(f"refused without --replace: {diff['needs_replace']}")
    return "\n".join(lines)
