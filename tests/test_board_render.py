"""The board's escalation digest as email, HTML page, Markdown and CSV: what a reader sees."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jinja2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.mail import board_context
from worker.mail.board import (
    CSV_HEADINGS,
    render_board_digest,
    report_csv,
    report_html,
    report_markdown,
)
from worker.mail.board_context import TEXT_BAR_WIDTH, TEXT_LEGEND, apportion, stream_bars
from worker.mail.templating import make_environment
from worker.rules.board import BoardDigest, Change, Flagged, RagView, StreamSummary

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
AS_OF = date(2012, 10, 1)  # a Monday
PREVIOUS = date(2012, 9, 24)
ORG = "Central Bedfordshire Council"
HOSTILE_ACTION = "<script>alert(1)</script> Review & close cases"
HOSTILE_NOTE = "=cmd()|calc | more\nsecond line <b>bold</b>"

_BASE = RagView(
    action_id=1,
    ref="WS1-01",
    phase=1,
    work_stream_number=1,
    work_stream_title="Safeguarding six month actions",
    key_deliverable="1",
    action_text="Audit all open child protection plans",
    description="Every plan read by a team manager",
    leads=("Head of Safeguarding",),
    target_text="August 2012",
    due=date(2012, 8, 31),
    precision="month",
    days_overdue=31,
    reported="red",
    derived="red",
    effective="red",
    disagreement="",
    state="in progress",
    latest_note="Two teams still to finish",
    latest_note_by="Jane Smith",
    latest_note_at=datetime(2012, 9, 28, 13, 5, tzinfo=UTC),  # 14:05 in London (BST)
    at_risk_from=(),
)


def rag_view(ref: str, effective: str, **changes: Any) -> RagView:
    """A RagView for `ref` ("WS3-05": work stream 3), Red or Amber, other fields as given."""
    ws = int(ref[2 : ref.index("-")])
    fields: dict[str, Any] = {
        "action_id": ws * 100 + int(ref.rsplit("-", 1)[1]),
        "ref": ref,
        "work_stream_number": ws,
        "work_stream_title": STREAM_TITLES[ws],
        "phase": 1 if ws <= 3 else 2,
        "reported": effective,
        "derived": effective,
        "effective": effective,
    }
    if effective == "amber":
        fields |= {"days_overdue": 0, "target_text": "December 2012", "due": date(2012, 12, 31)}
    return dataclasses.replace(_BASE, **(fields | changes))


STREAM_TITLES = {
    1: "Safeguarding six month actions",
    2: "Leadership, management and governance of children's services",
    3: "Workforce development",
    4: "Quality assurance",
}
PHASES = {1: "Immediate improvements (0–6 months)", 2: "Sustained improvement (6–12 months)"}


def streams() -> tuple[StreamSummary, ...]:
    return (
        StreamSummary(1, STREAM_TITLES[1], 1, "Jane Smith", 6, 2, 1, 8, 2),
        StreamSummary(2, STREAM_TITLES[2], 1, "Tom Brown", 5, 0, 0, 0, 1),
        StreamSummary(3, STREAM_TITLES[3], 1, "Ann Lee", 3, 1, 1, 2, 0),
        StreamSummary(4, STREAM_TITLES[4], 2, "Raj Patel", 0, 1, 1, 0, 0),
    )


def attention() -> tuple[RagView, ...]:
    # Phase, work stream, ref order, as the escalation rules give it.
    return (
        rag_view("WS1-01", "red", action_text=HOSTILE_ACTION, latest_note=HOSTILE_NOTE),
        rag_view("WS1-02", "amber", leads=("Head of Safeguarding", "Service Manager")),
        rag_view("WS1-03", "amber", action_text="", description="Description stands in"),
        rag_view("WS3-05", "red", latest_note="", latest_note_by="", latest_note_at=None),
        rag_view("WS3-06", "amber", at_risk_from=("WS3-05",)),
        rag_view(
            "WS4-02",
            "red",
            reported="green",
            derived="red",
            disagreement="reported Green, overdue by 12 days",
            days_overdue=12,
        ),
        rag_view("WS4-03", "amber", reported="none", derived="amber"),
    )


def changes() -> tuple[Change, ...]:
    return (
        Change("newly_red", "WS3-05", 3, "Recruit permanent social workers", "amber", "red", ""),
        Change("newly_red", "WS4-02", 4, "Introduce a case file audit tool", "green", "red", ""),
        Change("newly_amber", "WS3-06", 3, "Induction programme", "green", "amber", ""),
        Change(
            "completed", "WS2-01", 2, "Publish the board's terms", "amber", "green", "completed"
        ),
    )


def digest(**overrides: Any) -> BoardDigest:
    fields: dict[str, Any] = {
        "plan_title": "Improvement action plan 2012-13",
        "organisation": ORG,
        "as_of": AS_OF,
        "previous": PREVIOUS,
        "phases": PHASES,
        "attention": attention(),
        "changes": changes(),
        "streams": streams(),
    }
    return BoardDigest(**(fields | overrides))


@pytest.fixture(scope="module")
def env() -> jinja2.Environment:
    return make_environment([TEMPLATES])


class _Page(HTMLParser):
    """Text (outside <style>), tags with their attributes, and any script."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("style", "script"):
            self._skip += 1
        if tag in ("p", "li", "h1", "h2", "h3", "h4", "tr", "div", "br"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1
        if tag in ("td", "th"):
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)

    @property
    def text(self) -> str:
        return re.sub(r"[ \t]+", " ", "".join(self.parts))


