"""Events: the append-only record of a conversation, in the reference's wire JSON.

Every event type is a frozen dataclass registered under its wire name. ``Event.from_dict``
and ``Event.as_dict`` convert to and from the JSON that tracker stores, the HTTP API, event
brokers and action servers exchange; unknown names survive as ``OpaqueEvent``.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from tandem.conversation.parse_data import (
    EntityPrediction,
    IntentPrediction,
    ParseData,
    as_parse_data,
    plain_entities,
)

log = logging.getLogger(__name__)

_REGISTRY: dict[str, type[Event]] = {}


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of all events. ``timestamp`` is UNIX seconds; ``metadata`` is free-form."""

    type_name: ClassVar[str] = ""
    # Whether ``metadata`` is written even when empty (as the reference does for these types).
    always_metadata: ClassVar[bool] = False

    timestamp: float = field(default_factory=time.time)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if cls.type_name:
            _REGISTRY[cls.type_name] = cls

    # -- wire form --------------------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"event": self.type_name, "timestamp": self.timestamp}
        for name in _payload_fields(type(self)):
            data[name] = getattr(self, name)
        if self.metadata or self.always_metadata:
            data["metadata"] = self.metadata
        return data

    @classmethod
    def _from_payload(cls, payload: dict[str, Any], base: dict[str, Any]) -> Event:
        known = _payload_fields(cls)
        return cls(**base, **{key: payload[key] for key in known if key in payload})

    @staticmethod
    def from_dict(payload: dict[str, Any]) -> Event:
        """Read one event from its wire JSON (lenient: missing fields take defaults)."""
        name = payload.get("event")
        name = _LEGACY_NAMES.get(name, name)  # type: ignore[arg-type]
        timestamp = payload.get("timestamp")
        base: dict[str, Any] = {
            "timestamp": time.time() if timestamp is None else float(timestamp),
            "metadata": dict(payload.get("metadata") or {}),
        }
        if name == "form_validation":  # legacy: {"validate": bool}
            return LoopInterrupted(is_interrupted=not payload.get("validate", True), **base)
        cls = _REGISTRY.get(name)  # type: ignore[arg-type]
        if cls is None:
            return OpaqueEvent(payload=dict(payload), **base)
        return cls._from_payload(payload, base)

    def with_timestamp(self, timestamp: float) -> Event:
        return self._copy_with({"timestamp": timestamp})

    def stamped(self, extra: dict[str, Any], timestamp: float | None) -> Event:
        """``with_metadata(extra)``, and ``with_timestamp(timestamp)`` unless it is None, as
        one copy (the processor stamps every event of a turn)."""
        changes: dict[str, Any] = {}
        merged = {**extra, **self.metadata}
        if merged != self.metadata:
            changes["metadata"] = merged
        if timestamp is not None and timestamp != self.timestamp:
            changes["timestamp"] = timestamp
        return self._copy_with(changes) if changes else self

    def with_metadata(self, extra: dict[str, Any]) -> Event:
        """A copy with ``extra`` added to the metadata; existing keys are never overwritten."""
        merged = {**extra, **self.metadata}
        return self if merged == self.metadata else self._copy_with({"metadata": merged})

    def _copy_with(self, changes: dict[str, Any]) -> Event:
        """``dataclasses.replace`` without its per-call introspection (events have no
        ``__post_init__`` and every field is an ``__init__`` argument): a turn copies each
        event it appends, so this is on every turn's path."""
        clone = object.__new__(type(self))
        for name in _all_fields(type(self)):
            value = changes[name] if name in changes else getattr(self, name)
            object.__setattr__(clone, name, value)
        return clone


_LEGACY_NAMES = {"form": "active_loop"}


# Field names by event type, looked up once per type: reading, writing and copying events
# is on every turn's path.
_ALL_FIELDS: dict[type, tuple[str, ...]] = {}
_PAYLOAD_FIELDS: dict[type, tuple[str, ...]] = {}


def _all_fields(cls: type[Event]) -> tuple[str, ...]:
    names = _ALL_FIELDS.get(cls)
    if names is None:
        names = _ALL_FIELDS[cls] = tuple(item.name for item in fields(cls))
    return names


def _payload_fields(cls: type[Event]) -> tuple[str, ...]:
    """The fields of an event type besides ``timestamp`` and ``metadata``, in order."""
    names = _PAYLOAD_FIELDS.get(cls)
    if names is None:
        names = tuple(name for name in _all_fields(cls) if name not in ("timestamp", "metadata"))
        _PAYLOAD_FIELDS[cls] = names
    return names


