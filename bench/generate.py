"""Synthetic improvement action plans of any size, for the benchmarks (bench/run.py).

The plans look like the council's real one: work streams with key deliverables, actions led
by one to three roles (some spelt with an alias, a few not in the contacts directory), start
and target dates written the ways the real plan writes them ("30 September 2012", "Sept
2012", "Sept 2012 and ongoing", "Review every two months", "Summer 2013", "2012/13", "TBC"
...), dependencies on other work streams, reported RAG and progress, and status history.

Rows go straight into a migrated database, set-based: PostgreSQL COPY through psycopg, or
SQLAlchemy Core executemany in chunks elsewhere; no ORM objects. Dates are read with
`worker.store.plan_dates.date_values`, once per distinct text pair (there are few). The same
plan can be written as CSV in the import format (`planworker plan import`), and a contacts
directory (TOML) that covers its roles.

    python bench/generate.py --url sqlite:///var/bench.db --actions 100000 --plans 1 \
        --leads 500 --seed 1 --csv var/bench.csv --contacts var/bench-contacts.toml
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, Table, func, insert, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from worker.db import make_engine, refresh_statistics  # noqa: E402
from worker.io.cells import csv_safe  # noqa: E402
from worker.migrate import upgrade  # noqa: E402
from worker.models import (  # noqa: E402
    Action,
    ActionDependency,
    ActionLead,
    LeadRole,
    Outcome,
    Phase,
    Plan,
    StatusChange,
    WorkStream,
    table_of,
)
from worker.plan.leads import role_key  # noqa: E402
from worker.plan.limits import MAX_NUMBER  # noqa: E402
from worker.store.plan_dates import date_values  # noqa: E402

PLANS = table_of(Plan)
PHASES = table_of(Phase)
WORK_STREAMS = table_of(WorkStream)
OUTCOMES = table_of(Outcome)
ACTIONS = table_of(Action)
LEAD_ROLES = table_of(LeadRole)
ACTION_LEADS = table_of(ActionLead)
ACTION_DEPENDENCIES = table_of(ActionDependency)
STATUS_HISTORY = table_of(StatusChange)

CHUNK = 5000
ACTIONS_PER_DELIVERABLE = 5
AMBER_LEGEND = "In Progress but with slippage or issues needing to be overcome"
# The "now" of the synthetic plan: progress and history are as they stood on this day.
SNAPSHOT = date(2012, 11, 15)
# Item separator of a multi-item cell as the importer stores it (worker/plan/split.py).
ITEMS = "\n\n"

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# The abbreviations the real plan uses.
SHORT = ("Jan", "Feb", "March", "April", "May", "June", "July", "Aug", "Sept", "Oct", "Nov", "Dec")
# Meteorological seasons by (month % 12) // 3; winter runs from December into the new year.
SEASONS = ("Winter", "Spring", "Summer", "Autumn")
# The plan's life: targets fall between April 2012 and December 2013 (months since Jan 2012).
FIRST_MONTH, LAST_MONTH = 3, 23

# Target-date forms and how often each appears (roughly the real plan's mix).
TARGET_FORMS: tuple[tuple[str, int], ...] = (
    ("day", 14),  # "30 September 2012"
    ("month", 22),  # "September 2012"
    ("short", 24),  # "Sept 2012"
    ("and_ongoing", 4),  # "Sept 2012 and ongoing"
    ("review_every", 3),  # "Review every two months"
    ("month_review_every", 2),  # "October 2012 Review every two months"
    ("review_month", 7),  # "Review February 2013"
    ("ongoing", 5),  # "ongoing"
    ("season", 5),  # "Summer 2013"
    ("financial_year", 4),  # "2012/13"
    ("two_dates", 3),  # "Sept 2012" and "March 2013" on two lines: due on the later
    ("tbc", 3),  # unreadable
    ("blank", 4),
)
START_FORMS: tuple[tuple[str, int], ...] = (
    ("month", 45),
    ("short", 25),
    ("day", 5),
    ("season", 5),
    ("blank", 20),
)

TITLES = (
    ("Head of", "HOS"),
    ("Team Manager", "TM"),
    ("Service Manager", "SM"),
    ("Principal Social Worker", "PSW"),
    ("Practice Manager", "PM"),
    ("Designated Officer for", "DO"),
    ("Commissioning Manager,", "CM"),
    ("Lead for", "Lead"),
)
AREAS = (
    "Safeguarding",
    "Looked After Children",
    "QA",
    "Fostering",
    "Adoption",
    "Leaving Care",
    "Children with Disability",
    "Early Intervention",
    "Child Protection",
    "Youth Offending",
    "Virtual School",
    "Workforce Development",
    "Performance",
    "Legal Services",
    "Family Support",
    "Children's Commissioning",
)
PLACES = (
    "North",
    "South",
    "East",
    "West",
    "Central",
    "Dunstable",
    "Leighton Buzzard",
    "Biggleswade",
    "Ampthill",
    "Flitwick",
)
SENIOR = (
    "Director of Children's Services",
    "Assistant Director, Children's Services Operations",
    "Director of Nursing and Quality",
)
FIRST_NAMES = ("Sam", "Alex", "Jo", "Chris", "Pat", "Lee", "Anne", "Dawn", "Eileen", "Ravi")
LAST_NAMES = ("Moran", "Murray", "Myers", "Andrews", "Miller", "Khan", "Patel", "Jones", "Smith")

VERBS = (
    "Review",
    "Audit",
    "Implement",
    "Develop",
    "Issue guidance on",
    "Train staff in",
    "Monitor",
    "Embed",
    "Report to the Project Board on",
    "Agree with partners",
    "Re-launch",
    "Evaluate",
)
OBJECTS = (
    "case chronologies",
    "return interviews for children who go missing",
    "formal supervision of social workers",
    "care plans for looked after children",
    "the LADO process",
    "multi-agency referral pathways",
    "health assessments for children in care",
    "pathway plans for care leavers",
    "the quality assurance framework",
    "placement stability",
    "equality and diversity in assessment",
    "the threshold document",
    "child protection conference minutes",
    "the Children in Care Council's priorities",
    "personal education plans",
    "permanency planning",
)
QUALIFIERS = (
    "across all teams",
    "in line with Working Together 2010",
    "with partner agencies",
    "and report findings to CSMT",
    "so that practice is consistent",
    "for every open case",
    "",
)
DESCRIPTIONS = (
    "Review functionality in CCMS and any changes which might be required to deliver best "
    "practice.",
    "Monthly audit of a sample of cases by team managers, with findings reported to the "
    "quality assurance meeting.",
    "Guidance issued to all staff and discussed in team meetings; compliance monitored "
    "through supervision.",
    "Performance indicator: percentage of cases with an up to date plan (target 95%).",
    "Training delivered to social workers and managers, with evaluation of its effect on "
    "practice three months later.",
    "Joint protocol agreed with health and education partners and signed off by the LSCB.",
    "Audit tool revised to include the voice of the child and the views of carers.",
    "Data collected quarterly and reported to the Corporate Parenting Panel.",
)
DEPENDENCY_TEXTS = (
    "FWi update planned for Sept 2012 which will include revised functionality in relation "
    "to chronologies",
    "Recruitment of permanent team managers",
    "CYPP Priority 2 Objective 4",
    "Agreement of the LSCB business plan",
)
NOTES = (
    "Audit under way",
    "FWi upgrade slipped to October",
    "Awaiting sign-off at CSMT",
    "Guidance issued; compliance to be checked in next audit",
    "Training booked for all teams",
    "Partner agencies yet to agree the protocol",
    "Completed and reported to the Project Board",
    "Recruitment delayed; interim cover in place",
)
STATES_PAST = (("completed", 35), ("in progress", 35), ("not started", 25), ("dropped", 5))
STATES_FUTURE = (("not started", 60), ("in progress", 40))
RAGS = ((None, 45), ("green", 30), ("amber", 17), ("red", 8))

CSV_HEADINGS = (
    "ID",
    "Work Stream",
    "Key Del",
    "Actions",
    "Description",
    "Lead",
    "Lead Roles",
    "Dependencies",
    "Depends On",
    "Start Date",
    "Target End Date",
    "RAG",
    "Status",
)


# --- the people ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    alias: str  # another spelling of the same post, "" if none
    email: str  # "" for a vacant post
    person: str
    deputy: str  # another role's name, or ""
    line_manager: str


@dataclass(frozen=True, slots=True)
class People:
    roles: tuple[Role, ...]
    unknown: tuple[str, ...]  # lead names the plan uses that the directory does not hold
    weights: tuple[float, ...]  # cumulative weights for choosing a role (some lead more)

    def spellings(self) -> list[str]:
        """Every way the plan names a lead: each role, its alias, and the unknown names."""
        names = [r.name for r in self.roles] + [r.alias for r in self.roles if r.alias]
        return names + list(self.unknown)


def _slug(name: str) -> str:
    cleaned = name.lower().replace("&", "and").replace("'", "").replace("’", "")
    return "-".join("".join(c if c.isalnum() else " " for c in cleaned).split())


def _role_names(count: int) -> list[tuple[str, str]]:
    """`count` distinct (name, alias) pairs: senior posts first, then title x area x place."""
    names: list[tuple[str, str]] = [(name, "") for name in SENIOR]
    combos = [(t, a, area) for area in AREAS for t, a in TITLES]
    place_index = 0
    while len(names) < count:
        for title, abbreviation, area in combos:
            if len(names) >= count:
                break
            if place_index == 0:
                suffix = ""
            elif place_index <= len(PLACES):
                suffix = f" ({PLACES[place_index - 1]})"
            else:
                suffix = f" (Team {place_index - len(PLACES)})"
            names.append((f"{title} {area}{suffix}", f"{abbreviation} {area}{suffix}"))
        place_index += 1
    return names[:count]


def make_people(leads: int, seed: int) -> People:
    """The lead roles: about 5% vacant (with a deputy), 30% with an alias used in the plan,
    and 1% as many names again that the directory lacks (they reach the administrator)."""
    rng = random.Random(seed * 7919 + 17)
    pairs = _role_names(max(leads, len(SENIOR)))
    roles: list[Role] = []
    for index, (name, alias) in enumerate(pairs):
        vacant = index >= len(SENIOR) and rng.random() < 0.05
        # A vacant post's deputy is the role before it when that one has an address;
        # otherwise its reminders fall back to its line manager (a senior post, never vacant).
        deputy = ""
        if vacant and roles and roles[-1].email:
            deputy = roles[-1].name
        line_manager = "" if index < len(SENIOR) else SENIOR[1]
        person = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}" if rng.random() < 0.2 else ""
        roles.append(
            Role(
                name=name,
                alias=alias if alias and rng.random() < 0.3 else "",
                email="" if vacant else f"{_slug(name)}@example.org",
                person=person,
                deputy=deputy,
                line_manager=line_manager,
            )
        )
    unknown = tuple(f"Interim Project Officer {n}" for n in range(1, max(3, leads // 100) + 1))
    weights: list[float] = []
    total = 0.0
    for rank in range(len(roles)):
        total += 1.0 / (rank + 1) ** 0.5
        weights.append(total)
    return People(tuple(roles), unknown, tuple(weights))


def _toml(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_contacts(people: People, path: Path) -> None:
    """The contacts directory (config/contacts.toml format) for these roles."""
    lines = [
        "# Synthetic contacts directory written by bench/generate.py (example.org addresses).",
        "",
        "[administrator]",
        'name = "Plan Administrator"',
        'email = "planworker-admin@example.org"',
        "",
    ]
    for name in SENIOR:
        lines += [
            "[[board]]",
            f"name = {_toml(name)}",
            f"email = {_toml(_slug(name) + '@example.org')}",
            "",
        ]
    for role in people.roles:
        aliases = f"[{_toml(role.alias)}]" if role.alias else "[]"
        lines += [
            f"[roles.{_toml(role.name)}]",
            f"person = {_toml(role.person)}",
            f"email = {_toml(role.email)}",
            f"aliases = {aliases}",
        ]
        if role.deputy:
            lines.append(f"deputy = {_toml(role.deputy)}")
        if role.line_manager:
            lines.append(f"line_manager = {_toml(role.line_manager)}")
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")


# --- the actions -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spec:
    actions: int
    plans: int = 1
    work_streams: int = 9
    leads: int = 80
    seed: int = 1
    month_day: str = "end"

    def plan_sizes(self) -> list[int]:
        base, extra = divmod(self.actions, self.plans)
        return [base + (1 if p < extra else 0) for p in range(self.plans)]


@dataclass(slots=True)
class Synth:
    """One generated action, with what the database and the CSV need."""

    index: int  # position in its plan
    ref: str
    work_stream: int
    key_deliverable: str
    action: str
    description: str
    lead_names: tuple[str, ...]
    lead_text: str
    dependencies: str
    depends_on: tuple[tuple[int, int | None], ...]
    start: tuple[str, ...]  # date items
    target: tuple[str, ...]
    rag: str | None
    state: str
    history: list[dict[str, Any]] = field(default_factory=list)


def _weighted(rng: random.Random, choices: Sequence[tuple[Any, int]]) -> Any:
    values = [c for c, _ in choices]
    weights = [w for _, w in choices]
    return rng.choices(values, weights=weights)[0]


def _month(rng: random.Random, first: int, last: int) -> tuple[int, int]:
    index = rng.randint(first, last)
    return 2012 + index // 12, index % 12 + 1


def _day_text(rng: random.Random, year: int, month: int) -> str:
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    day = last if rng.random() < 0.6 else rng.randint(1, last)
    return f"{day} {MONTHS[month - 1]} {year}"


def _date_text(rng: random.Random, form: str, year: int, month: int) -> tuple[str, ...]:
    if form == "day":
        return (_day_text(rng, year, month),)
    if form == "month":
        return (f"{MONTHS[month - 1]} {year}",)
    if form == "short":
        return (f"{SHORT[month - 1]} {year}",)
    if form == "and_ongoing":
        return (f"{SHORT[month - 1]} {year} and ongoing",)
    if form == "review_every":
        return ("Review every two months",)
    if form == "month_review_every":
        return (f"{MONTHS[month - 1]} {year} Review every two months",)
    if form == "review_month":
        return (f"Review {MONTHS[month - 1]} {year}",)
    if form == "ongoing":
        return (rng.choice(("ongoing", "Ongoing")),)
    if form == "season":
        name = SEASONS[(month % 12) // 3]
        return (f"{name} {year - 1 if month < 3 else year}",)
    if form == "financial_year":
        fy = year if month >= 4 else year - 1
        return (f"{fy}/{(fy + 1) % 100:02d}",)
    if form == "two_dates":
        later_year, later_month = (year, month + 6) if month <= 6 else (year + 1, month - 6)
        return (f"{SHORT[month - 1]} {year}", f"{SHORT[later_month - 1]} {later_year}")
    if form == "tbc":
        return ("TBC",)
    return ()


def _leads(rng: random.Random, people: People) -> tuple[str, ...]:
    count = _weighted(rng, ((1, 70), (2, 25), (3, 5)))
    chosen = rng.choices(people.roles, cum_weights=people.weights, k=count)
    names: list[str] = []
    for role in chosen:
        roll = rng.random()
        if roll < 0.005 and people.unknown:
            name = rng.choice(people.unknown)
        elif roll < 0.15 and role.alias:
            name = role.alias
        else:
            name = role.name
        if role_key(name) not in {role_key(n) for n in names}:
            names.append(name)
    return tuple(names)


def _history(
    rng: random.Random, rag: str | None, state: str, by: str, start: date | None
) -> list[dict[str, Any]]:
    """One to three changes ending in the current RAG and state."""
    if rag is None and state == "not started":
        return []
    steps = rng.randint(1, 3)
    first = start or date(2012, 5, 1)
    span = max(1, (SNAPSHOT - first).days)
    days = sorted(rng.randint(0, span) for _ in range(steps))
    path: list[tuple[str | None, str]] = [(None, "not started")]
    for step in range(steps - 1):
        path.append((rng.choice(("green", "amber")), "in progress" if step == 0 else state))
    path.append((rag, state))
    rows = []
    for number in range(steps):
        (rag_from, state_from), (rag_to, state_to) = path[number], path[number + 1]
        when = datetime.combine(first + timedelta(days=days[number]), datetime.min.time(), UTC)
        rows.append(
            {
                "changed_at": when + timedelta(hours=9, minutes=rng.randint(0, 480)),
                "changed_by": by,
                "source": rng.choice(("cli", "status return returns.csv")),
                "rag_from": rag_from,
                "rag_to": rag_to,
                "state_from": state_from,
                "state_to": state_to,
                "note": rng.choice(NOTES),
            }
        )
    return rows


def synth_actions(spec: Spec, plan_number: int, size: int, people: People) -> Iterator[Synth]:
    """The actions of one plan, in plan order. Deterministic for a seed."""
    rng = random.Random(spec.seed * 1_000_003 + plan_number)
    streams = spec.work_streams
    # Key deliverables group about five actions each, as in the real plan; more in a plan so
    # large that a work stream would otherwise pass the importer's highest number (9999).
    per_kd = max(ACTIONS_PER_DELIVERABLE, -(-size // streams // MAX_NUMBER))
    deliverables = max(1, size // streams // per_kd)
    per_stream: dict[int, int] = {}
    for index in range(size):
        ws = index * streams // size + 1
        per_stream[ws] = per_stream.get(ws, 0) + 1
        number = per_stream[ws]
        kd = (number - 1) // per_kd + 1
        key_deliverable = f"{kd}." if rng.random() < 0.5 else str(kd)
        qualifier = rng.choice(QUALIFIERS)
        action = f"{rng.choice(VERBS)} {rng.choice(OBJECTS)}" + (
            f" {qualifier}" if qualifier else ""
        )
        description = rng.choice(DESCRIPTIONS)
        if rng.random() < 0.4:
            description += " " + rng.choice(DESCRIPTIONS)
        leads = _leads(rng, people)
        lead_text = " and ".join(leads) if len(leads) <= 2 else ", ".join(leads)
        # About one action in six names another work stream (half of them one of its key
        # deliverables), as in the real plan; the rest say "None" or give prose.
        roll = rng.random()
        depends_on: tuple[tuple[int, int | None], ...] = ()
        if roll < 0.08 and streams > 1:
            other = rng.randint(1, streams)
            other_kd = rng.randint(1, deliverables)
            dependencies = f"Workstream {other} action {other_kd}."
            depends_on = ((other, other_kd),)
        elif roll < 0.13 and streams > 1:
            other = rng.randint(1, streams)
            dependencies = f"Workstream {other}"
            depends_on = ((other, None),)
        elif roll < 0.16 and streams > 1:
            a, b = sorted(rng.sample(range(1, streams + 1), 2))
            dependencies = f"WS {a}, {b}."
            depends_on = ((a, None), (b, None))
        elif roll < 0.66:
            dependencies = "None"
        elif roll < 0.9:
            dependencies = rng.choice(DEPENDENCY_TEXTS)
        else:
            dependencies = ""
        year, month = _month(rng, FIRST_MONTH, LAST_MONTH)
        target = _date_text(rng, _weighted(rng, TARGET_FORMS), year, month)
        start_year, start_month = _month(
            rng, max(0, FIRST_MONTH - 2), year * 12 - 2012 * 12 + month - 1
        )
        start = _date_text(rng, _weighted(rng, START_FORMS), start_year, start_month)
        past = (year, month) < (SNAPSHOT.year, SNAPSHOT.month)
        state = _weighted(rng, STATES_PAST if past else STATES_FUTURE)
        rag = "green" if state == "completed" and rng.random() < 0.8 else _weighted(rng, RAGS)
        start_day = date(start_year, start_month, 1) if start else None
        yield Synth(
            index=index,
            ref=f"WS{ws}-{number:02d}",
            work_stream=ws,
            key_deliverable=key_deliverable,
            action=action,
            description=description,
            lead_names=leads,
            lead_text=lead_text,
            dependencies=dependencies,
            depends_on=depends_on,
            start=start,
            target=target,
            rag=rag,
            state=state,
            history=_history(
                rng, rag, state, leads[0] if leads else "Plan Administrator", start_day
            ),
        )


@lru_cache(maxsize=4096)
def _dates(start: str, target: str, month_day: str) -> dict[str, Any]:
    # The columns an import writes (milestones' first_due_date included).
    return date_values(start, target, month_day)  # type: ignore[arg-type]


# --- writing to the database -----------------------------------------------------------------


class Writer:
    """Appends rows to tables in chunks: COPY on PostgreSQL, executemany elsewhere."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.raw = engine.raw_connection() if self.postgres else None
        self.conn = None if self.postgres else engine.connect()
        self.counts: dict[str, int] = {}

    def next_id(self, table: Table) -> int:
        query = select(func.coalesce(func.max(table.c.id), 0))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one()) + 1

    def write(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        self.counts[table.name] = self.counts.get(table.name, 0) + len(rows)
        if self.postgres:
            columns = list(rows[0])
            quoted = ", ".join(f'"{c}"' for c in columns)
            assert self.raw is not None and self.raw.driver_connection is not None
            with (
                self.raw.driver_connection.cursor() as cursor,
                cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy,
            ):
                for row in rows:
                    copy.write_row([row[c] for c in columns])
        else:
            assert self.conn is not None
            for start in range(0, len(rows), CHUNK):
                self.conn.execute(insert(table), list(rows[start : start + CHUNK]))

    def finish(self) -> None:
        if self.raw is not None:
            self.raw.commit()
            self.raw.close()
            # Explicit ids were written: move each id sequence past them.
            with self.engine.begin() as conn:
                for name in self.counts:
                    if name == "action_leads":  # no id column
                        continue
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                            f'(SELECT max(id) FROM "{name}"))'
                        )
                    )
            # As `plan import` does after a bulk write, so the daily run is planned alike.
            with Session(self.engine) as session:
                refresh_statistics(session)
        if self.conn is not None:
            self.conn.commit()
            self.conn.close()


