"""Rendering an email from Jinja templates: the environment (an admin's folder over the
shipped one), template errors that name the file and line, and the subject, plain text and
HTML with its CSS inlined that every email is made of.

No clock and no network: the same context and templates always render the same.
"""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, cast
from weakref import WeakKeyDictionary

import css_inline
import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from markupsafe import escape

from worker.errors import PlanworkerError
from worker.mail.filters import FILTERS
from worker.mail.headers import one_line
from worker.mail.inline import inline_source


class TemplateError(PlanworkerError):
    """A template that cannot be found, parsed or rendered; names the file and the line."""

    def __init__(self, template: str, reason: str, *, line: int | None = None) -> None:
        self.template = template
        self.reason = reason
        self.line = line
        where = f"{template}, line {line}" if line else template
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    ics: bytes | None

    def __post_init__(self) -> None:
        # The subject becomes a header: a line break in it could start a new header.
        if self.subject != one_line(self.subject) or not self.subject:
            raise ValueError(f"subject must be one non-empty line: {self.subject!r}")


def _str_escaper() -> Callable[[str], str]:
    """markupsafe's own escaping of a str, in C, without the Markup escape() puts around it
    (made in Python): the same characters, for template output that is only joined. On a
    markupsafe without it, escape() itself."""
    try:
        fast = getattr(importlib.import_module("markupsafe._speedups"), "_escape_inner", None)
    except ImportError:
        fast = None
    probe = "<a href=\"x\">'&'</a>"
    if callable(fast) and fast(probe) == str(escape(probe)):
        return cast(Callable[[str], str], fast)
    return lambda text: str(escape(text))


class _CodeGenerator(CodeGenerator):
    """Jinja's code generator (Environment.code_generator_class), with two lookups done in
    C first: the reminder templates print tens of thousands of values per message, and
    these two Python calls per value were most of the time spent rendering the HTML.

    - `name.attr` is read by the builtin getattr; only when it finds nothing does
      Environment.getattr run, as before (an item of a dict, else Undefined).
    - An escaped value that is a str is escaped by markupsafe in C and output as it is;
      escape() gives the same characters wrapped in a Markup made in Python. Anything else
      (Markup, numbers, objects with __html__) goes through escape() as before.

    Templates see and output exactly what they did (tests/test_template_codegen.py)."""

    def visit_Getattr(self, node: nodes.Getattr, frame: Frame) -> None:
        if not isinstance(node.node, nodes.Name) or self.environment.is_async:
            super().visit_Getattr(node, frame)
            return
        self.write("(t_attr if (t_attr := getattr(")
        self.visit(node.node, frame)
        self.write(f", {node.attr!r}, missing)) is not missing else environment.getattr(")
        self.visit(node.node, frame)
        self.write(f", {node.attr!r}))")

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        if frame.eval_ctx.volatile or not frame.eval_ctx.autoescape or finalize.src:
            super()._output_child_pre(node, frame, finalize)
            return
        # A str escaped in C and output as it is, where escape() would wrap it in a Markup
        # made in Python: the same characters. Anything else goes through escape().
        self.write("(environment.escape_str(t_out) if (t_out := ")

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        if frame.eval_ctx.volatile or not frame.eval_ctx.autoescape or finalize.src:
            super()._output_child_post(node, frame, finalize)
            return
        self.write(").__class__ is str else escape(t_out))")


class _Environment(jinja2.Environment):
    code_generator_class = _CodeGenerator
    escape_str = staticmethod(_str_escaper())


