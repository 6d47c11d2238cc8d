"""CSS inlined into an HTML email template once, when it is loaded, instead of into every
message it renders.

css_inline parses each rendered message, matches every rule against every element and writes
the document out again: a few milliseconds a message, most of the cost of rendering a
large run. For a template whose stylesheet has only simple selectors (`p`, `.field`,
`p.field`, several classes) and whose class attributes are written out in full, each
element's style depends on nothing but its tag and classes, both in the template's own
text. So each start tag of the template gets the style="" attribute css_inline itself gives
that tag and class (asked once per distinct tag, on a one-element document with the
template's stylesheet) and the <style> block is dropped: the template then renders messages
already inlined.

`inline_source` returns None for any template it cannot be sure of (other selectors, @rules,
a class made by {{ }}, includes, markup from variables, comments...): such a template is
inlined per message as before (worker/mail/templating.py), so an admin's own template keeps
working and keeps its styles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser

import css_inline

# Jinja's own syntax, blanked out before the markup is read (same length, so offsets hold).
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_MASK = "\x00"
_STYLE_BLOCK = re.compile(r"<style\s*>(.*?)</style\s*>", re.S | re.I)
_START_TAG = re.compile(r"<([a-zA-Z][a-zA-Z0-9-]*)((?:\s[^<>]*?)?)(/?)>")
_ATTRIBUTE = re.compile(
    r"""([^\s"'<>/=\x00]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""", re.S
)
# Selectors whose match depends on the element alone: a tag, classes, or a tag and classes.
_SIMPLE_SELECTOR = re.compile(r"(?:[a-zA-Z][a-zA-Z0-9-]*)?(?:\.-?[_a-zA-Z][_a-zA-Z0-9-]*)*")
_RULE = re.compile(r"\s*([^{}]+?)\s*\{([^{}]*)\}")
# Markup this reader does not follow (what is inside is not the template's own tags, or
# elements appear that the template does not write), and Jinja that brings markup in from
# elsewhere: any of these and the template is inlined per message.
_REFUSED = re.compile(
    r"<!--|<!\[|<(?:script|textarea|xmp|iframe|noembed|noframes|noscript|plaintext|template"
    r"|svg|math|table|select|link|base)\b",
    re.I,
)
_REFUSED_STATEMENT = re.compile(
    r"\{%[-+]?\s*(?:include|import|extends|from|block|call|autoescape|filter|raw)\b"
)
_REFUSED_EXPRESSION = re.compile(r"\|\s*safe\b|\bMarkup\b|\bcaller\b")
_TITLE = re.compile(r"<title\b[^>]*>(.*?)</title", re.S | re.I)
_NEEDED = ("<html", "<head", "<body")
_DOCTYPE = "<!doctype html>"


@dataclass(frozen=True, slots=True)
class _Tag:
    start: int
    end: int
    name: str
    attributes: list[tuple[str, str | None]]
    in_head: bool


def _css_rules(css: str) -> list[tuple[list[str], str]] | None:
    """The rules of a stylesheet of simple selectors, or None when it has anything else."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    if "@" in css or "\\" in css:
        return None
    rules = []
    at = 0
    for match in _RULE.finditer(css):
        if css[at : match.start()].strip():
            return None
        selectors = [s.strip() for s in match.group(1).split(",")]
        if not all(s and _SIMPLE_SELECTOR.fullmatch(s) for s in selectors):
            return None
        if any(s.split(".")[0].lower() in ("tbody", "colgroup") for s in selectors):
            return None  # elements HTML adds by itself
        rules.append((selectors, match.group(2)))
        at = match.end()
    if css[at:].strip():
        return None
    return rules


def _tags(masked: str, body: int) -> list[_Tag] | None:
    tags = []
    for match in _START_TAG.finditer(masked):
        attributes: list[tuple[str, str | None]] = []
        rest = match.group(2)
        at = 0
        for attr in _ATTRIBUTE.finditer(rest):
            if rest[at : attr.start()].strip():
                return None  # something this reader does not understand
            value = next((v for v in attr.group(2, 3, 4) if v is not None), None)
            attributes.append((attr.group(1).lower(), value))
            at = attr.end()
        if rest[at:].strip():
            return None
        names = [name for name, _ in attributes]
        if len(set(names)) != len(names):
            return None
        for name, value in attributes:
            if name in ("class", "style") and value is not None and _MASK in value:
                return None  # made by {{ }}: not known until the message is rendered
            if _MASK in name:
                return None
        name = match.group(1).lower()
        tags.append(_Tag(match.start(), match.end(), name, attributes, match.start() < body))
    return tags


class _Style(HTMLParser):
    """The style attribute of the element marked data-planworker-probe."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.style: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if "data-planworker-probe" in found:
            self.style = found.get("style")


def _probe(tag: _Tag, stylesheet: str, inliner: css_inline.CSSInliner) -> str | None:
    """The style css_inline gives this tag with these class and style attributes."""
    own = "".join(
        f' {name}="{escape(value, quote=True)}"'
        for name, value in tag.attributes
        if name in ("class", "style") and value is not None
    )
    own += " data-planworker-probe"
    style = f"<style>{stylesheet}</style>"
    if tag.name == "html":
        doc = f"<!DOCTYPE html><html{own}><head>{style}</head><body></body></html>"
    elif tag.name == "head":
        doc = f"<!DOCTYPE html><html><head{own}>{style}</head><body></body></html>"
    elif tag.name == "body":
        doc = f"<!DOCTYPE html><html><head>{style}</head><body{own}></body></html>"
    elif tag.in_head:
        doc = f"<!DOCTYPE html><html><head>{style}<{tag.name}{own}></head><body></body></html>"
    else:
        doc = f"<!DOCTYPE html><html><head>{style}</head><body><{tag.name}{own}></body></html>"
    parser = _Style()
    parser.feed(inliner.inline(doc))
    parser.close()
    return parser.style


def inline_source(source: str) -> str | None:
    """The template `source` with its stylesheet moved into style attributes, or None when
    that cannot be done safely before rendering (it is then done on each message).

    Line numbers are kept: the <style> block becomes a Jinja comment of as many lines, and
    each style attribute is written on its tag's own line."""
    masked = _JINJA.sub(lambda m: _MASK * len(m.group(0)), source)
    lowered = masked.lower()
    if _REFUSED.search(masked) or not all(tag in lowered for tag in _NEEDED):
        return None
    if not lowered.lstrip(_MASK + " \t\r\n").startswith(_DOCTYPE):
        return None
    for jinja in _JINJA.finditer(source):
        text = jinja.group(0)
        if not text.startswith("{#") and (
            _REFUSED_STATEMENT.match(text) or _REFUSED_EXPRESSION.search(text)
        ):
            return None  # markup from elsewhere: its tags are not in this text
    if any("<" in title.group(1) for title in _TITLE.finditer(masked)):
        return None
    blocks = list(_STYLE_BLOCK.finditer(masked))
    if len(blocks) != 1 or lowered.count("<style") != 1:
        return None
    block = blocks[0]
    stylesheet = source[block.start(1) : block.end(1)]
    if _MASK in block.group(1) or _css_rules(stylesheet) is None:
        return None
    head_end = lowered.find("</head")
    body_start = lowered.find("<body")
    if not 0 <= block.start() < body_start or head_end == -1:
        return None
    tags = _tags(masked, body_start)
    if tags is None:
        return None
    inliner = css_inline.CSSInliner(
        load_remote_stylesheets=False, keep_style_tags=False, keep_link_tags=False
    )
    styles: dict[tuple[str, str | None, str | None, bool], str | None] = {}
    out = []
    at = 0
    for tag in tags:
        if tag.name == "style":
            continue
        attrs = dict(tag.attributes)
        key = (tag.name, attrs.get("class"), attrs.get("style"), tag.in_head)
        if key not in styles:
            try:
                styles[key] = _probe(tag, stylesheet, inliner)
            except ValueError:  # css_inline.InlineError
                return None
        style = styles[key]
        if style is None or style == attrs.get("style"):
            continue
        if _JINJA.search(style) or "\n" in style or "{" in style:
            return None
        if "style" in attrs:
            return None  # a style of its own that the stylesheet changes: left to css_inline
        written = ' style="' + style.replace("&", "&amp;").replace('"', "&quot;") + '"'
        text = source[tag.start : tag.end]
        closing = "/>" if text.endswith("/>") else ">"
        out += [source[at : tag.start], text[: -len(closing)].rstrip(), written, closing]
        at = tag.end
    out.append(source[at:])
    inlined = "".join(out)
    # The block's lines kept as a comment, so errors still name the template's own lines.
    start = inlined.find(source[block.start() : block.end()])
    if start == -1:
        return None
    lines = source[block.start() : block.end()].count("\n")
    after = start + block.end() - block.start()
    return inlined[:start] + "{#" + "\n" * lines + "#}" + inlined[after:]