def write_database(spec: Spec, engine: Engine, people: People) -> dict[str, int]:
    """Write the plans into the migrated database behind `engine`; row counts per table."""
    writer = Writer(engine)
    ids = {
        t.name: writer.next_id(t)
        for t in (
            PLANS,
            PHASES,
            WORK_STREAMS,
            OUTCOMES,
            ACTIONS,
            LEAD_ROLES,
            ACTION_DEPENDENCIES,
            STATUS_HISTORY,
        )
    }

    def take(name: str) -> int:
        value = ids[name]
        ids[name] = value + 1
        return value

    for plan_number, size in enumerate(spec.plan_sizes(), start=1):
        plan_id = take("plans")
        writer.write(
            PLANS,
            [
                {
                    "id": plan_id,
                    "slug": f"bench-{plan_id}",
                    "title": f"Synthetic Post Inspection Action Plan {plan_number}",
                    "organisation": "Example Borough Council",
                    "source": "bench/generate.py",
                    "timezone": "Europe/London",
                    "legend_green": "On Target or Completed",
                    "legend_amber": AMBER_LEGEND,
                    "legend_red": "Incomplete or not started",
                    "month_day": spec.month_day,
                }
            ],
        )
        writer.write(
            PHASES,
            [
                {
                    "id": take("phases"),
                    "plan_id": plan_id,
                    "number": 1,
                    "title": "First six months",
                },
                {"id": take("phases"), "plan_id": plan_id, "number": 2, "title": "Improvement"},
            ],
        )
        ws_ids: dict[int, int] = {}
        ws_rows, outcome_rows = [], []
        for number in range(1, spec.work_streams + 1):
            ws_ids[number] = take("work_streams")
            ws_rows.append(
                {
                    "id": ws_ids[number],
                    "plan_id": plan_id,
                    "number": number,
                    "title": f"{AREAS[(number - 1) % len(AREAS)]} improvement",
                    "heading": f"{AREAS[(number - 1) % len(AREAS)]} - actions",
                    "phase": 1 if number <= spec.work_streams // 2 else 2,
                    "strategic_lead": SENIOR[(number - 1) % len(SENIOR)],
                    "key_aim": "To address the recommendations in the inspection report",
                }
            )
            outcome_rows += [
                {
                    "id": take("outcomes"),
                    "work_stream_id": ws_ids[number],
                    "position": position,
                    "number": str(position + 1),
                    "text": f"Outcome {position + 1} of work stream {number} is achieved.",
                }
                for position in range(2)
            ]
        writer.write(WORK_STREAMS, ws_rows)
        writer.write(OUTCOMES, outcome_rows)
        role_ids: dict[str, int] = {}
        role_rows = []
        for name in people.spellings():
            key = role_key(name)
            if key not in role_ids:
                role_ids[key] = take("lead_roles")
                role_rows.append(
                    {"id": role_ids[key], "plan_id": plan_id, "name": name, "key": key}
                )
        writer.write(LEAD_ROLES, role_rows)

        batch: list[Synth] = []
        for synth in synth_actions(spec, plan_number, size, people):
            batch.append(synth)
            if len(batch) >= CHUNK:
                _write_batch(writer, batch, plan_id, ws_ids, role_ids, take, spec.month_day)
                batch = []
        _write_batch(writer, batch, plan_id, ws_ids, role_ids, take, spec.month_day)
    writer.finish()
    return writer.counts