def make_environment(folders: Sequence[Path]) -> jinja2.Environment:
    """Templates from `folders`, first match wins (an admin's folder, then the shipped one)."""
    if not folders:
        raise ValueError("make_environment needs at least one templates folder")
    for folder in folders:
        if not folder.is_dir():
            # A mistyped override folder would otherwise be skipped without a word.
            raise TemplateError(str(folder), "templates folder not found")
    env = _Environment(
        loader=jinja2.FileSystemLoader(list(folders)),
        undefined=jinja2.StrictUndefined,
        # Only .html files are escaped: escaping the .txt files would put "&amp;" in the plain
        # text and the subject. A template made from a string has no name to judge by, so it is
        # escaped: a stray "&amp;" is a visible nuisance, unescaped markup in HTML is not.
        autoescape=jinja2.select_autoescape(["html"], default_for_string=True, default=False),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


def _template_line(exc: BaseException) -> tuple[str | None, int | None]:
    """The innermost template frame of a runtime error (Jinja maps its frames to templates)."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if not frame.filename.endswith(".py"):
            return frame.filename, frame.lineno
    return None, None


# Pieces of output joined at a time (see _joined).
_CHUNK = 200


def _joined(pieces: Iterator[str]) -> str:
    """The pieces a template yields, joined a chunk at a time. Template.render joins them all
    at once, holding every piece of a large message until the end; a Markup (escaped HTML)
    is an object the garbage collector tracks, and a million of them alive at once made it
    sweep the whole heap several times per run."""
    chunks = []
    while batch := list(islice(pieces, _CHUNK)):
        chunks.append("".join(batch))
    return "".join(chunks)


def render_template(
    env: jinja2.Environment,
    name: str,
    context: Mapping[str, object],
    template: jinja2.Template | None = None,
) -> str:
    """Template `name` (or `template`, made from it) rendered with `context`; raises
    TemplateError naming the file and line."""
    try:
        template = template or env.get_template(name)
        # What Template.render does, with the output joined by _joined.
        try:
            return _joined(template.root_render_func(template.new_context(dict(context))))
        except Exception:
            env.handle_exception()  # raises the error with the template's own lines
            raise
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            exc.filename or exc.name or name, exc.message or str(exc), line=exc.lineno
        ) from exc
    except jinja2.TemplateNotFound as exc:
        folders = ", ".join(str(p) for p in getattr(env.loader, "searchpath", []))
        path, line = _template_line(exc)
        where = path if exc.name != name and path else name
        raise TemplateError(
            where, f"template {exc.name!r} not found in {folders}", line=line
        ) from exc
    except jinja2.TemplateError as exc:  # UndefinedError and other errors while rendering
        path, line = _template_line(exc)
        raise TemplateError(path or name, exc.message or str(exc), line=line) from exc


def inline_css(html: str, name: str) -> str:
    """`html` with its stylesheets moved into style attributes, as mail clients need."""
    # No stylesheet is fetched, remote or local: the message must not depend on anything but
    # the template, and a <link> in an admin's template must not read files from this machine.
    inliner = css_inline.CSSInliner(
        load_remote_stylesheets=False, keep_style_tags=False, keep_link_tags=False
    )
    try:
        return inliner.inline(html)
    except ValueError as exc:  # css_inline.InlineError
        raise TemplateError(name, f"cannot inline its CSS: {exc}") from exc


@dataclass(frozen=True, slots=True)
class _Inlined:
    template: jinja2.Template | None  # None: not safe to inline at load, done per message
    uptodate: Callable[[], bool] | None


# Per environment, the HTML templates with their CSS inlined at load (worker/mail/inline.py).
_INLINED: WeakKeyDictionary[jinja2.Environment, dict[str, _Inlined]] = WeakKeyDictionary()


def _inlined_template(env: jinja2.Environment, name: str) -> jinja2.Template | None:
    """Template `name` with its CSS already in style attributes, or None when it must be
    inlined per message. Made once per environment and reloaded, like Jinja's own, when the
    file changes."""
    cache = _INLINED.setdefault(env, {})
    known = cache.get(name)
    if known is not None and (known.uptodate is None or known.uptodate()):
        return known.template
    template = None
    uptodate = None
    if env.loader is not None:
        try:
            source, filename, uptodate = env.loader.get_source(env, name)
            inlined = inline_source(source)
            if inlined is not None:
                code = env.compile(inlined, name, filename)
                template = env.template_class.from_code(env, code, env.make_globals(None), uptodate)
        except jinja2.TemplateError:
            template = None  # rendered the usual way, which reports the error
    cache[name] = _Inlined(template, uptodate)
    return template


def render_html(env: jinja2.Environment, name: str, context: Mapping[str, object]) -> str:
    """HTML template `name` rendered with its CSS in style attributes: inlined once at load
    when the template allows it, else into each rendered message."""
    template = _inlined_template(env, name)
    if template is None:
        return inline_css(render_template(env, name, context), name)
    return render_template(env, name, context, template)


def one_line_ending(text: str) -> str:
    """One kind of line ending, ending with one; the email package writes CRLF on the wire."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") else text + "\n"


def render_email(
    env: jinja2.Environment,
    folder: str,
    context: Mapping[str, object],
    ics: bytes | None = None,
) -> Rendered:
    """Render `<folder>/subject.txt`, `body.txt` and `body.html` with `context`, the HTML's
    CSS inlined; `ics` is the calendar file to attach, if any. Raises TemplateError naming
    the template file and line."""
    subject_name = f"{folder}/subject.txt"
    subject = one_line(render_template(env, subject_name, context))
    if not subject:
        raise TemplateError(subject_name, "renders an empty subject")
    text = one_line_ending(render_template(env, f"{folder}/body.txt", context))
    html_name = f"{folder}/body.html"
    html = one_line_ending(render_html(env, html_name, context))
    return Rendered(subject=subject, text=text, html=html, ics=ics)
