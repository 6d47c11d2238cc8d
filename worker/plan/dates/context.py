"""Words just before and after a date: weekday, "w/c", "end of", "by", "review"..."""

from __future__ import annotations

import re
from dataclasses import dataclass

from worker.plan.dates.patterns import Found
from worker.plan.dates.text import FLAGS

_PREFIXES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "modifier",
        re.compile(
            r"(?<!\w)(?:early|mid|middle\s+of|late|around|about|approx(?:imately)?|circa|c\."
            r"|after|not\s+before|beyond)[\s-]*$",
            FLAGS,
        ),
    ),
    (
        "edge",
        re.compile(
            r"(?<!\w)(?:the\s+)?(?P<edge>end|start|beginning)(?:\s+of)?\s+(?:the\s+)?$", FLAGS
        ),
    ),
    (
        "week",
        re.compile(r"(?<![\w/])(?:w/c|w/b|week\s+(?:commencing|beginning|starting))[\s:]*$", FLAGS),
    ),
    ("week_ending", re.compile(r"(?<![\w/])(?:w/e|week\s+ending)[\s:]*$", FLAGS)),
    (
        "weekday",
        re.compile(
            r"(?<!\w)(?P<wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday"
            r"|mon|tues?|wed|thu(?:rs?)?|fri|sat|sun)\.?,?\s*$",
            FLAGS,
        ),
    ),
    (
        "filler",
        re.compile(
            r"(?<!\w)(?:by|before|to|until|till|due(?:\s+(?:by|on|in))?|in|on"
            r"|from|not?\s+later\s+than)\s*[:,]?\s*$",
            FLAGS,
        ),
    ),
    ("review", re.compile(r"(?<!\w)review(?:ed)?\s*[:,-]?\s*$", FLAGS)),
)
_REVIEW_AFTER = re.compile(r"\s*[,;:-]?\s*(?:(?:and|then|&)\s+)?review(?:ed)?(?!\w)", FLAGS)
_DIGIT_BEFORE = re.compile(r"\d[\s,]*$")
_DIGIT_AFTER = re.compile(r"[\s,]*\d")
_LOOK_BACK = 80


@dataclass(slots=True)
class Context:
    """What the words next to the date said."""

    start: int
    end: int
    kinds: dict[str, re.Match[str]]
    review: bool = False


def read_context(masked: str, found: Found) -> Context:
    context = Context(found.start, found.end, {})
    progress = True
    while progress:
        progress = False
        for kind, pattern in _PREFIXES:
            if kind in context.kinds:
                continue
            match = pattern.search(masked, max(0, context.start - _LOOK_BACK), context.start)
            if match is not None and match.end() == context.start:
                context.kinds[kind] = match
                context.start = match.start()
                progress = True
                break
    after = _REVIEW_AFTER.match(masked, context.end)
    if after is not None:
        context.end = after.end()
        context.review = True
    context.review = context.review or "review" in context.kinds
    return context


def touches_number(masked: str, context: Context) -> bool:
    before = _DIGIT_BEFORE.search(masked, max(0, context.start - _LOOK_BACK), context.start)
    return before is not None or _DIGIT_AFTER.match(masked, context.end) is not None