def _write_batch(
    writer: Writer,
    batch: Sequence[Synth],
    plan_id: int,
    ws_ids: dict[int, int],
    role_ids: dict[str, int],
    take: Any,
    month_day: str,
) -> None:
    actions, links, deps, history = [], [], [], []
    for synth in batch:
        action_id = take("actions")
        start, target = ITEMS.join(synth.start), ITEMS.join(synth.target)
        actions.append(
            {
                "id": action_id,
                "plan_id": plan_id,
                "work_stream_id": ws_ids[synth.work_stream],
                "ref": synth.ref,
                "row_ref": synth.ref,
                "position": synth.index,
                "key_deliverable": synth.key_deliverable,
                "action_text": synth.action,
                "description": synth.description,
                "lead_text": synth.lead_text,
                "dependencies_text": synth.dependencies,
                "start_text": start,
                "target_text": target,
                **_dates(start, target, month_day),
                "rag": synth.rag,
                "state": synth.state,
                "archived": False,
            }
        )
        links += [
            {"action_id": action_id, "lead_role_id": role_ids[role_key(name)], "position": n}
            for n, name in enumerate(synth.lead_names)
        ]
        deps += [
            {
                "id": take("action_dependencies"),
                "action_id": action_id,
                "work_stream": ws,
                "key_deliverable": kd,
            }
            for ws, kd in synth.depends_on
        ]
        history += [
            {"id": take("status_history"), "action_id": action_id, **change}
            for change in synth.history
        ]
    writer.write(ACTIONS, actions)
    writer.write(ACTION_LEADS, links)
    writer.write(ACTION_DEPENDENCIES, deps)
    writer.write(STATUS_HISTORY, history)


