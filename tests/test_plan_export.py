"""`plan export` writes a plan of any size as it reads it, a chunk of actions at a time:
the files are the ones a single read and a single dump of the whole plan give, they import
back unchanged, and a workbook `plan import` would refuse is said to be so at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from tests.conftest import SEED, Cli
from worker.errors import InputError
from worker.io import xlsx
from worker.io.export import export_rows, write_xlsx
from worker.io.tables import read_xlsx
from worker.io.xlsx import Limits, import_refusal
from worker.models import Action
from worker.plan import yaml_io
from worker.plan.data import ActionData, Outcome, PlanDoc, PlanInfo, WorkStream
from worker.store import plan as plan_store


@pytest.mark.parametrize("fmt", ["yaml", "csv", "xlsx"])
def test_an_export_read_in_small_chunks_is_the_same_file_and_imports_back_unchanged(
    cli: Cli, engine: Engine, tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("plan", "import", str(SEED))
    whole = tmp_path / f"whole.{fmt}"
    cli("plan", "export", "--format", fmt, "-o", str(whole))
    # Chunks that end inside work streams and inside the dumper's batches.
    monkeypatch.setattr(plan_store, "READ_CHUNK", 7)
    monkeypatch.setattr(yaml_io, "_ACTIONS_PER_DUMP", 3)
    chunked = tmp_path / f"chunked.{fmt}"
    result = cli("plan", "export", "--format", fmt, "-o", str(chunked))
    assert "warning" not in result.output
    if fmt == "xlsx":
        assert read_xlsx(chunked) == read_xlsx(whole)
    else:
        assert chunked.read_bytes() == whole.read_bytes()
    imported = json.loads(cli("plan", "import", str(chunked), "--json").output)
    assert (imported["added"], imported["updated"], imported["archived"]) == (0, 0, 0)
    assert imported["status_changes"] == 0


def test_an_export_to_standard_output_is_the_file(cli: Cli, tmp_path: Path) -> None:
    cli("plan", "import", str(SEED))
    out = tmp_path / "plan.yaml"
    cli("plan", "export", "-o", str(out))
    assert cli("plan", "export").stdout_bytes == out.read_bytes()
    out = tmp_path / "plan.csv"
    cli("plan", "export", "--format", "csv", "-o", str(out))
    printed = cli("plan", "export", "--format", "csv").stdout_bytes
    # The file starts with a byte order mark for spreadsheet programs; the output does not.
    assert "\ufeff".encode() + printed == out.read_bytes()


# --- the YAML written a piece at a time ----------------------------------------------------

# Texts with what changes how YAML writes them: line breaks (literal blocks), quotes,
# indicators, characters beyond ASCII, and long lines that are folded.
texts = st.text(st.sampled_from([*"abcxyz :#'\"-é—\t", "\n"]), max_size=40) | st.builds(
    lambda word, n: " ".join([word] * n),
    st.sampled_from(["word", "a-much-longer-word"]),
    st.integers(1, 40),
)


@st.composite
def plans(draw: st.DrawFn) -> PlanDoc:
    streams = tuple(
        WorkStream(
            number=n,
            title=draw(texts),
            heading=draw(texts),
            phase=1,
            strategic_lead=draw(texts),
            key_aim=draw(texts),
            outcomes=tuple(Outcome(str(i), draw(texts)) for i in range(draw(st.integers(0, 2)))),
        )
        for n in range(1, draw(st.integers(0, 3)) + 1)
    )
    actions = []
    for ws in streams:
        for i in range(draw(st.integers(0, 7))):
            actions.append(
                ActionData(
                    ref=f"WS{ws.number}-{i}",
                    row_ref="",
                    work_stream=ws.number,
                    key_deliverable=draw(texts),
                    action=draw(texts),
                    description=draw(texts),
                    lead=draw(texts),
                    lead_roles=tuple(draw(st.lists(texts, max_size=2))),
                    dependencies=draw(texts),
                    depends_on=(),
                    start=draw(texts),
                    target=draw(texts),
                )
            )
    info = PlanInfo(slug="p", title=draw(texts), organisation=draw(texts), phases={1: "One"})
    return PlanDoc(info, streams, tuple(actions))


def one_dump(doc: PlanDoc) -> str:
    """The whole plan dumped at once by PyYAML's own Python emitter: what the pieces must
    add up to, whichever emitter wrote them."""

    class Reference(yaml.SafeDumper):
        pass

    Reference.add_representer(str, yaml_io._str)
    info = doc.info
    plan = {
        "id": info.slug,
        "title": info.title,
        "organisation": info.organisation,
        "source": info.source,
        "timezone": info.timezone,
        "rag_legend": dict(info.rag_legend),
        "phases": [{"number": n, "title": t} for n, t in sorted(info.phases.items())],
    }
    streams = [
        {
            "number": ws.number,
            "title": ws.title,
            "heading": ws.heading,
            "phase": ws.phase,
            "strategic_lead": ws.strategic_lead,
            "key_aim": ws.key_aim,
            "outcomes": [{"number": o.number, "text": o.text} for o in ws.outcomes],
            "actions": [
                yaml_io._action_entry(a) for a in doc.actions if a.work_stream == ws.number
            ],
        }
        for ws in doc.work_streams
    ]
    body = yaml.dump(
        {"plan": plan, "work_streams": streams},
        Dumper=Reference,
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
    title = info.title.replace("\n", " ")
    note = "# Exported by planworker in the seed format (docs/plan-data.md).\n"
    return f"# {title}\n{note}{body}"


@settings(max_examples=150, deadline=None)
@given(plans(), st.integers(1, 4))
def test_the_yaml_written_in_pieces_is_one_dump_of_the_whole_plan(doc: PlanDoc, batch: int) -> None:
    before = yaml_io._ACTIONS_PER_DUMP
    yaml_io._ACTIONS_PER_DUMP = batch
    try:
        written = yaml_io.dump_yaml(doc)
    finally:
        yaml_io._ACTIONS_PER_DUMP = before
    assert written == one_dump(doc)
    assert yaml.safe_load(written) == yaml.safe_load(one_dump(doc))


# --- a workbook too large to import back ---------------------------------------------------


@pytest.mark.parametrize(
    "limits",
    [
        xlsx.LIMITS,
        Limits(rows=50),
        Limits(rows=len(yaml_io.read_yaml(SEED).actions) + 1),
        Limits(cells=500),
        Limits(unpacked_bytes=20_000),
    ],
    ids=["shipped", "rows", "rows-just-enough", "cells", "unpacked"],
)
def test_an_export_says_the_workbook_would_be_refused_exactly_when_the_import_refuses_it(
    tmp_path: Path, limits: Limits
) -> None:
    out = tmp_path / "plan.xlsx"
    with out.open("wb") as handle:
        written = write_xlsx(export_rows(yaml_io.read_yaml(SEED).actions, "end"), handle)
    refusal = import_refusal(out, written.rows, written.cells, limits)
    try:
        read_xlsx(out, limits=limits)
    except InputError:
        assert refusal is not None
    else:
        assert refusal is None


def test_a_workbook_export_beyond_the_import_limits_warns_and_still_writes(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("plan", "import", str(SEED))
    monkeypatch.setattr(xlsx, "LIMITS", Limits(rows=50))
    out = tmp_path / "plan.xlsx"
    result = cli("plan", "export", "--format", "xlsx", "-o", str(out))
    assert "would refuse it: the sheet has" in result.stderr
    assert "rows (limit 50)" in result.stderr
    assert "--format csv" in result.stderr
    assert read_xlsx(out).actions == read_xlsx(out, limits=Limits()).actions


# --- a YAML plan too large to read back ----------------------------------------------------


def test_a_yaml_plan_larger_than_the_limit_is_refused_naming_the_file_and_writes_nothing(
    cli: Cli, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(yaml_io, "YAML_MAX_BYTES", SEED.stat().st_size - 1)
    result = cli("plan", "import", str(SEED), ok=False)
    assert result.exit_code == 1
    assert str(SEED) in result.output
    assert f"the file is {SEED.stat().st_size:,} bytes" in result.output
    assert "imported as CSV" in result.output
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Action)).scalar_one() == 0
    monkeypatch.setattr(yaml_io, "YAML_MAX_BYTES", SEED.stat().st_size)
    cli("plan", "import", str(SEED))  # a file of just the limit is read


def test_a_yaml_export_larger_than_the_import_reads_warns_and_still_writes(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("plan", "import", str(SEED))
    out = tmp_path / "plan.yaml"
    assert "warning" not in cli("plan", "export", "-o", str(out)).stderr
    size = out.stat().st_size
    monkeypatch.setattr(yaml_io, "YAML_MAX_BYTES", size - 1)
    again = tmp_path / "again.yaml"
    result = cli("plan", "export", "-o", str(again))
    assert f"would refuse it: the file is {size:,} bytes" in result.stderr
    assert again.read_bytes() == out.read_bytes()
    printed = cli("plan", "export")
    assert "would refuse it" in printed.stderr


def test_a_yaml_plan_with_windows_line_ends_reads_as_the_same_plan(tmp_path: Path) -> None:
    crlf = tmp_path / "plan.yaml"
    crlf.write_bytes(SEED.read_bytes().replace(b"\n", b"\r\n"))
    assert yaml_io.read_yaml(crlf) == yaml_io.read_yaml(SEED)
