"""Input clean-up: entities decoded, tags dropped, odd spacing made single spaces."""

from __future__ import annotations

import html
import re
import unicodedata

# Flags of every pattern the reader uses: case does not matter, and \w, \d, \s are ASCII.
FLAGS = re.I | re.A

_INLINE_TAG = re.compile(
    r"</?(?:sup|sub|b|i|u|em|strong|span|font|small|big)\b[^<>]*>", re.I | re.A
)
_BLOCK_TAG = re.compile(
    r"<!--[^<>]*-->|</?(?:p|br|div|li|ul|ol|table|tbody|thead|tr|td|th|h[1-6]|hr|a|img"
    r"|blockquote|pre|del|s|strike|ins|section|header|footer)\b[^<>]*>",
    re.I | re.A,
)
_PUNCTUATION = str.maketrans(
    {
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2018": "'",
        "\u2019": "'",
    }
)


def normalise(text: str) -> str:
    """Decode entities, drop tags, and turn all odd spacing into single spaces."""
    cleaned = html.unescape(text)
    cleaned = _INLINE_TAG.sub("", cleaned)
    cleaned = _BLOCK_TAG.sub(" ", cleaned)
    cleaned = cleaned.translate(_PUNCTUATION)
    cleaned = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in cleaned)
    return " ".join(cleaned.split())