def events_from_dicts(payloads: list[dict[str, Any]]) -> list[Event]:
    """Read stored events, skipping the legacy ``topic`` type."""
    return [Event.from_dict(p) for p in payloads if p.get("event") != "topic"]


def is_known_event_name(name: Any) -> bool:
    return name in _REGISTRY or name in _LEGACY_NAMES or name == "form_validation"


# -- messages -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class UserUttered(Event):
    """A user message with its parse data (intent, entities, commands, ...)."""

    type_name: ClassVar[str] = "user"
    always_metadata: ClassVar[bool] = True

    text: str | None = None
    parse_data: ParseData = field(default_factory=ParseData)
    input_channel: str | None = None
    message_id: str | None = None

    @property
    def intent(self) -> IntentPrediction:
        return self.parse_data.get("intent") or {}

    @property
    def intent_name(self) -> str | None:
        return self.intent.get("name")

    @property
    def entities(self) -> list[dict[str, Any]]:
        return plain_entities(self.parse_data.get("entities") or [])

    @property
    def commands(self) -> list[dict[str, Any]]:
        return self.parse_data.get("commands") or []

    @classmethod
    def create(
        cls,
        text: str | None,
        intent: IntentPrediction | None = None,
        entities: list[EntityPrediction] | None = None,
        *,
        parse_data: ParseData | None = None,
        input_channel: str | None = None,
        message_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        timestamp: float | None = None,
    ) -> UserUttered:
        """Build a user event, filling parse data the way the reference stores it."""
        data = parse_data.copy() if parse_data else ParseData()
        data.setdefault("intent", intent if intent is not None else {})
        data.setdefault("entities", list(entities or []))
        data.setdefault("text", text)
        message_id = message_id or data.get("message_id") or uuid.uuid4().hex
        data["message_id"] = message_id
        data["metadata"] = dict(metadata or data.get("metadata") or {})
        return cls(
            text=text,
            parse_data=data,
            input_channel=input_channel,
            message_id=message_id,
            metadata=dict(metadata or {}),
            timestamp=time.time() if timestamp is None else timestamp,
        )

    @classmethod
    def _from_payload(cls, payload: dict[str, Any], base: dict[str, Any]) -> Event:
        parse_data = as_parse_data(dict(payload.get("parse_data") or {}))
        # Old payloads carry intent/entities next to the text rather than in parse_data.
        for key in ("intent", "entities"):
            if key not in parse_data and key in payload:
                parse_data[key] = payload[key]
        return cls(
            text=payload.get("text"),
            parse_data=parse_data,
            input_channel=payload.get("input_channel"),
            message_id=payload.get("message_id"),
            **base,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class BotUttered(Event):
    """A bot message; ``data`` holds buttons, images, attachments, custom payloads..."""

    type_name: ClassVar[str] = "bot"
    always_metadata: ClassVar[bool] = True

    text: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def utter_action(self) -> str | None:
        return self.metadata.get("utter_action")

    def message(self) -> dict[str, Any]:
        """The message as channels see it: ``text`` plus the non-empty data keys."""
        message = {key: value for key, value in self.data.items() if value}
        if self.text is not None:
            message["text"] = self.text
        return message


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentUttered(Event):
    type_name: ClassVar[str] = "agent"
    text: str | None = None
    data: Any = None


# -- state changes ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SlotSet(Event):
    type_name: ClassVar[str] = "slot"
    name: str = ""
    value: Any = None
    filled_by: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = {
            "event": self.type_name,
            "timestamp": self.timestamp,
            "name": self.name,
            "value": self.value,
        }
        if self.filled_by is not None:
            data["filled_by"] = self.filled_by
        if self.metadata:
            data["metadata"] = self.metadata
        return data


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionExecuted(Event):
    type_name: ClassVar[str] = "action"
    always_metadata: ClassVar[bool] = True

    name: str | None = None
    policy: str | None = None
    confidence: float | None = None
    action_text: str | None = None
    hide_rule_turn: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ActiveLoop(Event):
    type_name: ClassVar[str] = "active_loop"
    name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LoopInterrupted(Event):
    type_name: ClassVar[str] = "loop_interrupted"
    is_interrupted: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionExecutionRejected(Event):
    type_name: ClassVar[str] = "action_execution_rejected"
    name: str | None = None
    policy: str | None = None
    confidence: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UserUtteranceReverted(Event):
    """``rewind``: undo back to the latest user message and the action before it."""

    type_name: ClassVar[str] = "rewind"


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionReverted(Event):
    """``undo``: undo the most recent action and everything after it."""

    type_name: ClassVar[str] = "undo"


@dataclass(frozen=True, slots=True, kw_only=True)
class Restarted(Event):
    type_name: ClassVar[str] = "restart"


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionStarted(Event):
    type_name: ClassVar[str] = "session_started"


@dataclass(frozen=True, slots=True, kw_only=True)
class AllSlotsReset(Event):
    type_name: ClassVar[str] = "reset_slots"


@dataclass(frozen=True, slots=True, kw_only=True)
class FollowupAction(Event):
    type_name: ClassVar[str] = "followup"
    name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationPaused(Event):
    type_name: ClassVar[str] = "pause"


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationResumed(Event):
    type_name: ClassVar[str] = "resume"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReminderScheduled(Event):
    type_name: ClassVar[str] = "reminder"
    intent: str | None = None
    date_time: str | None = None
    entities: Any = None
    name: str = field(default_factory=lambda: uuid.uuid4().hex)
    kill_on_user_msg: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ReminderCancelled(Event):
    """Cancels matching reminders. Like the reference, only the base fields are serialised."""

    type_name: ClassVar[str] = "cancel_reminder"
    name: str | None = None
    intent: str | None = None
    entities: Any = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"event": self.type_name, "timestamp": self.timestamp}
        if self.metadata:
            data["metadata"] = self.metadata
        return data


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryExported(Event):
    type_name: ClassVar[str] = "export"

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"event": self.type_name, "timestamp": self.timestamp}
        if self.metadata:
            data["metadata"] = self.metadata
        return data


