"""Rendering an email from Jinja templates: the environment (an admin's folder over the
shipped one), template errors that name the file and line, and the subject, plain text and
HTML with its CSS inlined that every email is made of.

No clock and no network: the same context and templates always render the same.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import css_inline
import jinja2

from worker.errors import PlanworkerError
from worker.mail.filters import FILTERS
from worker.mail.headers import one_line


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


def make_environment(folders: Sequence[Path]) -> jinja2.Environment:
    """Templates from `folders`, first match wins (an admin's folder, then the shipped one)."""
    if not folders:
        raise ValueError("make_environment needs at least one templates folder")
    for folder in folders:
        if not folder.is_dir():
            # A mistyped override folder would otherwise be skipped without a word.
            raise TemplateError(str(folder), "templates folder not found")
    env = jinja2.Environment(
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


def render_template(env: jinja2.Environment, name: str, context: Mapping[str, object]) -> str:
    """Template `name` rendered with `context`; raises TemplateError naming the file and line."""
    try:
        return env.get_template(name).render(context)
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


def one_line_ending(text: str) -> str:
    """One kind of line ending, ending with one; the email package writes CRLF on the wire."""
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
    html = one_line_ending(inline_css(render_template(env, html_name, context), html_name))
    return Rendered(subject=subject, text=text, html=html, ics=ics)
