"""The seed is the source document, row for row: nothing dropped, nothing invented.

Reads seed/cbc-action-plan-2012-13.yaml with plain yaml.safe_load (not planworker's loader)
and checks it against the council's document, which lives in the shared/ folder next to the
repository checkout in this project's own workspace. Where it is absent (a user's clone) these
tests skip, saying so; under .ci/run (PLANWORKER_TEST_REQUIRE_ALL=1) that skip is a failure.
"""

from __future__ import annotations

import html
import itertools
import re
from functools import cache
from typing import Any

import pytest

from tests.conftest import SOURCE, seed_data, source_text

TEXT_FIELDS = ("action", "description", "lead", "dependencies", "start", "target")
# Column order of the source's action tables.
COLUMNS = ("key_deliverable", *TEXT_FIELDS)
PAGE_BREAK = re.compile(r"^#+ Central Bedfordshire Council Safeguarding and Looked After Children")
WS_HEADING = re.compile(r"^[#*\s]*Work Stream\s*(\d+)")
ID_FORMAT = re.compile(r"^WS(\d)-(\d{2})$")

# Counted by hand from the source document (one per table row; a row that a page break
# splits counts once; work stream 8's outcome 12 is the one-cell line after a page break).
EXPECTED_ROWS = {1: 17, 2: 4, 3: 9, 4: 17, 5: 8, 6: 13, 7: 10, 8: 15, 9: 11}
EXPECTED_OUTCOMES = {1: 4, 2: 4, 3: 5, 4: 9, 5: 4, 6: 5, 7: 10, 8: 12, 9: 7}


# --------------------------------------------------------------------------- helpers


def normalise(text: str) -> str:
    """Plain text as the seed writes it: tags stripped, entities decoded, spaces collapsed."""
    text = re.sub(r"\s*<sup>(.*?)</sup>", r"\1", text)  # "9 <sup>th</sup>" -> "9th"
    text = re.sub(r"<[^>]+>", " ", text)
    text = html.unescape(text)
    return " ".join(text.split())


def fragments(cell: str) -> list[str]:
    """The non-empty pieces of a source cell: paragraphs/list items, or runs split at 2+ spaces."""
    if "<p>" in cell or "<li>" in cell:
        pieces = re.findall(r"<(?:p|li)>(.*?)</(?:p|li)>", cell)
    else:
        pieces = re.split(r" {2,}", cell)
    return [p for p in (normalise(x) for x in pieces) if p]


def items(value: Any) -> list[str]:
    """A seed cell as a list of items ("" -> [])."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    assert isinstance(value, list), value
    assert all(isinstance(v, str) for v in value), value
    return list(value)


@cache
def source_lines() -> tuple[str, ...]:
    return tuple(source_text().split("\n"))


def seed() -> dict[str, Any]:
    return seed_data()


def streams() -> dict[int, dict[str, Any]]:
    return {ws["number"]: ws for ws in seed()["work_streams"]}


def all_actions() -> list[tuple[int, dict[str, Any]]]:
    return [(ws["number"], a) for ws in seed()["work_streams"] for a in ws["actions"]]


def action(action_id: str) -> dict[str, Any]:
    found = [a for _, a in all_actions() if a["id"] == action_id]
    assert len(found) == 1, action_id
    return found[0]


@cache
def sections() -> dict[int, tuple[int, int]]:
    """Work stream number -> (first line index, end index) of its section in the source."""
    lines = source_lines()
    starts = [(i, int(m.group(1))) for i, line in enumerate(lines) if (m := WS_HEADING.match(line))]
    out = {}
    for k, (i, n) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(lines)
        out[n] = (i, end)
    return out


def section_lines(ws: int) -> list[tuple[int, str]]:
    start, end = sections()[ws]
    return [(i, source_lines()[i]) for i in range(start, end)]


def table_lines(ws: int) -> list[tuple[int, list[str]]]:
    """(line index, cells) of the action-table lines of a work stream, header excluded."""
    lines = section_lines(ws)
    header = next(k for k, (_, line) in enumerate(lines) if re.match(r"^(All )?Key Del\t", line))
    out = []
    for i, line in lines[header + 1 :]:
        if "\t" not in line or not line.replace("\t", "").strip("- "):
            continue
        cells = line.split("\t")
        assert len(cells) == len(COLUMNS), (i + 1, line)
        out.append((i, cells))
    return out


def page_break_joins(ws: int) -> list[str]:
    """Each column of a row split by a page break, with its two halves joined by a space."""
    lines = source_lines()
    joins = []
    rows = table_lines(ws)
    for (i, above), (j, below) in itertools.pairwise(rows):
        between = lines[i + 1 : j]
        if below[0].strip() or not any(PAGE_BREAK.match(x) for x in between):
            continue
        for top, bottom in zip(above, below, strict=True):
            joins.append(f"{normalise(top)} {normalise(bottom)}")
    return joins


def ws_corpus(ws: int) -> str:
    """The work stream's source text, normalised, plus its page-break-joined cells."""
    text = normalise("\n".join(line for _, line in section_lines(ws)))
    return "\n".join([text, *page_break_joins(ws)])