def page(html: str) -> _Page:
    parser = _Page()
    parser.feed(html)
    parser.close()
    return parser


@dataclasses.dataclass(frozen=True)
class Full:
    """The board report page, where the full list of Amber and Red actions lives (the email
    is the exception digest: tests/test_exception_digest.py)."""

    html: str

    @property
    def text(self) -> str:
        return page(self.html).text


def full(env: jinja2.Environment, board: BoardDigest) -> Full:
    return Full(report_html(env, board))


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


# --- The email ---------------------------------------------------------------------------


def test_subject_is_one_line_with_date_counts_and_organisation(env: jinja2.Environment) -> None:
    subject = render_board_digest(env, digest()).subject
    assert subject == f"Board digest 1 October 2012: 3 Red, 4 Amber — {ORG}"


def test_no_calendar_file(env: jinja2.Environment) -> None:
    assert render_board_digest(env, digest()).ics is None


def test_headline_gives_counts_and_newly_red(env: jinja2.Environment) -> None:
    rendered = full(env, digest())
    expected = "3 Red, 4 Amber of 31 actions; 2 newly Red since Monday 24 September 2012."
    assert expected in _lines(rendered.text)
    assert expected in _lines(page(rendered.html).text)


def test_text_bar_per_work_stream_with_counts_and_legend() -> None:
    text = "\n".join(bar.text_line for bar in stream_bars(digest())) + "\n" + TEXT_LEGEND
    lines = text.splitlines()
    ws1 = next(line for line in lines if line.startswith("WS1 "))
    assert re.search(r"\[G+A+R\.+\]", ws1)
    assert "G  6 A  2 R  1 –  8" in ws1
    # A fixed-width picture: every stream's bar starts in the same column.
    bars = [line for line in lines if re.match(r"WS\d ", line)]
    assert len(bars) == 4
    assert len({line.index("[") for line in bars}) == 1
    assert len({line.index("]") for line in bars}) == 1
    assert "G Green, A Amber, R Red, . Not reported" in text


def test_html_bar_per_work_stream_made_of_cells(env: jinja2.Environment) -> None:
    html = full(env, digest()).html
    parsed = page(html)
    cells = [attrs for tag, attrs in parsed.tags if tag == "td" and "bgcolor" in attrs]
    # WS1 green/amber/red/none, WS2 green, WS3 four colours, WS4 amber/red
    assert len(cells) == 4 + 1 + 4 + 2
    for attrs in cells:
        assert re.fullmatch(r"\d+%", attrs["width"] or "")
        style = attrs["style"] or ""
        assert f"background-color: {attrs['bgcolor']}" in style
        assert "width:" in style
        assert attrs["title"]  # "Green: 6": the colour in words on hover
    ws1 = [a for a in cells[:4]]
    assert [a["title"] for a in ws1] == ["Green: 6", "Amber: 2", "Red: 1", "Not reported: 8"]
    assert sum(int((a["width"] or "").rstrip("%")) for a in ws1) == 100
    # Counts readable without colour: in the bar, and in labelled columns beside it.
    flat = " ".join(parsed.text.split())
    assert "WS1 Safeguarding six month actions 6 2 1 8 6 2 1 8 17 WS2 " in flat
    assert "Work stream Share of actions Green Amber Red Not reported Total" in flat


def test_amber_text_is_dark(env: jinja2.Environment) -> None:
    html = full(env, digest()).html
    amber = next(a for t, a in page(html).tags if t == "td" and a.get("title") == "Amber: 2")
    assert "color: #1a1a1a" in (amber["style"] or "")