# --- writing CSV -----------------------------------------------------------------------------


def csv_paths(path: Path, plans: int) -> list[Path]:
    """One file per plan: the path itself for one plan, else name-1.csv, name-2.csv..."""
    if plans == 1:
        return [path]
    return [path.with_name(f"{path.stem}-{n}{path.suffix}") for n in range(1, plans + 1)]


def write_csv(spec: Spec, path: Path, people: People) -> list[Path]:
    """The plans in the import format (worker/io/tables.py headings)."""
    paths = csv_paths(path, spec.plans)
    for plan_number, (target, size) in enumerate(zip(paths, spec.plan_sizes(), strict=True), 1):
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8", newline="") as handle:
            out = csv.writer(handle)
            out.writerow(CSV_HEADINGS)
            for s in synth_actions(spec, plan_number, size, people):
                depends = "; ".join(
                    f"WS{ws}" + (f" KD{kd}" if kd else "") for ws, kd in s.depends_on
                )
                # Guarded as every CSV planworker writes is (worker/io/cells.csv_safe).
                cells = (
                    s.ref,
                    s.work_stream,
                    s.key_deliverable,
                    s.action,
                    s.description,
                    s.lead_text,
                    "; ".join(s.lead_names),
                    s.dependencies,
                    depends,
                    "\n".join(s.start),
                    "\n".join(s.target),
                    (s.rag or "").capitalize(),
                    "" if s.state == "not started" else s.state,
                )
                out.writerow([csv_safe(cell) for cell in cells])
    return paths