def contents_table() -> dict[int, tuple[str, str, int]]:
    """Work stream -> (title, strategic lead, phase) from the contents table."""
    out = {}
    phase = 0
    for line in source_lines():
        if m := re.match(r"^<b>Phase (\d+):", line):
            phase = int(m.group(1))
        elif m := re.match(r"^(\d+)\.\t([^\t]+)\t([^\t]+)$", line):
            out[int(m.group(1))] = (m.group(2).strip(), m.group(3).strip(), phase)
    return out


# --------------------------------------------------------------------------- counts


def test_rows_per_work_stream_match_the_hand_count() -> None:
    assert {n: len(ws["actions"]) for n, ws in streams().items()} == EXPECTED_ROWS


def test_outcomes_per_work_stream_match_the_hand_count() -> None:
    assert {n: len(ws["outcomes"]) for n, ws in streams().items()} == EXPECTED_OUTCOMES


def test_source_has_nine_work_stream_sections() -> None:
    assert sorted(sections()) == list(range(1, 10))


# --------------------------------------------------------------------------- work streams


def test_work_streams_are_one_to_nine_in_order() -> None:
    assert [ws["number"] for ws in seed()["work_streams"]] == list(range(1, 10))


def test_phases_are_one_for_streams_one_to_four_and_two_after() -> None:
    assert {n: ws["phase"] for n, ws in streams().items()} == {
        n: 1 if n <= 4 else 2 for n in range(1, 10)
    }
    assert {n: phase for n, (_, _, phase) in contents_table().items()} == {
        n: ws["phase"] for n, ws in streams().items()
    }


def test_titles_and_strategic_leads_are_the_contents_table_as_written() -> None:
    table = contents_table()
    assert sorted(table) == list(range(1, 10))
    for n, ws in streams().items():
        title, lead, _ = table[n]
        assert ws["title"] == title, n
        assert ws["strategic_lead"] == lead, n


def test_headings_are_the_sections_own_headings() -> None:
    for n, ws in streams().items():
        first = source_lines()[sections()[n][0]].replace("*", "").lstrip("# ")
        m = re.match(r"Work Stream\s*\d+:?\s*(.*)$", first)
        assert m, first
        assert ws["heading"] == m.group(1).strip(), n


def test_key_aims_match_the_source() -> None:
    for n, ws in streams().items():
        lines = [line for _, line in section_lines(n)]
        k = next(i for i, line in enumerate(lines) if "Key Aim:" in line)
        aim = lines[k].split("Key Aim:", 1)[1].replace("*", "").strip()
        if not aim:
            aim = next(line for line in lines[k + 1 :] if line.strip()).strip()
        assert ws["key_aim"] == aim, n


def test_outcomes_match_the_source_numbered_lists() -> None:
    for n, ws in streams().items():
        lines = [line for _, line in section_lines(n)]
        start = next(i for i, line in enumerate(lines) if "Outcomes" in line)
        end = next(i for i, line in enumerate(lines) if re.match(r"^(All )?Key Del\t", line))
        found = []
        for line in lines[start + 1 : end]:
            if m := re.match(r"^(\d+)\. (.*)$", line.split("\t")[0]):
                found.append({"number": m.group(1), "text": m.group(2).strip()})
        assert ws["outcomes"] == found, n


