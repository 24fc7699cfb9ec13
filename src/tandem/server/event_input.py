"""Events sent to the HTTP API, checked before they reach a conversation.

The reference validates posted events against its event schema and answers 400 on failure.
Our schema is made from the event classes themselves: one pydantic model per wire name, whose
fields are the dataclass's fields with the types it declares (``name: str | None`` takes a
string or null, ``entities: list[dict]`` a list of objects, ...). The same models check the
posted events and describe them in ``/openapi.json`` (a union told apart by ``event``).
Finally the events are applied to a copy of the conversation, so anything the tracker cannot
replay is rejected up front instead of failing half-way through a save.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from tandem.conversation import events as ev
from tandem.conversation.tracker import Tracker
from tandem.server.errors import ApiError, bad_request
from tandem.server.requests import problem
from tandem.server.schemas import ParseResult


class _EventBody(BaseModel):
    # Strict as the declared types are; keys an event type does not have are ignored, as
    # ``Event.from_dict`` ignores them.
    model_config = ConfigDict(strict=True, extra="ignore")

    timestamp: float | None = None
    metadata: dict[str, Any] | None = None


def _event_classes(cls: type[ev.Event] = ev.Event) -> list[type[ev.Event]]:
    found: list[type[ev.Event]] = []
    for sub in cls.__subclasses__():
        if sub.type_name and ev.is_known_event_name(sub.type_name):
            found.append(sub)
        found.extend(_event_classes(sub))
    return found


def _field(cls: type[ev.Event], item: dataclasses.Field[Any], hint: Any) -> tuple[Any, Any]:
    # By wire name: ``__subclasses__`` also lists the class the slots dataclass replaced.
    if cls.type_name == ev.UserUttered.type_name and item.name == "parse_data":
        return ParseResult | None, None  # checked in depth; null reads as none
    if item.default_factory is not dataclasses.MISSING:
        return hint, Field(default_factory=item.default_factory)
    return hint, item.default


def _model(name: str, cls: type[ev.Event], title: str) -> type[_EventBody]:
    hints = typing.get_type_hints(cls)
    fields: dict[str, Any] = {"event": (Literal[name], ...)}
    for item in dataclasses.fields(cls):
        if item.name not in ("timestamp", "metadata"):
            fields[item.name] = _field(cls, item, hints[item.name])
    doc = cls.__doc__ if cls.__doc__ and not cls.__doc__.startswith(f"{cls.__name__}(") else None
    return create_model(title, __base__=_EventBody, __doc__=doc, **fields)


# One model per event type, by wire name, for the types the tracker reads.
EVENT_MODELS: dict[str, type[_EventBody]] = {
    cls.type_name: _model(cls.type_name, cls, f"{cls.__name__}Event")
    for cls in sorted(_event_classes(), key=lambda cls: cls.type_name)
}
# The union ``/openapi.json`` describes (legacy names below are read but not advertised).
EVENT_UNION: TypeAdapter[Any] = TypeAdapter(
    Annotated[
        typing.Union[tuple(EVENT_MODELS.values())],  # noqa: UP007 - built from a tuple
        Field(discriminator="event"),
    ]
)
_LEGACY_MODELS: dict[str, type[_EventBody]] = {
    "form": _model("form", ev.ActiveLoop, "FormEvent"),
    "form_validation": create_model(
        "FormValidationEvent",
        __base__=_EventBody,
        event=(Literal["form_validation"], ...),
        validate_=(Any, Field(None, alias="validate")),  # BaseModel has a ``validate``
    ),
}


def events_from_body(body: Any) -> list[ev.Event]:
    """One event object or a list of them, as the ``tracker/events`` endpoints accept."""
    payloads = body if isinstance(body, list) else [body]
    return [_event(payload, index) for index, payload in enumerate(payloads)]


def _event(payload: Any, index: int) -> ev.Event:
    where = {"index": index}
    if not isinstance(payload, dict):
        raise bad_request("Each event must be a JSON object.", where)
    name = payload.get("event")
    model = _model_for(name)
    if model is None:
        raise bad_request(f"Unknown event type {name!r}.", {**where, "event": name})
    try:
        model.model_validate(payload)
    except ValidationError as error:
        raise bad_request(f"Invalid '{name}' event: {problem(error.errors()[0])}.", where) from None
    try:
        event = ev.Event.from_dict(payload)
    except (TypeError, ValueError, AttributeError, OverflowError) as error:
        raise bad_request(f"Invalid '{name}' event: {error}", where) from None
    if isinstance(event, ev.UserUttered) and ("intent" in payload or "entities" in payload):
        # Old payloads carry intent and entities beside the text: check them where they went.
        try:
            ParseResult.model_validate(event.parse_data)
        except ValidationError as error:
            first = error.errors()[0]
            first["loc"] = ("parse_data", *first["loc"])
            raise bad_request(f"Invalid '{name}' event: {problem(first)}.", where) from None
    return event


def _model_for(name: Any) -> type[_EventBody] | None:
    if not isinstance(name, str):
        return None
    return EVENT_MODELS.get(name) or _LEGACY_MODELS.get(name)


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
