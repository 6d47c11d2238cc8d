"""The remark: the words around a date that are not part of it, tidied."""

from __future__ import annotations

import re

from worker.plan.dates.text import FLAGS

_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]")
_EDGE_JUNK = " ,;:.-/"
_EDGE_WORDS = re.compile(r"^(?:and|then|&)(?:\s+|$)|(?:^|\s+)(?:and|then|&)$", FLAGS)
_DATEISH = re.compile(
    r"(?<![a-z])(?:jan(?:uary)?|feb(?:ruary)?|apr(?:il)?|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
    r"|spring|summer|autumn|winter|(?:mon|tues|wednes|thurs|fri|satur|sun)day"
    r"|q[1-4]|fy|financial\s+year|w/[bce]|week\s+(?:commencing|beginning|ending|starting)"
    r"|\d{1,2}\s*(?:st|nd|rd|th))(?![a-z])",
    FLAGS,
)
# "may" and "march" are also ordinary words: count them only when capitalised.
_DATEISH_CASED = re.compile(r"(?<![A-Za-z])(?:May|MAY|March|MARCH|Mar|MAR)(?![A-Za-z])")


def remark_of(norm: str, consumed: list[tuple[int, int]]) -> str:
    pieces: list[str] = []
    position = 0
    for start, end in sorted(consumed):
        pieces.append(norm[position:start])
        position = max(position, end)
    pieces.append(norm[position:])
    return _tidy(" ".join(piece.strip() for piece in pieces if piece.strip()))


def _tidy(remark: str) -> str:
    previous = None
    while remark != previous:
        previous = remark
        remark = _EMPTY_BRACKETS.sub(" ", remark)
        remark = " ".join(remark.split()).strip(_EDGE_JUNK)
        remark = _EDGE_WORDS.sub("", remark)
    return remark


def looks_dateish(remark: str) -> bool:
    return bool(_DATEISH.search(remark) or _DATEISH_CASED.search(remark))