def test_plan_metadata() -> None:
    plan = seed()["plan"]
    assert plan["id"] == "cbc-2012-13"
    assert plan["organisation"] == "Central Bedfordshire Council"
    assert plan["source"] == SOURCE.name
    assert plan["timezone"] == "Europe/London"
    text = normalise("\n".join(source_lines()))
    for colour, meaning in plan["rag_legend"].items():
        assert f"{colour.title()} {meaning}" in text
    assert sorted(plan["rag_legend"]) == ["amber", "green", "red"]
    for phase in plan["phases"]:
        assert f"Phase {phase['number']}: {phase['title']}" in text
    assert [p["number"] for p in plan["phases"]] == [1, 2]


# --------------------------------------------------------------------------- faithfulness


def test_nothing_invented() -> None:
    """Every item of every cell occurs in its work stream's (normalised) source text."""
    missing = []
    for n, ws in streams().items():
        corpus = ws_corpus(n)
        for a in ws["actions"]:
            for field in TEXT_FIELDS:
                for item in items(a.get(field)):
                    if normalise(item) not in corpus:
                        missing.append((a["id"], field, item))
        for outcome in ws["outcomes"]:
            if normalise(outcome["text"]) not in corpus:
                missing.append((f"WS{n} outcome", outcome["number"], outcome["text"]))
    assert not missing


def test_nothing_dropped() -> None:
    """Every fragment of every action-table cell is in the seed, in the same column."""
    missing = []
    for n, ws in streams().items():
        seed_text = {
            field: "\n".join(normalise(x) for a in ws["actions"] for x in items(a.get(field)))
            for field in TEXT_FIELDS
        }
        seed_text["key_deliverable"] = "\n".join(a["key_deliverable"] for a in ws["actions"])
        for i, cells in table_lines(n):
            for column, cell in zip(COLUMNS, cells, strict=True):
                for fragment in fragments(cell):
                    if fragment not in seed_text[column]:
                        missing.append((n, i + 1, column, fragment))
    assert not missing


def test_key_deliverable_groups_follow_the_source_labels() -> None:
    for n, ws in streams().items():
        written = [normalise(cells[0]) for _, cells in table_lines(n) if cells[0].strip()]
        labels = [a["key_deliverable"] for a in ws["actions"]]
        opened = [x for k, x in enumerate(labels) if k == 0 or labels[k - 1] != x]
        assert opened == written, n


def test_text_is_plain() -> None:
    for _, a in all_actions():
        for field in TEXT_FIELDS:
            for item in items(a.get(field)):
                assert not re.search(r"<[a-z/][^>]*>|&[a-z]+;", item), (a["id"], item)
                for line in item.split("\n"):
                    assert line == " ".join(line.split()), (a["id"], item)


# --------------------------------------------------------------------------- ids, leads, refs


def test_ids_are_unique_sequential_and_well_formed() -> None:
    seen = set()
    for n, ws in streams().items():
        for k, a in enumerate(ws["actions"], 1):
            assert a["id"] == f"WS{n}-{k:02d}"
            assert ID_FORMAT.match(a["id"])
            assert a["id"] not in seen
            seen.add(a["id"])


def test_lead_roles_are_named_in_the_lead_text() -> None:
    for _, a in all_actions():
        lead = a.get("lead", "")
        roles = a.get("lead_roles", [])
        if isinstance(lead, list):
            assert isinstance(roles, list) and len(roles) == len(lead), a["id"]
            pairs = list(zip(lead, roles, strict=True))
        else:
            assert all(isinstance(r, str) for r in roles), a["id"]
            pairs = [(lead or "", roles)]
        for text, group in pairs:
            assert isinstance(group, list), a["id"]
            assert bool(group) == bool(text.strip()), a["id"]
            for role in group:
                assert isinstance(role, str) and role.strip(), a["id"]
                assert role == role.strip(), a["id"]
                assert role.casefold() in text.casefold(), (a["id"], role, text)


def test_depends_on_only_where_the_text_names_a_work_stream() -> None:
    names_one = re.compile(r"work ?streams?\s*(\d|one)|\bWS\s?\d|\bKD\s?\d", re.IGNORECASE)
    for n, a in all_actions():
        text = " ".join(items(a.get("dependencies")))
        refs = a.get("depends_on", [])
        for ref in refs:
            assert set(ref) <= {"work_stream", "key_deliverable"}, a["id"]
            assert ref["work_stream"] in range(1, 10), a["id"]
            assert ref.get("key_deliverable", 1) >= 1, a["id"]
        if names_one.search(text):
            assert refs, a["id"]
        elif refs:
            assert text.casefold() == "as above", a["id"]  # the row above's references
        if n == 9 and re.search(r"\bKD\b", text):
            assert all(r["work_stream"] == 9 for r in refs), a["id"]