def test_changes_by_kind(env: jinja2.Environment) -> None:
    rendered = full(env, digest())
    for text in (rendered.text, page(rendered.html).text):
        lines = _lines(text)
        start = lines.index("What changed since Monday 24 September 2012")
        kinds = [
            line
            for line in lines[start:]
            if re.fullmatch(r"[A-Z][a-z]+( [A-Z][a-z]+)? \(\d\)", line)
        ]
        assert kinds[:3] == ["Newly Red (2)", "Newly Amber (1)", "Completed (1)"]
        assert any("WS3-05" in line and "was Amber, now Red" in line for line in lines)
        assert not any(line.startswith("Recovered") for line in lines)


def test_no_changes_said(env: jinja2.Environment) -> None:
    rendered = full(env, digest(changes=()))
    assert "No changes." in _lines(rendered.text)
    assert "No changes." in _lines(page(rendered.html).text)
    assert "0 newly Red since" in rendered.text


def test_first_digest_has_no_changes_section(env: jinja2.Environment) -> None:
    rendered = full(env, digest(previous=None, changes=()))
    for text in (rendered.text, page(rendered.html).text):
        assert "What changed" not in text
        assert "First digest" in text
        assert "newly Red" not in text


def _order(text: str, *needles: str) -> list[int]:
    return [text.index(n) for n in needles]


def test_red_before_amber_grouped_by_phase_then_work_stream(env: jinja2.Environment) -> None:
    rendered = full(env, digest())
    for text in (rendered.text, page(rendered.html).text):
        red = text.index("Red actions (3)")
        amber = text.index("Amber actions (4)")
        assert red < amber
        red_part, amber_part = text[red:amber], text[amber:]
        assert _order(red_part, "Phase 1: Immediate", "WS1-01", "WS3-05") == sorted(
            _order(red_part, "Phase 1: Immediate", "WS1-01", "WS3-05")
        )
        order = _order(
            red_part,
            "Phase 1: Immediate",
            "Work stream 1:",
            "WS1-01",
            "Work stream 3:",
            "WS3-05",
            "Phase 2: Sustained",
            "Work stream 4:",
            "WS4-02",
        )
        assert order == sorted(order)
        order = _order(amber_part, "Phase 1:", "WS1-02", "WS1-03", "WS3-06", "Phase 2:", "WS4-03")
        assert order == sorted(order)
        assert "WS1-02" not in red_part and "WS4-02" not in amber_part


def test_action_details(env: jinja2.Environment) -> None:
    rendered = full(env, digest())
    for text in (rendered.text, page(rendered.html).text):
        amber = text[text.index("Amber actions (4)") :]
        assert "Leads: Head of Safeguarding; Service Manager" in amber
        assert "Target: August 2012 (as written), read as Friday 31 August 2012" in text
        assert "Description stands in" in amber  # no action text: the description instead
        assert "Jane Smith, Friday 28 September 2012 at 14:05" in text
        assert "State: in progress" in text
        assert "At risk: depends on WS3-05 (Red)" in text


def test_disagreement_shows_both_rags_and_the_sentence(env: jinja2.Environment) -> None:
    rendered = full(env, digest())
    for text in (rendered.text, page(rendered.html).text):
        ws402 = text[text.index("WS4-02") :]
        assert re.search(r"Reported RAG: Green\W+Derived RAG: Red", ws402)
        assert "Disagreement: reported Green, overdue by 12 days" in ws402
        # Nothing reported: said in words, not left blank.
        ws403 = text[text.index("WS4-03") :]
        assert re.search(r"Reported RAG: Not reported\W+Derived RAG: Amber", ws403)
        # When they agree, one RAG.
        red = text[text.index("Red actions (3)") :]
        ws101 = red[red.index("WS1-01") : red.index("WS3-05")]
        assert "RAG: Red (reported and derived agree)" in ws101
        assert "Disagreement" not in ws101


def test_rags_are_words_not_colours_alone(env: jinja2.Environment) -> None:
    html = full(env, digest()).html
    spans = re.findall(r'<span class="rag rag-(\w+)"[^>]*>([^<]*)</span>', html)
    assert spans
    words = {"green": "Green", "amber": "Amber", "red": "Red", "none": "Not reported"}
    assert all(words[name] == word for name, word in spans)


def test_hostile_text_inert_in_html(env: jinja2.Environment) -> None:
    hostile = digest(needs=(Flagged(attention()[0], ("newly_red",), ("reported Red",)),))
    for html in (render_board_digest(env, hostile).html, report_html(env, digest())):
        parsed = page(html)
        assert "script" not in {tag for tag, _ in parsed.tags}
        assert "b" not in {tag for tag, _ in parsed.tags}
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert HOSTILE_ACTION in parsed.text


