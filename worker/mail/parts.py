"""Messages too large to send whole: a digest whose message would pass the size limit is sent
as several messages, "part 1 of 3" and so on, each listing some of its items in their usual
order. Every item goes in exactly one part, so every action still reaches its recipient.

Pure apart from the rendering it is given: `render` turns a digest into a Rendered message
and `encode` makes the finished bytes (with a part label in the subject, or none).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from worker.mail.templating import Rendered
from worker.rules.digest import Digest, Item

# Room left under the limit for what the part label adds to the subject, and for the
# server counting a little differently (dot-stuffing, trace headers it adds).
HEADROOM = 4096
# A digest with more items than GUESS_ABOVE is first measured on SAMPLE_ITEMS of them, to
# guess its size without rendering it whole (50,000 actions would make a 120 MB message).
# Smaller ones are rendered whole at once: most fit, and then nothing is done twice.
GUESS_ABOVE = 2000
SAMPLE_ITEMS = 200
# Aim each part at this share of the limit, so a guessed split rarely needs a second.
FILL = 0.8

E = TypeVar("E")  # what `encode` makes: a message ready for the outbox


@dataclass(frozen=True, slots=True)
class Part:
    number: int
    of: int

    def label(self, subject: str) -> str:
        return f"{subject} (part {self.number} of {self.of})"


@dataclass(frozen=True, slots=True)
class Encoder(Generic[E]):
    render: Callable[[Digest], Rendered]
    encode: Callable[[Digest, Rendered], E]
    size: Callable[[E], int]
    # The encoded message with the subject given (the part label added) instead of the
    # rendered one, also given, without encoding its body again; None: rendered and
    # encoded again.
    relabel: Callable[[E, str, str], E] | None = None


def even_groups(items: Sequence[Item], count: int) -> list[tuple[Item, ...]]:
    """`items` in order, cut into `count` groups whose sizes differ by one at most."""
    count = max(1, min(count, len(items)))
    step, extra = divmod(len(items), count)
    groups, start = [], 0
    for n in range(count):
        end = start + step + (1 if n < extra else 0)
        groups.append(tuple(items[start:end]))
        start = end
    return groups


# The parts of one message kept encoded, in bytes, until they are labelled "part n of m"
# (m is known only when all are fitted); a part past this is let go and rendered again
# then. A 1M plan's escalations to one strategic lead came to 30 parts of 8.5 MB.
KEEP_BYTES = 16 * 1024 * 1024


def split_to_fit(
    digest: Digest, limit: int, encoder: Encoder[E], keep: int = KEEP_BYTES
) -> Iterator[E]:
    """The digest's message, or its parts when it would be larger than `limit` bytes.

    Every part is rendered (and any error raised) before this returns; the parts then come
    one at a time, so a caller that records each as it comes holds one, not all of them.
    A part with a single item is sent even when it is over the limit (it cannot be split):
    the server then refuses it, and the administrator hears which action did not go.
    """
    return _labelled(_fitted(digest, limit, encoder, keep), encoder)


def _fitted(digest: Digest, limit: int, encoder: Encoder[E], keep: int) -> list[Piece[E]]:
    target = max(limit - HEADROOM, limit // 2)
    fitted: list[Piece[E]] = []
    kept = 0
    for n, items in enumerate(even_groups(digest.items, _guess_parts(digest, target, encoder))):
        for piece, subject, encoded in _fit(_piece(digest, items, n == 0), target, encoder):
            size = encoder.size(encoded)
            kept_too = kept + size <= keep
            kept += size if kept_too else 0
            fitted.append((piece, subject, encoded if kept_too else None))
    return fitted


def _labelled(fitted: list[Piece[E]], encoder: Encoder[E]) -> Iterator[E]:
    total = len(fitted)
    fitted.reverse()  # popped in order: each part is let go once it is given
    for n in range(1, total + 1):
        piece, subject, encoded = fitted.pop()
        label = Part(n, total).label(subject) if total > 1 else subject
        if encoded is not None and total == 1:
            yield encoded  # the usual case: one message, encoded once
        elif encoded is not None and encoder.relabel is not None:
            yield encoder.relabel(encoded, subject, label)
        else:
            yield encoder.encode(piece, replace(encoder.render(piece), subject=label))
        del encoded


def _guess_parts(digest: Digest, target: int, encoder: Encoder[E]) -> int:
    if len(digest.items) <= GUESS_ABOVE:
        return 1
    sample = replace(digest, items=digest.items[:SAMPLE_ITEMS])
    per_item = encoder.size(encoder.encode(sample, encoder.render(sample))) / SAMPLE_ITEMS
    return max(1, math.ceil(per_item * len(digest.items) / (target * FILL)))


# A part's digest, the subject it was rendered with, and its encoded message (None: let
# go, to be rendered again).
Piece = tuple[Digest, str, E | None]


def _fit(digest: Digest, target: int, encoder: Encoder[E]) -> list[tuple[Digest, str, E]]:
    """Render `digest`; when too large, split it and fit each piece again."""
    rendered = encoder.render(digest)
    encoded = encoder.encode(digest, rendered)
    size = encoder.size(encoded)
    if size <= target or len(digest.items) < 2:
        return [(digest, rendered.subject, encoded)]
    del rendered, encoded  # not kept while its pieces are rendered
    count = max(2, math.ceil(size / (target * FILL)))
    return [
        piece
        for n, items in enumerate(even_groups(digest.items, count))
        for piece in _fit(_piece(digest, items, n == 0), target, encoder)
    ]


def _piece(digest: Digest, items: tuple[Item, ...], first: bool) -> Digest:
    # The items only counted, not listed, go with the first part alone: each item once.
    return replace(digest, items=items, unlisted=digest.unlisted if first else ())