# --------------------------------------------------------------------------- sample rows
# Written by hand from the document.

SAMPLES: dict[str, dict[str, Any]] = {
    "WS1-01": {
        "id": "WS1-01",
        "key_deliverable": "1.",
        "action": "Guidance to be issued that outlines the purpose and benefits of chronologies "
        "in case assessment, planning and review.",
        "description": "Review functionality in CCMS and any changes which might be required to "
        "deliver best practice.",
        "lead": "Audit Manager QA",
        "lead_roles": ["Audit Manager QA"],
        "dependencies": [
            "None",
            "FWi update planned for Sept 2012 which will include revised functionality in "
            "relation to chronologies",
        ],
        "start": "May 2012",
        "target": "30 September 2012",
    },
    "WS2-01": {
        "id": "WS2-01",
        "key_deliverable": "1.",
        "action": [
            "Additional health visitors trained as required for the expansion of health visiting "
            "in Bedfordshire in accordance with the NHS operating Framework 2001/2012 & the Health "
            "visiting implementation plan A Call to Action (Feb 2011)",
            "SHA commissioned independent health visitor review",
        ],
        "description": [
            "Additional health visitors trained as required for the expansion of health visiting "
            "in Bedfordshire in accordance with the NHS operating framework 2012 & the health "
            "visiting implementation plan 2011",
            "Funding agreed by Commissioners to recruit additional health visitors into post",
            "Newly qualified health visitors recruited into post to increase numbers of practising "
            "health visitors within SEPT",
            "2nd cohort of additional trainee health visitors recruited & commenced training in "
            "accordance with the NHS Operating Framework 2011/ 2012",
            "New cohort of 10 recruited",
            "To review health visitors role and function",
        ],
        "lead": [
            "Anne Murray NHS Bedfordshire",
            "Chris Myers & Dawn Andrews SEPT",
            "East & Midlands SHA",
            "Anne Murray NHS Bedfordshire",
        ],
        "lead_roles": [
            ["Anne Murray"],
            ["Chris Myers", "Dawn Andrews"],
            ["East & Midlands SHA"],
            ["Anne Murray"],
        ],
        "dependencies": ["Additional staff recruited & trained.", "Cost to PCT has been agreed"],
        "start": ["April 2012", "18th June 2012"],
        "target": ["October 2012", "October 2012", "October 2012"],
    },
    "WS2-02": {
        "id": "WS2-02",
        "key_deliverable": "2",
        "action": [
            "Review provider organisations training strategies to ensure that evidence of "
            "learning & impact of training is captured",
            "Review the effectiveness of training on practice with CBSCB",
            "Yearly GP appraisals",
            "Multi agency training workshop",
        ],
        "description": [
            "Annual audit of training outcomes",
            "Continue to monitor uptake of training within provider organisations through "
            "quarterly quality schedules.",
            "Evidence that provider organisations as part of their evaluation on training "
            "programmes demonstrate impact on changes to practice by using competency framework",
            "Evidence that LSCB Safeguarding Children Training has been evaluated & the impact on "
            "practitioners has is analysed & evaluated by LSCB after each course by the following "
            "methods;"
            "\n• Immediate perception of impact at close of 2 day course"
            "\n• 6 week post course evaluation form to capture delegates perception of impact on "
            "practice"
            "\n• Proposed follow up call with delegates line manager to assess their perception "
            "of impact on delegates practice",
            "GP appraisals to determine how GP's are demonstrating child protection (CP) "
            "competencies",
            "All GP's to attend safeguarding course to enable them to demonstrate competencies & "
            "impact on practice.",
            "To review current training arrangements for GP's",
        ],
        "lead": [
            "Designated Office for Safeguarding Children",
            "Eileen Moran Training Commissioning Manager CBSCB",
            "Medical Director",
            "Named GP for Safeguarding Children Designated Office",
            "Anne Murray NHS Bedfordshire",
        ],
        "lead_roles": [
            ["Designated Office for Safeguarding Children"],
            ["Eileen Moran"],
            ["Medical Director"],
            ["Named GP for Safeguarding Children", "Designated Office"],
            ["Anne Murray"],
        ],
        "dependencies": "All GP practices have nominated safeguarding Children lead",
        "start": ["April 2012", "April 2012"],
        "target": "October 2012",
    },
    "WS3-01": {
        "id": "WS3-01",
        "key_deliverable": "1.",
        "action": "Ensure rates for Dental checks Annual assessments and Immunisations and "
        "vaccination are above National average",
        "description": "Ensure timely consent and adequate information are received from social "
        "worker for Initial and review health assessment",
        "lead": "Head of Social Care",
        "lead_roles": ["Head of Social Care"],
        "dependencies": "Agreement of service model Additional staffing employed.",
        "start": "May 2012",
        "target": "9th June 2012",
    },
    "WS3-07": {
        "id": "WS3-07",
        "key_deliverable": "3.",
        "action": "Ensure Health Assessments are robust and inclusive with evidence of the "
        "assessment of emotional health and well-being including use of Strength and Difficulties "
        "Questionnaires (SDQ's)",
        "description": "Workshop 3rd May 2012 to agree pathway with local authorities for use of "
        "Strength and Difficulties Questionnaires (SDQ) Every child will have their emotional "
        "health and well being assessed at each Health Assessment visit. Referral to CAMHS as "
        "necessary. Process agreed with SEPT. Monitored by Designated Office",
        "lead": ["Head of Social Care", "Deputy Chief Operating Officer (SEPT) /Designated Nurse"],
        "lead_roles": [
            ["Head of Social Care"],
            ["Deputy Chief Operating Officer (SEPT)", "Designated Nurse"],
        ],
        "dependencies": "Social Care to provide timely SDQ information to LAC Health team",
        "start": ["3rd May 2012", "April 2012"],
        "target": ["9th June 2012", "9th June 2012"],
    },
    "WS4-11": {
        "id": "WS4-11",
        "key_deliverable": "7.",
        "action": "Identify a data system that can be used to ensure timely provision of the "
        "information required to compare attainment of pupils residing in and outside of CBC",
        "description": [
            "Implement an appropriate data system that can be used in the short term with "
            "immediate effect.",
            "Identify the appropriate system for the future that will integrate with Framework 1",
            "Reports run for each Key Stage at the appropriate time (validated and unvalidated). "
            "Attainment and achievement of LAC in CB schools and other LA schools will be "
            "available for analysis",
            "Oversee the delivery and impact of the integrated Virtual School/ LAC Action Plan "
            "which includes agreed actions for all staff supporting LAC pupils",
            "Education achievement reports will be able to be provided annually, and progress "
            "towards targets will be reported regularly",
        ],
        "lead": [
            "Virtual School Lead",
            "Virtual School Lead with SC lead",
            "Virtual School Lead",
            "Virtual School Lead/SC lead",
            "Virtual School Lead",
        ],
        "lead_roles": [
            ["Virtual School Lead"],
            ["Virtual School Lead", "SC lead"],
            ["Virtual School Lead"],
            ["Virtual School Lead", "SC lead"],
            ["Virtual School Lead"],
        ],
        "dependencies": [
            "IT/Data system providing data in appropriate format",
            "Link to Workstream 9: Equality and Diversity",
        ],
        "depends_on": [{"work_stream": 9}],
        "start": ["Mar 2012", "April 2012", "Sept 2012", "June 2012", "June 2012"],
        "target": [
            "Sept 2012",
            "April 2013",
            "Feb 2013 for validated data but earlier for unvalidated",
            "June 2013",
            "Feb 2013",
        ],
    },
    "WS5-06": {
        "id": "WS5-06",
        "key_deliverable": "6.",
        "action": "Regularly review the sufficiency of social work capacity to manage the work "
        "of the service.",
        "description": "Link to recruitment strategy",
        "lead": "AD, HoS/TMs/HRBP",
        "lead_roles": ["AD", "HoS", "TMs", "HRBP"],
        "dependencies": "Social work posts are filled",
        "start": "September 2012",
        "target": "October 2012 Review every two months",
    },
    "WS6-07": {
        "id": "WS6-07",
        "key_deliverable": "7.",
        "action": "Improve capacity and choice in placements for all LAC",
        "description": [
            "Evaluate, review and update Placement Strategy",
            "Improve placement stability through recruitment of a larger pool of foster carers "
            "and through commissioning arrangements",
            "Draw up Local Adoption Action Plan in response to the new governmental requirements.",
            "Put in place adoption tracking meeting",
        ],
        "lead": ["HOS Fostering and Head of F and A/HoS LAC", "AD/HoS, A and F", "AD/HoS, A and F"],
        "lead_roles": [
            ["HOS Fostering", "Head of F and A", "HoS LAC"],
            ["AD", "HoS, A and F"],
            ["AD", "HoS, A and F"],
        ],
        "dependencies": "WS 1, 4 Key Deliverable 6",
        "depends_on": [{"work_stream": 1}, {"work_stream": 4, "key_deliverable": 6}],
        "start": "May 2013",
        "target": "June 2013",
    },
    "WS8-14": {
        "id": "WS8-14",
        "key_deliverable": "12.",
        "action": "Evaluate practice through peer review",
        "description": "Review focused on areas self assessed as requiring further acceleration "
        "to secure at least adequate",
        "lead": "",
        "lead_roles": [],
        "dependencies": "Funded through Regional Improvement Board",
        "start": "February 2013",
        "target": "Feb 2013",
    },
    "WS8-15": {
        "id": "WS8-15",
        "key_deliverable": "12.",
        "action": "",
        "description": "Revise action plan to address any issues from review",
        "lead": "",
        "lead_roles": [],
        "start": "February 2013",
        "target": "Dec 2013",
    },
    "WS9-01": {
        "id": "WS9-01",
        "key_deliverable": "7",
        "action": "Identify a Children's Services Equality & Diversity Champion",
        "description": [
            "Identify and share good practice;",
            "Oversee the delivery of the Ofsted action plan;",
            "Promote equality and diversity across the Children's Services Directorate.",
        ],
        "lead": "CSMT",
        "lead_roles": ["CSMT"],
        "dependencies": "All",
        "start": "July 2012",
        "target": "December 2013",
    },
    "WS9-07": {
        "id": "WS9-07",
        "key_deliverable": "5 & 6.",
        "action": "Rolling programme of equality audits",
        "description": "Establish programme of monthly team audits First audits to be carried out "
        "in LAC Team and Intake & Assessment Team.",
        "lead": "Equality & Diversity Champion supported by Corporate Policy Adviser",
        "lead_roles": ["Equality & Diversity Champion", "Corporate Policy Adviser"],
        "dependencies": "Effective identification of equality and diversity issues in all "
        "workstream briefs",
        "start": "July 2012",
        "target": "December 2013",
    },
    "WS9-09": {
        "id": "WS9-09",
        "key_deliverable": "5 & 6.",
        "action": "Recognition of good practice through Awards",
        "description": "Share existing examples of good practice across the Directorate Identify "
        "good practice in Children's Services Work with the Corporate Policy Adviser on readiness "
        "criteria for submission",
        "lead": "HOS/Corporate Policy Adviser/ Equality & Diversity Champion",
        "lead_roles": ["HOS", "Corporate Policy Adviser", "Equality & Diversity Champion"],
        "dependencies": "KD 1 & 2",
        "depends_on": [
            {"work_stream": 9, "key_deliverable": 1},
            {"work_stream": 9, "key_deliverable": 2},
        ],
        "start": "September 2012",
        "target": "December 2013",
    },
}


@pytest.mark.parametrize("action_id", sorted(SAMPLES))
def test_sample_row(action_id: str) -> None:
    assert action(action_id) == SAMPLES[action_id]


def test_as_above_dependencies_repeat_the_row_above() -> None:
    assert action("WS4-02")["dependencies"] == "As Above"
    assert (
        action("WS4-02")["depends_on"]
        == action("WS4-01")["depends_on"]
        == [{"work_stream": 1, "key_deliverable": 4}]
    )
    assert action("WS9-08")["dependencies"] == "As above"
    assert "depends_on" not in action("WS9-08") and "depends_on" not in action("WS9-07")


def test_work_stream_five_keeps_outcome_three_twice() -> None:
    assert [o["number"] for o in streams()[5]["outcomes"]] == ["1", "2", "3", "3"]


def test_work_stream_nine_key_deliverables_keep_source_order() -> None:
    assert [a["key_deliverable"] for a in streams()[9]["actions"]] == [
        "7", "1, 2, 3, 4", "1, 2 & 4", "1, 2 & 4", "1, 2 & 4", "2.",
        "5 & 6.", "5 & 6.", "5 & 6.", "7", "2",
    ]  # fmt: skip