@dataclass(frozen=True, slots=True, kw_only=True)
class UserFeaturization(Event):
    type_name: ClassVar[str] = "user_featurization"
    use_text_for_featurization: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class EntitiesAdded(Event):
    type_name: ClassVar[str] = "entities"
    entities: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationInactive(Event):
    type_name: ClassVar[str] = "inactive"


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionEnded(Event):
    type_name: ClassVar[str] = "session_ended"


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingSessionEnded(Event):
    """Coexistence: reset everything except slots shared between the two systems."""

    type_name: ClassVar[str] = "routing_session_ended"


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorOccurred(Event):
    type_name: ClassVar[str] = "error"
    error_code: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BotTurnEnded(Event):
    type_name: ClassVar[str] = "bot_turn_ended"


# -- CALM ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DialogueStackUpdated(Event):
    """``stack``: a JSON-Patch (as a string) from the previous stack to the new one."""

    type_name: ClassVar[str] = "stack"
    update: str = "[]"

    @property
    def patch(self) -> list[dict[str, Any]]:
        return json.loads(self.update)


@dataclass(frozen=True, slots=True, kw_only=True)
class _FlowEvent(Event):
    flow_id: str = ""
    step_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = {
            "event": self.type_name,
            "timestamp": self.timestamp,
            "flow_id": self.flow_id,
            "step_id": self.step_id,
        }
        if self.metadata:
            data["metadata"] = self.metadata
        return data


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowStarted(_FlowEvent):
    type_name: ClassVar[str] = "flow_started"

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "event": self.type_name,
            "timestamp": self.timestamp,
            "flow_id": self.flow_id,
        }
        if self.metadata:
            data["metadata"] = self.metadata
        return data


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowInterrupted(_FlowEvent):
    type_name: ClassVar[str] = "flow_interrupted"


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowResumed(_FlowEvent):
    type_name: ClassVar[str] = "flow_resumed"


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowCompleted(_FlowEvent):
    type_name: ClassVar[str] = "flow_completed"


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowCancelled(_FlowEvent):
    type_name: ClassVar[str] = "flow_cancelled"


@dataclass(frozen=True, slots=True, kw_only=True)
class OpaqueEvent(Event):
    """An event type we do not interpret (agents, voice, ...): kept and written back as-is."""

    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.payload.get("event"))

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.payload,
            "timestamp": self.timestamp,
            **({"metadata": self.metadata} if self.metadata else {}),
        }
