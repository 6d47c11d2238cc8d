"""The project board's escalation digest as an email (subject, text, HTML with inlined CSS)
and as board papers (a printable HTML page, Markdown and CSV), all from the same view
(board_context.py). No clock and no network: the same BoardDigest always renders the same.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime

import jinja2

from worker.io.cells import csv_safe as guard_formula
from worker.mail.board_context import (
    ActionLine,
    RagSection,
    change_groups,
    headline,
    phase_title,
    rag_sections,
    rag_word,
    template_context,
)
from worker.mail.exception_context import exception_context
from worker.mail.filters import longdate
from worker.mail.headers import one_line
from worker.mail.templating import Rendered, one_line_ending, render_email, render_template
from worker.moments import in_zone
from worker.plan.split import show_dates
from worker.rules.board import BoardDigest

TEMPLATE = "digest"
CSV_HEADINGS = (
    "Phase",
    "Work Stream",
    "ID",
    "Action",
    "Leads",
    "Target End Date",
    "Due",
    "Days Overdue",
    "Reported RAG",
    "Derived RAG",
    "Effective RAG",
    "Disagreement",
    "State",
    "Latest Note",
    "Note By",
    "Note Date",
    "At Risk From",
)
# Markdown punctuation that could start emphasis, code, a link or a table cell.
_MARKDOWN_SPECIAL = "\\`*_[]|#~"
_MARKDOWN_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def render_board_digest(env: jinja2.Environment, digest: BoardDigest) -> Rendered:
    """Render `digest/subject.txt`, `body.txt` and `body.html`; no calendar file.

    Raises TemplateError naming the template file and line.
    """
    context = template_context(digest, "email") | exception_context(digest)
    return render_email(env, TEMPLATE, context)


# --- Board papers ------------------------------------------------------------------------------


def report_html(env: jinja2.Environment, digest: BoardDigest) -> str:
    """The email's HTML body as a page for a browser and for printing. Its CSS stays in a
    <style> block (a file, not an email) with print rules added by the template."""
    return one_line_ending(
        render_template(env, f"{TEMPLATE}/report.html", template_context(digest, "report"))
    )


def md_cell(value: object) -> str:
    """Text safe in Markdown, table cells included: one line, punctuation that would format
    or split a cell backslash-escaped, and HTML's own characters as entities."""
    out = []
    for ch in one_line(value):
        if ch in _MARKDOWN_ENTITIES:
            out.append(_MARKDOWN_ENTITIES[ch])
        elif ch in _MARKDOWN_SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _md_row(cells: Iterable[object]) -> str:
    return "| " + " | ".join(md_cell(c) for c in cells) + " |"


def _md_table(headings: Sequence[str], rows: Iterable[Sequence[object]], right: int) -> list[str]:
    # The last `right` columns hold numbers: right-aligned.
    rule = ["---"] * (len(headings) - right) + ["--:"] * right
    return [_md_row(headings), "| " + " | ".join(rule) + " |", *(_md_row(r) for r in rows)]


def _md_summary(digest: BoardDigest) -> list[str]:
    rows = [
        [f"WS{s.number} {s.title}", s.green, s.amber, s.red, s.none, s.total]
        for s in digest.streams
    ]
    headings = ["Work stream", "Green", "Amber", "Red", "Not reported", "Total"]
    return ["## RAG by work stream", "", *_md_table(headings, rows, right=5)]


def _md_changes(digest: BoardDigest) -> list[str]:
    if digest.previous is None:
        return ["## Changes", "", "First digest: there is no earlier digest to compare with."]
    lines = [f"## What changed since {md_cell(longdate(digest.previous))}", ""]
    groups = change_groups(digest)
    if not groups:
        return [*lines, "No changes."]
    for group in groups:
        lines += [f"### {group.title} ({len(group.changes)})", ""]
        lines += [
            f"- {md_cell(c.change.ref)} (work stream {c.change.work_stream_number}): "
            f"{md_cell(c.change.action_text)} — {md_cell(c.what)}"
            for c in group.changes
        ]
        lines.append("")
    return lines[:-1]


_MD_ACTION_HEADINGS = (
    "Ref",
    "Work stream",
    "Action",
    "Leads",
    "Target",
    "Days overdue",
    "Reported",
    "Derived",
    "Note",
)


def _md_note(a: ActionLine) -> str:
    note = one_line(a.view.latest_note)
    if not note:
        return "No notes yet"
    by = ", ".join(part for part in (a.note_by, a.note_when) if part)
    return f"{note} ({by})" if by else note


def _md_action(a: ActionLine) -> list[object]:
    v = a.view
    what = f"{a.what} — At risk: {a.at_risk}" if a.at_risk else a.what
    derived = f"{a.derived} ({v.disagreement})" if v.disagreement else a.derived
    return [
        v.ref,
        f"WS{v.work_stream_number} {v.work_stream_title}",
        what,
        a.leads,
        a.target,
        v.days_overdue,
        a.reported,
        derived,
        _md_note(a),
    ]


def _md_section(section: RagSection) -> list[str]:
    lines = [f"## {section.title} ({section.count})", ""]
    if not section.phases:
        return [*lines, f"No {section.title.split()[0]} actions."]
    for phase in section.phases:
        rows = [_md_action(a) for stream in phase.streams for a in stream.actions]
        lines += [f"### Phase {phase.number}: {md_cell(phase.title)}", ""]
        lines += [*_md_table(_MD_ACTION_HEADINGS, rows, right=0), ""]
    return lines[:-1]


def report_markdown(digest: BoardDigest) -> str:
    """The digest as a Markdown document for board papers."""
    title = f"# Board digest — {longdate(digest.as_of)}"
    parts = [
        [title, "", f"{md_cell(digest.plan_title)}, {md_cell(digest.organisation)}"],
        [f"**{md_cell(headline(digest))}**"],
        _md_summary(digest),
        _md_changes(digest),
        *(_md_section(s) for s in rag_sections(digest)),
    ]
    return "\n\n".join("\n".join(p) for p in parts) + "\n"


def csv_cell(value: object) -> str:
    # The same guard as plan exports: a cell that starts like a formula stays text.
    return guard_formula(str(value))


def _csv_row(digest: BoardDigest, a: ActionLine) -> list[str]:
    v = a.view
    return [
        f"{v.phase}: {phase_title(digest, v.phase)}",
        f"{v.work_stream_number} {one_line(v.work_stream_title)}",
        v.ref,
        a.what,
        a.leads,
        show_dates(v.target_text),
        v.due.isoformat() if v.due else "",
        str(v.days_overdue),
        rag_word(v.reported),
        rag_word(v.derived),
        rag_word(v.effective),
        v.disagreement,
        v.state,
        v.latest_note,
        v.latest_note_by,
        _note_date(v.latest_note_at, digest.timezone),
        "; ".join(v.at_risk_from),
    ]


def _note_date(at: datetime | None, timezone: str) -> str:
    # Local time as a spreadsheet reads it ("2012-09-28 15:05"), no offset to confuse it.
    return f"{in_zone(at, timezone):%Y-%m-%d %H:%M}" if at else ""


def report_csv(digest: BoardDigest) -> str:
    """One row per Red then Amber action, CRLF line ends (RFC 4180). Write it with
    newline="" (and "utf-8-sig" if Excel is to read non-ASCII text right)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADINGS)
    for section in rag_sections(digest):
        for phase in section.phases:
            for stream in phase.streams:
                writer.writerows([csv_cell(c) for c in _csv_row(digest, a)] for a in stream.actions)
    return out.getvalue()
