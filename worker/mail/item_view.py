"""What the reminder templates show of each item, worked out once in Python: the words of its
deadline, its dates in long form, its joined lists and one-lined texts. The plain-text and
HTML templates share one view per item and only print its attributes in a loop, instead of
running a chain of filters per item in each template (which was most of the cost of
rendering a large run).

The values are the same the filters give (worker/mail/filters.py): the templates' documented
variables (`digest`, each item, the filters) are still there for an admin's own templates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from jinja2.filters import do_indent

from worker.mail.filters import longdate, rag_label, read_as, when
from worker.mail.headers import one_line
from worker.plan.split import target_items
from worker.rules.digest import LEAD_SECTIONS, NAMED_SECTIONS, Digest, Entry, Item, Section

# The sections whose items link to the recipient's page to report on them.
REPORT_SECTIONS = frozenset(LEAD_SECTIONS)
_RAG_CLASSES = {"green": "rag-green", "amber": "rag-amber", "red": "rag-red"}


# Work stream titles, key deliverables, rules, target cells and dates repeat from item to
# item (an action reaches each of its leads): each is worked out once.
@lru_cache(maxsize=8192)
def _line(text: str) -> str:
    return one_line(text)


@lru_cache(maxsize=8192)
def _target(target_text: str) -> str:
    return "; ".join(target_items(target_text))


def _indent(text: str) -> str:
    """Jinja's `indent` filter: the later lines indented by four spaces."""
    return do_indent(text) if "\n" in text or "\r" in text else text


@lru_cache(maxsize=4096)
def _day(day: date) -> tuple[str, str]:
    return day.isoformat(), longdate(day)


class ItemView:
    """One item as the reminder templates print it. Attributes ending in `_line` are the
    one-line forms the plain text uses; `_txt` the plain text's indented forms. (A plain
    class with slots, filled in by its own __init__: several times cheaper to make than a
    dataclass of fifty keyword arguments, for each of tens of thousands of items.)"""

    __slots__ = (
        "at_risk_from",
        "co_leads",
        "css_section",
        "dates",
        "dependencies",
        "dependencies_txt",
        "description",
        "description_txt",
        "disagreement",
        "due_iso",
        "due_long",
        "has_dependencies",
        "has_description",
        "has_note",
        "hint",
        "item",
        "key_deliverable",
        "key_deliverable_line",
        "latest_note",
        "latest_note_line",
        "leads",
        "milestone",
        "milestone_line",
        "others",
        "rag",
        "rag_class",
        "rag_label",
        "reason",
        "reason_line",
        "recurrence",
        "ref",
        "report_link",
        "rule",
        "rule_line",
        "section",
        "show_strategic_lead",
        "strategic_lead_email",
        "strategic_lead_name",
        "strategic_lead_name_line",
        "target",
        "target_line",
        "title",
        "via",
        "when",
        "work_stream_number",
        "work_stream_title",
        "work_stream_title_line",
    )

    item: Item
    section: str  # "due_soon"
    css_section: str  # "due-soon"
    ref: str
    when: str  # "due in 6 days"
    title: str
    has_description: bool  # it has both an Action and a Description
    description: str  # trimmed
    description_txt: str  # the same, its later lines indented for the plain text
    work_stream_number: int
    work_stream_title: str
    work_stream_title_line: str
    key_deliverable: str
    key_deliverable_line: str
    # How its dates are shown: "start", "milestone", "review", "dated" or "undated".
    dates: str
    target: str  # the target cell's items joined with "; "
    target_line: str
    due_iso: str  # "2012-09-30", "" without a date
    due_long: str  # "Sunday 30 September 2012", "" without a date
    hint: str  # read_as: "month given, read as its last day", or ""
    milestone: str
    milestone_line: str
    recurrence: str
    has_dependencies: bool
    dependencies: str  # trimmed
    dependencies_txt: str
    co_leads: str  # joined with ", "
    show_strategic_lead: bool  # named, not an escalation, and not the reader themself
    strategic_lead_name: str
    strategic_lead_name_line: str
    strategic_lead_email: str
    rag: str  # "green", "amber", "red", "none" or another reported word
    rag_class: str  # "rag-green", "rag-amber", "rag-red" or "rag-other"
    rag_label: str  # "Green"
    disagreement: str
    at_risk_from: str  # joined with ", "
    has_note: bool
    latest_note: str  # trimmed
    latest_note_line: str
    leads: str  # joined with "; ", or "none"
    via: str  # joined with "; "
    reason: str
    reason_line: str
    others: str  # joined with " and as "
    report_link: str  # the recipient's page for this action, or ""
    rule: str
    rule_line: str

    def __init__(self, item: Item, reader: str, link: str | None) -> None:
        """`item` as shown to `reader` (their address, lower case); `link` their page."""
        target = _target(item.target_text)
        due_iso, due_long = _day(item.due) if item.due else ("", "")
        lead = item.strategic_lead
        rag = item.effective_rag
        description = item.description.strip()
        dependencies = item.dependencies_text.strip()
        note = item.latest_note.strip()
        self.item = item
        self.section = item.section
        self.css_section = item.section.replace("_", "-")
        self.ref = item.ref
        self.when = when(item)
        self.title = item.title
        self.has_description = bool(item.action_text and item.description)
        self.description = description
        self.description_txt = _indent(description)
        self.work_stream_number = item.work_stream_number
        self.work_stream_title = item.work_stream_title
        self.work_stream_title_line = _line(item.work_stream_title)
        self.key_deliverable = item.key_deliverable
        self.key_deliverable_line = _line(item.key_deliverable)
        self.dates = _dates(item)
        self.target = target
        self.target_line = _line(target)
        self.due_iso = due_iso
        self.due_long = due_long
        self.hint = read_as(item)
        self.milestone = item.milestone
        self.milestone_line = _line(item.milestone)
        self.recurrence = item.recurrence
        self.has_dependencies = bool(item.dependencies_text)
        self.dependencies = dependencies
        self.dependencies_txt = _indent(dependencies)
        self.co_leads = ", ".join(item.co_leads)
        self.show_strategic_lead = (
            bool(lead.name or lead.email)
            and item.section != "escalated"
            and lead.email.lower() != reader
        )
        self.strategic_lead_name = lead.name
        self.strategic_lead_name_line = _line(lead.name)
        self.strategic_lead_email = lead.email
        self.rag = rag
        self.rag_class = _RAG_CLASSES.get(rag, "rag-other")
        self.rag_label = rag_label(rag)
        self.disagreement = item.disagreement
        self.at_risk_from = ", ".join(item.at_risk_from)
        self.has_note = bool(item.latest_note)
        self.latest_note = note
        self.latest_note_line = _line(item.latest_note)
        self.leads = "; ".join(item.leads) if item.leads else "none"
        self.via = "; ".join(item.via)
        self.reason = item.reason
        self.reason_line = _line(item.reason)
        self.others = " and as ".join(item.others)
        self.report_link = (
            f"{link}#action-{item.ref}" if link and item.section in REPORT_SECTIONS else ""
        )
        self.rule = item.rule
        self.rule_line = _line(item.rule)


