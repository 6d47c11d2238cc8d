"""The reminder's HTML with its CSS inlined once, when the template is loaded: the same
style attributes on the same elements as css_inline gives each rendered message, and admin
templates that cannot be inlined that way still inlined, per message."""

from __future__ import annotations

import dataclasses
import os
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import pytest

from worker.mail.inline import inline_source
from worker.mail.item_view import digest_view
from worker.mail.render import render_digest
from worker.mail.samples import SAMPLE_LINK, reminder_digests
from worker.mail.templating import (
    TemplateError,
    inline_css,
    make_environment,
    render_html,
    render_template,
)
from worker.rules.digest import Digest, Item

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
# The reminder templates as they were before item views: a macro and a chain of filters
# per item, the digest read directly. An admin's copy of them keeps working.
PER_ITEM_MACROS = Path(__file__).resolve().parent / "templates_per_item_macros"
HTML = "reminder/body.html"


class _Elements(HTMLParser):
    """What a reader's HTML parser sees: each element with its attributes (style among
    them), and the text between, whitespace runs as one space."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.seen: list[tuple[str, ...]] = []
        self.text = ""

    def _flush(self) -> None:
        if words := " ".join(self.text.split()):
            self.seen.append(("text", words))
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._flush()
        self.seen.append((tag, *sorted(f"{k}={v}" for k, v in attrs)))

    def handle_data(self, data: str) -> None:
        self.text += data

    def close(self) -> None:
        super().close()
        self._flush()


def elements(html: str) -> list[tuple[str, ...]]:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser.seen


def _milestones_and_starts(digest: Digest) -> Digest:
    """The samples with the date forms they lack: a milestone, a start, a period read as a
    day, a multi-line description and note."""
    first: Item = digest.items[0]
    extra = (
        dataclasses.replace(
            first,
            key="m",
            section="due_soon",
            kind="upcoming",
            milestone="Milestone 1 of 2: 9th June 2012",
            due=date(2012, 6, 9),
            precision="day",
        ),
        dataclasses.replace(
            first, key="s", section="starting", kind="start", due=date(2012, 10, 1)
        ),
        dataclasses.replace(
            first,
            key="p",
            section="overdue",
            kind="overdue",
            precision="month",
            due=date(2012, 8, 31),
            description="First line\n  second line\n\nfourth",
            dependencies_text=" WS1-01\nWS1-02 ",
            latest_note="Line one\nline two",
            effective_rag="none",
        ),
    )
    return dataclasses.replace(digest, items=digest.items + extra)


DIGESTS = [_milestones_and_starts(d) for d in reminder_digests()]


@pytest.fixture(scope="module")
def env() -> jinja2.Environment:
    return make_environment([TEMPLATES])


def test_the_shipped_html_template_is_inlined_at_load() -> None:
    inlined = inline_source((TEMPLATES / HTML).read_text(encoding="utf-8"))
    assert inlined is not None
    assert "</style>" not in inlined
    assert 'style="' in inlined
    # Lines kept, so errors name the template's own lines.
    assert inlined.count("\n") == (TEMPLATES / HTML).read_text(encoding="utf-8").count("\n")


@pytest.mark.parametrize("link", [None, SAMPLE_LINK], ids=["no-link", "link"])
@pytest.mark.parametrize("number", range(len(DIGESTS)))
def test_load_time_inlining_gives_what_css_inline_gives_each_message(
    env: jinja2.Environment, number: int, link: str | None
) -> None:
    rendered = render_digest(env, DIGESTS[number], link=link, link_days=45)
    # The per-message way: the template as written, rendered, then css_inline.
    context = {
        "digest": DIGESTS[number],
        "calendar_file": None,
        "link": link,
        "link_days": 45,
    }
    context["shown"] = digest_view(DIGESTS[number], link)
    context["calendar_file"] = "deadlines.ics" if "deadlines.ics" in rendered.text else None
    per_message = inline_css(render_template(env, HTML, context), HTML)
    assert "<style" not in rendered.html
    assert elements(rendered.html) == elements(per_message)
    assert any("style=" in "".join(e) for e in elements(rendered.html))


@pytest.mark.parametrize("link", [None, SAMPLE_LINK], ids=["no-link", "link"])
@pytest.mark.parametrize("number", range(len(DIGESTS)))
def test_an_admin_copy_of_the_per_item_macro_templates_reads_the_same(
    env: jinja2.Environment, number: int, link: str | None
) -> None:
    # The same words, text byte for byte, and the same elements with the same styles: the
    # old HTML (a class made by {{ }}) is inlined per message, the shipped one at load.
    before = make_environment([PER_ITEM_MACROS, TEMPLATES])
    assert inline_source((PER_ITEM_MACROS / HTML).read_text(encoding="utf-8")) is None
    old = render_digest(before, DIGESTS[number], link=link, link_days=45)
    new = render_digest(env, DIGESTS[number], link=link, link_days=45)
    assert new.subject == old.subject
    assert new.text == old.text
    assert "<style" not in old.html
    assert elements(new.html) == elements(old.html)


PAGE = """<!DOCTYPE html>
<html><head><style>{css}</style></head>
<body><div class="{cls}"><p class="note">{{{{ digest.recipient.name }}}}</p></div></body></html>
"""


@pytest.mark.parametrize(
    ("css", "cls"),
    [
        (".page .note { color: #123456; }", "page"),  # descendant selector
        ("div > p { color: #123456; }", "page"),  # child selector
        ("p:first-child { color: #123456; }", "page"),  # pseudo-class
        ("[class] { color: #123456; }", "page"),  # attribute selector
        ("@media screen { p { color: #123456; } } p { color: #123456; }", "page"),
        (".note-x { color: #123456; } p { color: #123456; }", "{{ 'page' }}"),  # dynamic class
    ],
)
def test_an_admin_template_that_cannot_be_inlined_at_load_is_inlined_per_message(
    tmp_path: Path, css: str, cls: str
) -> None:
    (tmp_path / "reminder").mkdir()
    source = PAGE.format(css=css, cls=cls)
    (tmp_path / HTML).write_text(source, encoding="utf-8")
    assert inline_source(source) is None
    env = make_environment([tmp_path, TEMPLATES])
    html = render_digest(env, reminder_digests()[1]).html
    assert "<style" not in html
    assert 'style="color: #123456;">Head of QA</p>' in html


def test_a_simple_admin_template_is_inlined_at_load_as_css_inline_would(tmp_path: Path) -> None:
    (tmp_path / "reminder").mkdir()
    css = "p { margin: 0; } .note { color: #123456; } div.page { padding: 4px; }"
    source = PAGE.format(css=css, cls="page")
    (tmp_path / HTML).write_text(source, encoding="utf-8")
    assert inline_source(source) is not None
    env = make_environment([tmp_path, TEMPLATES])
    digest = reminder_digests()[1]
    html = render_digest(env, digest).html
    per_message = inline_css(render_template(env, HTML, {"digest": digest}), HTML)
    assert elements(html) == elements(per_message)
    assert "color: #123456" in html and "padding: 4px" in html


def test_an_error_in_a_template_inlined_at_load_names_its_own_line(tmp_path: Path) -> None:
    (tmp_path / "reminder").mkdir()
    source = PAGE.format(css="p {\n  margin: 0;\n}\n", cls="page").replace(
        "</body>", "<p>{{ digest.recipient.nickname }}</p>\n</body>"
    )
    line = source.splitlines().index(next(x for x in source.splitlines() if "nickname" in x)) + 1
    (tmp_path / HTML).write_text(source, encoding="utf-8")
    assert inline_source(source) is not None
    with pytest.raises(TemplateError) as caught:
        render_html(make_environment([tmp_path, TEMPLATES]), HTML, {"digest": DIGESTS[0]})
    assert f"line {line}" in str(caught.value)
    assert "nickname" in str(caught.value)


def test_a_changed_template_file_is_inlined_again(tmp_path: Path) -> None:
    (tmp_path / "reminder").mkdir()
    path = tmp_path / HTML
    path.write_text(PAGE.format(css=".note { color: #111111; }", cls="page"), encoding="utf-8")
    env = make_environment([tmp_path, TEMPLATES])
    digest = reminder_digests()[1]
    assert "#111111" in render_digest(env, digest).html
    path.write_text(PAGE.format(css=".note { color: #222222; }", cls="page"), encoding="utf-8")
    stat = path.stat()
    os.utime(path, (stat.st_atime + 5, stat.st_mtime + 5))
    assert "#222222" in render_digest(env, digest).html