def test_no_external_resources_in_html(env: jinja2.Environment) -> None:
    for html in (render_board_digest(env, digest()).html, report_html(env, digest())):
        parsed = page(html)
        for tag, attrs in parsed.tags:
            assert tag not in ("script", "link", "img", "iframe", "object", "embed")
            for name in ("src", "href", "background"):
                value = (attrs.get(name) or "").strip().lower()
                assert not value or value.startswith(("mailto:", "#")), (tag, name, value)
        assert "url(" not in html and "@import" not in html
        assert not re.search(r"https?:", html)


def test_email_css_is_inlined_and_report_keeps_print_rules(env: jinja2.Environment) -> None:
    email_html = render_board_digest(env, digest()).html
    assert "<style" not in email_html and "@media" not in email_html
    report = report_html(env, digest())
    assert report.startswith("<!DOCTYPE html>")
    assert "<title>Board report 1 October 2012 — Central Bedfordshire Council</title>" in report
    assert "@media print" in report


def test_an_admins_email_can_still_list_every_red_and_amber_action(tmp_path: Path) -> None:
    # The shipped email leaves `sections` unread (it is worked out only when read); an
    # admin's body that lists them gets them all, in the report's order.
    own = tmp_path / "digest"
    own.mkdir()
    (own / "body.txt").write_text(
        "{{ sections|length }} sections\n"
        "{% for s in sections %}{{ s.title }} ({{ s.count }}):"
        "{% for p in s.phases %}{% for g in p.streams %}{% for a in g.actions %}"
        " {{ a.view.ref }}{% endfor %}{% endfor %}{% endfor %};{% endfor %}"
        " first: {{ sections[0].title }}\n",
        encoding="utf-8",
    )
    rendered = render_board_digest(make_environment([tmp_path, TEMPLATES]), digest())
    assert _lines(rendered.text) == [
        "2 sections",
        "Red actions (3): WS1-01 WS3-05 WS4-02;Amber actions (4): WS1-02 WS1-03 WS3-06 WS4-03;"
        " first: Red actions",
    ]