# --- command line ----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="SQLAlchemy URL of the database (migrated first)")
    parser.add_argument("--actions", type=int, required=True, help="actions in total")
    parser.add_argument("--plans", type=int, default=1)
    parser.add_argument("--work-streams", type=int, default=9, help="work streams per plan")
    parser.add_argument("--leads", type=int, default=80, help="lead roles in the directory")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--month-day", choices=("end", "start"), default="end")
    parser.add_argument("--csv", type=Path, help="also write the plan(s) as import CSV here")
    parser.add_argument("--contacts", type=Path, help="write the contacts directory (TOML) here")
    args = parser.parse_args(argv)
    if args.actions < 1 or args.plans < 1 or args.plans > args.actions or args.leads < 1:
        parser.error("need actions >= plans >= 1 and leads >= 1")
    spec = Spec(args.actions, args.plans, args.work_streams, args.leads, args.seed, args.month_day)
    people = make_people(spec.leads, spec.seed)
    if args.contacts:
        write_contacts(people, args.contacts)
        print(f"contacts: {len(people.roles)} roles -> {args.contacts}")
    if args.url:
        engine = make_engine(args.url)
        upgrade(engine)
        began = time.perf_counter()
        counts = write_database(spec, engine, people)
        took = time.perf_counter() - began
        engine.dispose()
        listed = ", ".join(f"{name} {n:,}" for name, n in counts.items())
        print(f"database: {listed} in {took:.1f} s ({spec.actions / took:,.0f} actions/s)")
    if args.csv:
        began = time.perf_counter()
        paths = write_csv(spec, args.csv, people)
        took = time.perf_counter() - began
        print(f"csv: {', '.join(str(p) for p in paths)} in {took:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
