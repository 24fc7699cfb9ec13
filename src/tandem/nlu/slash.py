"""Slash messages: ``/intent@confidence{"entity": value}`` sets intent and entities directly.

Buttons send their payloads this way. The result replaces the pipeline's intent, ranking and
entities (it runs after the pipeline, so the FallbackClassifier cannot override it).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection
from typing import Any

log = logging.getLogger(__name__)

EXTRACTOR = "RegexMessageHandler"

_SLASH = re.compile(
    r"^/(?P<name>[^{@]+)(?P<confidence>@[0-9.]+)?(?P<entities>{.+})?(?P<rest>.*)", re.DOTALL
)


def parse_slash_message(
    text: str,
    intents: Collection[str] | None,
    entities: Collection[str] | None,
) -> dict[str, Any] | None:
    """The parse result keys a slash message sets (text, intent, intent_ranking, entities).

    None when ``text`` is not a slash message or names an intent missing from ``intents``.
    ``intents``/``entities`` are the domain's; None means no domain is loaded, so any name is
    accepted.
    """
    stripped = text.strip()
    match = _SLASH.match(stripped)
    if match is None:
        return None
    name = match.group("name").strip()
    if intents is not None and name not in intents:
        log.warning("slash message '%s': intent '%s' is not in the domain; ignored", text, name)
        return None
    if match.group("rest").strip():
        log.warning("slash message '%s': ignoring trailing text %r", text, match.group("rest"))
    intent = {"name": name, "confidence": _confidence(match.group("confidence"), text)}
    offset = text.index(stripped)  # entity offsets refer to the text as received
    return {
        "text": text,
        "intent": intent,
        "intent_ranking": [dict(intent)],
        "entities": _entities(match, offset, entities, text),
    }


def _confidence(written: str | None, text: str) -> float:
    if written is None:
        return 1.0
    try:
        confidence = float(written[1:])
    except ValueError:
        log.warning("slash message '%s': confidence %r is not a number; using 0.0", text, written)
        return 0.0
    if confidence > 1.0:
        log.warning("slash message '%s': confidence %s is above 1; using 1.0", text, confidence)
        return 1.0
    return confidence


def _entities(
    match: re.Match[str], offset: int, known: Collection[str] | None, text: str
) -> list[dict[str, Any]]:
    block = match.group("entities")
    if block is None:
        return []
    try:
        parsed = json.loads(block)
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        log.warning("slash message '%s': entities %s are not a JSON object; ignored", text, block)
        return []
    start, end = offset + match.start("entities"), offset + match.end("entities")
    result = []
    for entity, value in parsed.items():
        if known is not None and entity not in known:
            log.warning(
                "slash message '%s': entity '%s' is not in the domain; dropped", text, entity
            )
            continue
        for item in value if isinstance(value, list) else [value]:
            result.append(
                {
                    "entity": entity,
                    "value": item,
                    "start": start,
                    "end": end,
                    "extractor": EXTRACTOR,
                }
            )
    return result