def test_the_shipped_email_never_builds_the_full_list(
    env: jinja2.Environment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every Amber and Red action's line is the report's, not the email's: on a large plan
    # building them for the email alone took hundreds of MB.
    def refuse(_: BoardDigest) -> object:
        raise AssertionError("the email built the report's list")

    monkeypatch.setattr(board_context, "rag_sections", refuse)
    assert "Board digest" in render_board_digest(env, digest()).subject


def test_empty_sections_say_so(env: jinja2.Environment) -> None:
    quiet = digest(attention=(), changes=())
    assert render_board_digest(env, quiet).subject.startswith(
        "Board digest 1 October 2012: 0 Red, 0 Amber"
    )
    rendered = full(env, quiet)
    assert "No red actions." in rendered.text and "No amber actions." in rendered.text
    assert "No red actions." in page(rendered.html).text


def test_stream_without_actions(env: jinja2.Environment) -> None:
    empty = StreamSummary(5, "Partnership working", 2, "Sam Green", 0, 0, 0, 0, 0)
    rendered = full(env, digest(streams=(*streams(), empty)))
    assert "No actions" in page(rendered.html).text
    lines = [bar.text_line for bar in stream_bars(digest(streams=(*streams(), empty)))]
    line = next(x for x in lines if x.startswith("WS5 "))
    assert "[" + " " * TEXT_BAR_WIDTH + "]" in line


def test_missing_phase_title_falls_back(env: jinja2.Environment) -> None:
    rendered = full(env, digest(phases={1: PHASES[1]}))
    assert "Phase 2: Phase 2" in rendered.text


@pytest.mark.parametrize(
    ("counts", "width", "expected"),
    [
        ([6, 2, 1, 8], 20, [7, 2, 1, 10]),
        ([6, 2, 1, 8], 16, [6, 2, 1, 7]),  # the Red 1 is raised to a whole unit, no more
        ([1, 1, 0, 98], 16, [1, 1, 0, 14]),
        ([1, 0, 0, 99], 20, [1, 0, 0, 19]),
        ([0, 0, 0, 0], 20, [0, 0, 0, 0]),
        ([1, 1, 1, 1], 100, [25, 25, 25, 25]),
        ([5, 0, 0, 0], 100, [100, 0, 0, 0]),
    ],
)
def test_apportion(counts: list[int], width: int, expected: list[int]) -> None:
    assert apportion(counts, width) == expected


@given(st.lists(st.integers(0, 500), min_size=4, max_size=4), st.sampled_from([4, 16, 100]))
def test_apportion_fills_the_bar_and_keeps_every_colour(counts: list[int], width: int) -> None:
    shares = apportion(counts, width)
    assert sum(shares) == (width if any(counts) else 0)
    assert all((share > 0) == (count > 0) for share, count in zip(shares, counts, strict=True))


# --- Markdown --------------------------------------------------------------------------------


def _md_cells(row: str) -> list[str]:
    assert row.startswith("| ") and row.endswith(" |")
    return re.split(r"(?<!\\) \| ", row[2:-2])


def test_markdown_document() -> None:
    md = report_markdown(digest())
    lines = md.splitlines()
    assert lines[0] == "# Board digest — Monday 1 October 2012"
    assert "**3 Red, 4 Amber of 31 actions; 2 newly Red since Monday 24 September 2012.**" in md
    assert "| WS1 Safeguarding six month actions | 6 | 2 | 1 | 8 | 17 |" in lines
    assert "## What changed since Monday 24 September 2012" in lines
    assert "### Newly Red (2)" in lines
    assert md.index("## Red actions (3)") < md.index("## Amber actions (4)")
    assert "### Phase 2: Sustained improvement (6–12 months)" in lines


def test_markdown_tables_keep_their_shape_with_hostile_text() -> None:
    md = report_markdown(digest())
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    action_rows = [r for r in rows if re.match(r"\| WS\d-\d\d ", r)]
    assert len(action_rows) == 7
    for row in action_rows:
        assert len(_md_cells(row)) == 9
    ws101 = next(r for r in action_rows if r.startswith("| WS1-01 "))
    note = _md_cells(ws101)[-1]
    assert note.startswith(r"=cmd()\|calc \| more second line &lt;b&gt;bold&lt;/b&gt;")
    assert "<script>" not in md and "<b>" not in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Review &amp; close cases" in ws101
    ws402 = next(r for r in action_rows if r.startswith("| WS4-02 "))
    assert "reported Green, overdue by 12 days" in ws402
    ws306 = next(r for r in action_rows if r.startswith("| WS3-06 "))
    assert "At risk: depends on WS3-05 (Red)" in ws306


def test_markdown_first_digest_and_no_changes() -> None:
    assert "First digest" in report_markdown(digest(previous=None, changes=()))
    assert "\nNo changes.\n" in report_markdown(digest(changes=()))


# --- CSV -------------------------------------------------------------------------------------


def test_csv_rows_columns_and_formula_guard() -> None:
    text = report_csv(digest())
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == list(CSV_HEADINGS)
    assert len(rows) == 1 + 7
    assert all(len(r) == len(CSV_HEADINGS) for r in rows)
    records = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert [r["ID"] for r in records] == [
        "WS1-01", "WS3-05", "WS4-02", "WS1-02", "WS1-03", "WS3-06", "WS4-03",
    ]  # fmt: skip
    first = records[0]
    assert first["Latest Note"] == "'" + HOSTILE_NOTE  # newlines and | kept, inert
    assert first["Action"] == HOSTILE_ACTION
    assert first["Phase"] == "1: Immediate improvements (0–6 months)"
    assert first["Due"] == "2012-08-31"
    assert first["Note Date"] == "2012-09-28 14:05"
    ws402 = records[2]
    assert (ws402["Reported RAG"], ws402["Derived RAG"], ws402["Effective RAG"]) == (
        "Green",
        "Red",
        "Red",
    )
    assert ws402["Disagreement"] == "reported Green, overdue by 12 days"
    assert records[5]["At Risk From"] == "WS3-05"
    assert records[6]["Reported RAG"] == "Not reported"
    assert records[4]["Action"] == "Description stands in"


def test_csv_guards_every_formula_start() -> None:
    views = tuple(
        rag_view(f"WS1-0{i}", "red", latest_note=start + "1", latest_note_by=start + "x")
        for i, start in enumerate("=+-@", start=1)
    )
    rows = list(csv.reader(io.StringIO(report_csv(digest(attention=views)), newline="")))
    notes = [
        (r[CSV_HEADINGS.index("Latest Note")], r[CSV_HEADINGS.index("Note By")]) for r in rows[1:]
    ]
    assert notes == [("'=1", "'=x"), ("'+1", "'+x"), ("'-1", "'-x"), ("'@1", "'@x")]