def _dates(item: Item) -> str:
    if item.kind == "start" and item.due:
        return "start"
    if item.milestone:
        return "milestone"
    if item.kind == "review":
        return "review"
    return "dated" if item.due else "undated"


def item_view(item: Item, reader: str, link: str | None) -> ItemView:
    """`item` as shown to `reader` (their address, lower case); `link` their page."""
    return ItemView(item, reader, link)


# Refs a message names but does not describe, under the words of their days: ("overdue by
# 14 days", ("WS1-03", "WS4-11")).
Named = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class DigestView:
    """A digest's items as views, by section, for the templates: `shown.section("overdue")`;
    and the refs of the items it does not describe, `shown.named("overdue")`."""

    sections: dict[str, tuple[ItemView, ...]]
    named_refs: dict[str, Named]

    def section(self, name: Section) -> tuple[ItemView, ...]:
        return self.sections.get(name, ())

    def named(self, name: Section) -> Named:
        """This section's items the message names but does not describe: their refs, in
        message order, grouped under their days in words ("overdue by 14 days")."""
        return self.named_refs.get(name, ())

    def has(self, name: Section) -> bool:
        """Whether the message is about any item of this section, described or named."""
        return name in self.sections or name in self.named_refs

    def count_named(self, name: Section | None = None) -> int:
        """How many items the message names but does not describe: of one section, or all."""
        groups = self.named_refs.values() if name is None else (self.named(name),)
        return sum(len(refs) for named in groups for _, refs in named)

    @property
    def described_count(self) -> int:
        """How many items of the sections that name the rest the message describes."""
        return sum(len(views) for name, views in self.sections.items() if name in NAMED_SECTIONS)


def _named(entries: list[Entry]) -> Named:
    # In message order, so the entries of one day are next to each other.
    groups: list[tuple[str, list[str]]] = []
    for entry in entries:
        words = when(entry)
        if not groups or groups[-1][0] != words:
            groups.append((words, []))
        groups[-1][1].append(entry.ref)
    return tuple((words, tuple(refs)) for words, refs in groups)


def digest_view(digest: Digest, link: str | None) -> DigestView:
    reader = digest.recipient.email.lower()
    sections: dict[str, list[ItemView]] = {}
    for item in digest.items:
        sections.setdefault(item.section, []).append(ItemView(item, reader, link))
    named: dict[str, list[Entry]] = {}
    for entry in digest.unlisted:
        if entry.section in NAMED_SECTIONS:
            named.setdefault(entry.section, []).append(entry)
    return DigestView(
        {name: tuple(views) for name, views in sections.items()},
        {name: _named(entries) for name, entries in named.items()},
    )
