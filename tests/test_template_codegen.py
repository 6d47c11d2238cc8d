"""The mail environment's compiled templates (attribute reads by the builtin getattr first,
str output escaped without a Markup around it) give what Jinja's own give."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from markupsafe import Markup

from worker.mail.templating import make_environment

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


class _Thing:
    name = "<b>Tom & Jerry</b>"
    count = 3

    @property
    def broken(self) -> str:
        raise AttributeError("inside a property")

    def __getitem__(self, key: str) -> str:
        return f"item {key}"


class _Html:
    def __html__(self) -> str:
        return "<i>kept</i>"


SOURCE = (
    "{{ thing.name }}|{{ thing.count }}|{{ data.key }}|{{ data.items }}|{{ thing.broken }}|"
    "{{ safe }}|{{ html }}|{{ text ~ '&' }}|{{ none }}|"
    "{% set block %}<p>{{ thing.name }}</p>{% endset %}{{ block }}|"
    "{% macro m(x) %}<em>{{ x }}</em>{% endmacro %}{{ m(thing.name) }}|"
    "{% autoescape false %}{{ thing.name }}{% endautoescape %}|"
    "{% filter upper %}{{ text }}{% endfilter %}|"
    "{% for k in data %}{{ k }}{% endfor %}"
)
CONTEXT = {
    "thing": _Thing(),
    "data": {"key": "<value>", "items": "listed"},
    "safe": Markup("<b>safe</b>"),
    "html": _Html(),
    "text": "'quoted' \"text\"",
    "none": None,
}


@pytest.mark.parametrize("autoescape", [True, False], ids=["html", "text"])
def test_the_mail_environment_renders_what_jinja_renders(tmp_path: Path, autoescape: bool) -> None:
    name = "page.html" if autoescape else "page.txt"
    (tmp_path / name).write_text(SOURCE, encoding="utf-8")
    ours = make_environment([tmp_path, TEMPLATES])
    theirs = jinja2.Environment(
        loader=jinja2.FileSystemLoader([tmp_path]),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(["html"], default_for_string=True, default=False),
    )
    theirs.filters.update(ours.filters)
    got = ours.get_template(name).render(CONTEXT)
    assert got == theirs.get_template(name).render(CONTEXT)
    if autoescape:
        assert "&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;" in got
        assert "<b>safe</b>" in got and "<i>kept</i>" in got
        assert "<em>&lt;b&gt;" in got  # a macro's argument escaped once, its markup kept


def test_a_missing_attribute_is_still_an_error(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text("{{ thing.nickname }}", encoding="utf-8")
    env = make_environment([tmp_path, TEMPLATES])
    with pytest.raises(jinja2.UndefinedError, match="nickname"):
        env.get_template("page.html").render(thing=object())
