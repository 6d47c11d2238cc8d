"""The seed format: a plan as reviewable YAML (see seed/ and docs/plan-data.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
)

from worker.errors import InputError, Problem
from worker.plan.data import (
    ActionData,
    DependencyRef,
    Outcome,
    PlanDoc,
    PlanInfo,
    Row,
    State,
    WorkStream,
    parse_rag,
    parse_state,
)
from worker.plan.leads import split_roles
from worker.plan.limits import MAX_NUMBER, MAX_REF, action_problems
from worker.plan.split import date_items, items, row_shape, split_row
from worker.schedule import check_timezone

Items = str | list[str]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _parses(parse: Callable[[str], object]) -> AfterValidator:
    """A text field kept as written once `parse` accepts it (its ValueError is the message)."""

    def check(value: str) -> str:
        parse(value)
        return value

    return AfterValidator(check)


class _Ref(_Strict):
    work_stream: int = Field(ge=1, le=MAX_NUMBER)
    key_deliverable: int | None = Field(default=None, ge=1, le=MAX_NUMBER)


class _Action(_Strict):
    id: str = Field(min_length=1, max_length=MAX_REF)
    row: str = Field(default="", max_length=MAX_REF)
    key_deliverable: str = Field(default="", max_length=MAX_REF)
    action: Items = ""
    description: Items = ""
    lead: Items = ""
    lead_roles: list[str] | list[list[str]] = []
    dependencies: Items = ""
    depends_on: list[_Ref] = []
    start: Items = ""
    target: Items = ""
    rag: Annotated[str, _parses(parse_rag)] = ""
    state: Annotated[str, _parses(parse_state)] = ""


class _Outcome(_Strict):
    number: str = Field(max_length=16)  # the database column's size
    text: str


class _WorkStream(_Strict):
    number: int = Field(ge=1, le=MAX_NUMBER)
    title: str
    heading: str = ""
    phase: int = Field(ge=1, le=MAX_NUMBER)
    strategic_lead: str = ""
    key_aim: str = ""
    outcomes: list[_Outcome] = []
    actions: list[_Action] = []


class _Phase(_Strict):
    number: int = Field(ge=1, le=MAX_NUMBER)
    title: str


class _Plan(_Strict):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    title: str
    organisation: str = ""
    source: str = ""
    timezone: Annotated[str, AfterValidator(check_timezone)] = "Europe/London"
    rag_legend: dict[str, str] = {}
    phases: list[_Phase] = []


class _File(_Strict):
    plan: _Plan
    work_streams: list[_WorkStream]


def _items(value: Items) -> tuple[str, ...]:
    """A string is split at blank lines like any stored cell; list entries are items."""
    if isinstance(value, str):
        return items(value)
    return tuple(" ".join(p for p in items(v)) for v in value if v.strip())


def _lead_roles(action: _Action, lead: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """One group of roles per lead item (nested list), or one group for the whole row."""
    given = action.lead_roles
    if not given:
        return tuple(split_roles(item) for item in lead)
    if all(isinstance(group, list) for group in given):
        if len(given) != len(lead):
            raise ValueError(
                f"lead_roles lists {len(given)} groups but lead has {len(lead)} items; "
                "give one list of roles per lead item, or one flat list for the row"
            )
        return tuple(tuple(str(r).strip() for r in group) for group in given)
    return (tuple(str(r).strip() for r in given),)


def _check_split_roles(row: Row) -> None:
    shape = row_shape(row)
    n = shape.counts["descriptions"]
    if shape.split and len(row.lead) == n and len(row.lead_roles) != n:
        raise ValueError(
            f"this row becomes {n} actions with a lead each, so lead_roles must be "
            "one list of roles per lead item"
        )


def _row(ws: int, action: _Action) -> Row:
    lead = _items(action.lead)
    return Row(
        ref=action.id.strip(),
        row_ref=action.row.strip(),
        work_stream=ws,
        key_deliverable=action.key_deliverable.strip(),
        action=_items(action.action),
        description=_items(action.description),
        lead=lead,
        lead_roles=_lead_roles(action, lead),
        dependencies=_items(action.dependencies),
        depends_on=tuple(
            DependencyRef(r.work_stream, r.key_deliverable) for r in action.depends_on
        ),
        start=_items(action.start),
        target=_items(action.target),
        rag=parse_rag(action.rag),
        state=parse_state(action.state),
    )


def _place(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _validate(data: Any, source: str) -> _File:
    try:
        return _File.model_validate(data)
    except ValidationError as exc:
        problems = [Problem(_place(e["loc"]), e["msg"]) for e in exc.errors()]
        raise InputError(source, problems) from None


def _doc(parsed: _File, source: str) -> PlanDoc:
    problems: list[Problem] = []
    actions: list[ActionData] = []
    for i, ws in enumerate(parsed.work_streams):
        for j, action in enumerate(ws.actions):
            place = f"work_streams[{i}].actions[{j}]"
            try:
                row = _row(ws.number, action)
                _check_split_roles(row)
                split = split_row(row)
            except ValueError as exc:
                problems.append(Problem(f"{place} ({action.id})", str(exc)))
                continue
            for item in split:
                problems += [Problem(f"{place}.{f}", r) for f, r in action_problems(item)]
            actions.extend(split)
    if problems:
        raise InputError(source, problems)
    streams = tuple(_stream(ws) for ws in parsed.work_streams)
    return PlanDoc(_info(parsed.plan), streams, tuple(actions))


# The file's models name their fields as the plan's data does; these add what differs.


def _info(plan: _Plan) -> PlanInfo:
    phases = {p.number: p.title for p in plan.phases}
    return PlanInfo(slug=plan.id, phases=phases, **plan.model_dump(exclude={"id", "phases"}))


def _stream(ws: _WorkStream) -> WorkStream:
    outcomes = tuple(Outcome(**o.model_dump()) for o in ws.outcomes)
    return WorkStream(outcomes=outcomes, **ws.model_dump(exclude={"outcomes", "actions"}))


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing two things a plan never needs: aliases (``*name``), which
    can make a small file expand into a huge plan, and a key given twice in one mapping,
    which would silently keep only the last."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.MarkedYAMLError(None, None, "aliases (*name) are not allowed", mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = (key_node.tag, key_node.value)
                if key in seen:
                    reason = f"the key {key_node.value!r} is given twice"
                    raise yaml.MarkedYAMLError(None, None, reason, key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep)


# The largest plan file read as YAML. The whole document is held while it is read, at about
# 40 times its size (a 100,000-action plan's 51 MB took 1.9 GB), so a plan of this size,
# some 30,000 actions, already takes 600 MB; a larger plan is imported as CSV, which
# streams. A council's plan is a few hundred kilobytes.
YAML_MAX_BYTES = 16 * 1024 * 1024


def yaml_refusal(size: int) -> str | None:
    """Why a YAML plan of `size` bytes would not be read, or None."""
    if size <= YAML_MAX_BYTES:
        return None
    return (
        f"the file is {size:,} bytes, more than a plan in YAML may be ({YAML_MAX_BYTES:,}); "
        "a plan this large is imported as CSV (`planworker plan export --format csv` writes one)"
    )


def read_yaml(path: Path) -> PlanDoc:
    """Read a plan in the seed format. Raises InputError naming every problem found."""
    source = str(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(YAML_MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(source, [Problem("", f"cannot read the file: {exc.strerror}")]) from None
    refusal = yaml_refusal(max(len(raw), path.stat().st_size))
    if refusal:
        raise InputError(source, [Problem("", refusal)])
    try:
        # Line ends as text mode reads them (as the file was read before the size limit).
        text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader
    except UnicodeDecodeError as exc:
        raise InputError(source, [Problem("", f"not UTF-8 text ({exc.reason})")]) from None
    except RecursionError:  # the composer nests one Python call per nested list or mapping
        reason = "not valid YAML: lists or mappings are nested too deeply"
        raise InputError(source, [Problem("", reason)]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise InputError(source, [Problem(where, f"not valid YAML: {reason}")]) from None
    return _doc(_validate(data, source), source)


# --- writing -------------------------------------------------------------------------------


# libyaml's emitter where PyYAML was built with it: the same text (tests/test_plan_export.py),
# several times faster, which a plan of a million actions needs.
_Base: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_Base):  # type: ignore[valid-type,misc]
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _cell(text: str) -> str | list[str]:
    parts = list(items(text))
    return parts[0] if len(parts) == 1 else (parts or "")


def _date_cell(text: str) -> str | list[str]:
    parts = list(date_items(text))
    return parts[0] if len(parts) == 1 else (parts or "")


def _action_entry(action: ActionData) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": action.ref}
    if action.row_ref and action.row_ref != action.ref:
        entry["row"] = action.row_ref
    entry.update(
        {
            "key_deliverable": action.key_deliverable,
            "action": _cell(action.action),
            "description": _cell(action.description),
            "lead": _cell(action.lead),
            "lead_roles": list(action.lead_roles),
            "dependencies": _cell(action.dependencies),
        }
    )
    if action.depends_on:
        entry["depends_on"] = [
            {
                "work_stream": d.work_stream,
                **({"key_deliverable": d.key_deliverable} if d.key_deliverable is not None else {}),
            }
            for d in action.depends_on
        ]
    entry["start"] = _date_cell(action.start)
    entry["target"] = _date_cell(action.target)
    if action.rag is not None:
        entry["rag"] = action.rag.value
    if action.state is not None and action.state is not State.NOT_STARTED:
        entry["state"] = action.state.value
    return entry


# Lines of YAML are folded at this column.
_WIDTH = 100
# A work stream's actions are written two columns in, under "  actions:".
_NESTED = "  "
# Actions written per call to the dumper: each call has its own cost, and one call for all
# of them would hold the plan's whole text at once.
_ACTIONS_PER_DUMP = 500


def _yaml(data: object, width: int = _WIDTH) -> str:
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=width)
    # Without the optional "..." that may end a document (libyaml writes it after any
    # text kept with its final line breaks): in the middle of the file it would end it.
    return text.removesuffix("\n...\n") + "\n" if text.endswith("\n...\n") else text


def _indented(text: str) -> str:
    # Empty lines stay empty: in a literal block they are the text's own blank lines.
    return "".join(_NESTED + line if line != "\n" else line for line in text.splitlines(True))


def yaml_parts(
    info: PlanInfo,
    streams: Sequence[WorkStream],
    actions: Callable[[WorkStream], Iterable[ActionData]],
) -> Iterator[str]:
    """The plan in the seed format, a piece at a time, with each work stream's `actions`
    asked for in turn: a plan of a million actions is never held as one text.

    The text is the one a single dump of the whole plan gives: each part is dumped on its
    own, and a stream's actions, two columns in, are folded two columns sooner."""
    # A title of several lines (which YAML allows) stays within the comment.
    title = info.title.replace("\r", " ").replace("\n", " ")
    yield f"# {title}\n# Exported by planworker in the seed format (docs/plan-data.md).\n"
    plan: dict[str, Any] = {
        "id": info.slug,
        "title": info.title,
        "organisation": info.organisation,
        "source": info.source,
        "timezone": info.timezone,
        "rag_legend": dict(info.rag_legend),
        "phases": [{"number": n, "title": t} for n, t in sorted(info.phases.items())],
    }
    yield _yaml({"plan": plan})
    yield "work_streams:\n" if streams else "work_streams: []\n"
    for ws in streams:
        yield _yaml(
            [
                {
                    "number": ws.number,
                    "title": ws.title,
                    "heading": ws.heading,
                    "phase": ws.phase,
                    "strategic_lead": ws.strategic_lead,
                    "key_aim": ws.key_aim,
                    "outcomes": [{"number": o.number, "text": o.text} for o in ws.outcomes],
                }
            ]
        )
        entries = iter(actions(ws))
        batch = list(islice(entries, _ACTIONS_PER_DUMP))
        yield f"{_NESTED}actions:\n" if batch else f"{_NESTED}actions: []\n"
        while batch:
            width = _WIDTH - len(_NESTED)
            yield _indented(_yaml([_action_entry(a) for a in batch], width))
            batch = list(islice(entries, _ACTIONS_PER_DUMP))


def dump_yaml(doc: PlanDoc) -> str:
    """The plan in the seed format; reading it back gives the same plan."""
    by_stream: dict[int, list[ActionData]] = {}
    for action in doc.actions:
        by_stream.setdefault(action.work_stream, []).append(action)
    parts = yaml_parts(doc.info, doc.work_streams, lambda ws: by_stream.get(ws.number, ()))
    return "".join(parts)
