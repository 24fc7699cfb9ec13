"""Events sent to the HTTP API, checked before they reach a conversation.

The reference validates posted events against its event schema and answers 400 on failure.
We check the same things from the event classes themselves: the ``event`` name must be known,
and every field must have the type its dataclass declares (``name: str | None`` accepts a
string or null, ``entities: list[dict]`` a list of objects, ...). Finally the events are applied
to a copy of the conversation, so anything the tracker cannot replay is rejected up front
instead of failing half-way through a save.
"""

from __future__ import annotations

import types
import typing
from dataclasses import fields
from typing import Any

from tandem.conversation import events as ev
from tandem.conversation.tracker import Tracker
from tandem.server.errors import ApiError, bad_request


def events_from_body(body: Any) -> list[ev.Event]:
    """One event object or a list of them, as the ``tracker/events`` endpoints accept."""
    payloads = body if isinstance(body, list) else [body]
    return [_event(payload, index) for index, payload in enumerate(payloads)]


def _event(payload: Any, index: int) -> ev.Event:
    where = {"index": index}
    if not isinstance(payload, dict):
        raise bad_request("Each event must be a JSON object.", where)
    name = payload.get("event")
    if not isinstance(name, str) or not ev.is_known_event_name(name):
        raise bad_request(f"Unknown event type {name!r}.", {**where, "event": name})
    for key, kind in (("metadata", dict), ("timestamp", (int, float))):
        value = payload.get(key)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise bad_request(f"'{key}' of a '{name}' event has the wrong type.", where)
    try:
        event = ev.Event.from_dict(payload)
    except (TypeError, ValueError, AttributeError, OverflowError) as error:
        raise bad_request(f"Invalid '{name}' event: {error}", where) from None
    problem = _field_problem(event)
    if problem is not None:
        raise bad_request(f"Invalid '{name}' event: {problem}", where)
    return event


def _field_problem(event: ev.Event) -> str | None:
    hints = _hints(type(event))
    for item in fields(event):
        if item.name in ("timestamp", "metadata"):
            continue
        value = getattr(event, item.name)
        if not _matches(value, hints[item.name]):
            return f"'{item.name}' has the wrong type"
    if isinstance(event, ev.UserUttered):
        return _parse_data_problem(event.parse_data)
    return None


def parse_data_problem(parse_data: Any) -> str | None:
    """What is wrong with parse data supplied by a client (``messages``, ``user`` events)."""
    if not isinstance(parse_data, dict):
        return "'parse_data' must be an object"
    return _parse_data_problem(parse_data)


def _parse_data_problem(parse_data: dict[str, Any]) -> str | None:
    intent = parse_data.get("intent")
    if intent is not None and not isinstance(intent, dict):
        return "'parse_data.intent' must be an object"
    if isinstance(intent, dict) and not isinstance(intent.get("name"), (str, type(None))):
        return "'parse_data.intent.name' must be a string"
    for key in ("entities", "intent_ranking", "commands"):
        value = parse_data.get(key)
        if value is not None and not _matches(value, list[dict[str, Any]]):
            return f"'parse_data.{key}' must be a list of objects"
    metadata = parse_data.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return "'parse_data.metadata' must be an object"
    return None


_HINTS: dict[type[ev.Event], dict[str, Any]] = {}


def _hints(cls: type[ev.Event]) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _matches(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a type hint of an event field."""
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, option) for option in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        return isinstance(value, list) and all(_matches(v, item) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def check_applicable(tracker: Tracker, events: list[ev.Event]) -> None:
    """Apply ``events`` to a copy of ``tracker``; 400 if replaying them fails."""
    probe = tracker.copy()
    try:
        probe.update_many(events)
        probe.current_state("APPLIED")
    except Exception as error:  # any failure here is the events' fault, not the server's
        raise ApiError(
            400, "BadRequest", f"The events cannot be applied to the conversation: {error}"
        ) from None
