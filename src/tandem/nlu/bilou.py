"""Token tags for entity spans and back: BILOU (Begin, Inside, Last, Unit, Outside) or plain.

With BILOU a tagger can tell two adjacent entities of one type apart; with plain tags
(``BILOU_flag: false``) adjacent tokens of one type always form a single entity.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tandem.nlu.message import Token

OUTSIDE = "O"


@dataclass(frozen=True, slots=True)
class Span:
    first: int  # token indices, inclusive
    last: int
    label: str


def covered_tokens(tokens: Sequence[Token], start: int, end: int) -> list[int]:
    """Indices of the tokens inside the character span [start, end)."""
    return [i for i, token in enumerate(tokens) if token.start >= start and token.end <= end]


def encode(n_tokens: int, spans: Sequence[Span], bilou: bool) -> list[str]:
    tags = [OUTSIDE] * n_tokens
    for span in spans:
        for i in range(span.first, span.last + 1):
            if not bilou:
                tags[i] = span.label
            elif span.first == span.last:
                tags[i] = f"U-{span.label}"
            else:
                prefix = "B" if i == span.first else "L" if i == span.last else "I"
                tags[i] = f"{prefix}-{span.label}"
    return tags


def decode(
    tags: Sequence[str],
    tokens: Sequence[Token],
    text: str,
    bilou: bool,
    split_at_comma: Callable[[str], bool],
) -> list[Span]:
    """Spans from token tags, tolerant of inconsistent sequences (I without B, B without L).

    Where ``split_at_comma(label)`` holds, a comma between two tokens also ends an entity,
    so "pizza, pasta" gives two entities even when the tags run on.
    """
    spans: list[Span] = []
    open_span: Span | None = None
    for i, tag in enumerate(tags):
        prefix, label = _split(tag, bilou)
        if open_span is not None and (
            label != open_span.label
            or prefix in ("B", "U")
            or (split_at_comma(label) and "," in text[tokens[i - 1].end : tokens[i].start])
        ):
            spans.append(open_span)
            open_span = None
        if label == OUTSIDE:
            continue
        open_span = Span(open_span.first if open_span else i, i, label)
        if prefix in ("L", "U"):
            spans.append(open_span)
            open_span = None
    if open_span is not None:
        spans.append(open_span)
    return spans


def _split(tag: str, bilou: bool) -> tuple[str, str]:
    if tag == OUTSIDE:
        return "", OUTSIDE
    if bilou and tag[:2] in ("B-", "I-", "L-", "U-"):
        return tag[0], tag[2:]
    return "I", tag
