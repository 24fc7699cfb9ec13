"""The command catalogue: what command generators say a message means.

Commands travel as JSON dicts in ``parse_data["commands"]``, each with a ``command``
discriminator. ``command_from_dict`` reads one back (unknown or malformed dicts give None
and a warning, as the reference skips them); ``as_dict`` writes one. Equality follows the
reference's dedupe rules, which command cleaning relies on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

log = logging.getLogger(__name__)

# ``extractor`` values of SetSlot.
LLM = "LLM"
NLU = "NLU"
COMMAND_PAYLOAD_READER = "CommandPayloadReader"
CUSTOM = "CUSTOM"
A2A_CLIENT = "A2A_CLIENT"

CANNOT_HANDLE_DEFAULT = "cannot_handle_default"
CANNOT_HANDLE_CHITCHAT = "cannot_handle_chitchat"
CANNOT_HANDLE_INVALID_INTENT = "cannot_handle_invalid_intent"
INTERNAL_ERROR_DEFAULT = "rasa_internal_error_default"
INTERNAL_ERROR_INPUT_TOO_LONG = "rasa_internal_error_user_input_too_long"
INTERNAL_ERROR_INPUT_EMPTY = "rasa_internal_error_user_input_empty"


@dataclass(frozen=True)
class Command:
    command: ClassVar[str] = ""

    def as_dict(self) -> dict[str, Any]:
        return {"command": self.command, **{f.name: getattr(self, f.name) for f in fields(self)}}

    @classmethod
    def from_fields(cls, data: Mapping[str, Any]) -> Command:
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


@dataclass(frozen=True)
class StartFlow(Command):
    command: ClassVar[str] = "start flow"
    flow: str


@dataclass(frozen=True, eq=False)
class SetSlot(Command):
    command: ClassVar[str] = "set slot"
    name: str
    value: Any
    extractor: str = LLM

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, SetSlot)
            and other.name == self.name
            and str(other.value).lower() == str(self.value).lower()
        )

    def __hash__(self) -> int:
        return hash((self.name, str(self.value).lower()))


@dataclass(frozen=True)
class CorrectedSlot:
    name: str
    value: Any
    filled_by: str | None = None


@dataclass(frozen=True, eq=False)
class CorrectSlots(Command):
    command: ClassVar[str] = "correct slot"
    corrected_slots: tuple[CorrectedSlot, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "corrected_slots": [
                {"name": s.name, "value": s.value, "filled_by": s.filled_by}
                for s in self.corrected_slots
            ],
        }

    @classmethod
    def from_fields(cls, data: Mapping[str, Any]) -> Command:
        slots = data.get("corrected_slots") or []
        return cls(
            tuple(CorrectedSlot(s["name"], s.get("value"), s.get("filled_by")) for s in slots)
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CorrectSlots)

    def __hash__(self) -> int:
        return hash(self.command)


@dataclass(frozen=True)
class CancelFlow(Command):
    command: ClassVar[str] = "cancel flow"


@dataclass(frozen=True)
class ChitChatAnswer(Command):
    command: ClassVar[str] = "chitchat"


@dataclass(frozen=True)
class KnowledgeAnswer(Command):
    command: ClassVar[str] = "knowledge"


@dataclass(frozen=True)
class SkipQuestion(Command):
    command: ClassVar[str] = "skip question"


@dataclass(frozen=True)
class Clarify(Command):
    command: ClassVar[str] = "clarify"
    options: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"command": self.command, "options": list(self.options)}

    @classmethod
    def from_fields(cls, data: Mapping[str, Any]) -> Command:
        return cls(tuple(data.get("options") or ()))


@dataclass(frozen=True)
class RepeatBotMessages(Command):
    command: ClassVar[str] = "repeat"


@dataclass(frozen=True)
class CannotHandle(Command):
    command: ClassVar[str] = "cannot handle"
    reason: str = CANNOT_HANDLE_DEFAULT


@dataclass(frozen=True, eq=False)
class Error(Command):
    command: ClassVar[str] = "error"
    error_type: str = INTERNAL_ERROR_DEFAULT
    info: Mapping[str, Any] = field(default_factory=dict)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Error)
            and other.error_type == self.error_type
            and dict(other.info) == dict(self.info)
        )

    def __hash__(self) -> int:
        return hash(self.error_type)

    def as_dict(self) -> dict[str, Any]:
        return {"command": self.command, "error_type": self.error_type, "info": dict(self.info)}


@dataclass(frozen=True)
class Restart(Command):
    command: ClassVar[str] = "restart"


@dataclass(frozen=True)
class SessionStart(Command):
    command: ClassVar[str] = "session start"


@dataclass(frozen=True)
class SessionEnd(Command):
    command: ClassVar[str] = "session end"


@dataclass(frozen=True)
class UserSilence(Command):
    command: ClassVar[str] = "user silence"


@dataclass(frozen=True)
class HandleCodeChange(Command):
    command: ClassVar[str] = "handle code change"


@dataclass(frozen=True)
class Noop(Command):
    command: ClassVar[str] = "noop"


@dataclass(frozen=True)
class ChangeFlow(Command):
    command: ClassVar[str] = "change_flow"


@dataclass(frozen=True)
class HumanHandoff(Command):
    """Removed in 3.21 (``link: pattern_human_handoff`` replaced it); read from old trackers."""

    command: ClassVar[str] = "human handoff"


COMMAND_TYPES: dict[str, type[Command]] = {
    kind.command: kind
    for kind in (
        StartFlow,
        SetSlot,
        CorrectSlots,
        CancelFlow,
        ChitChatAnswer,
        KnowledgeAnswer,
        SkipQuestion,
        Clarify,
        RepeatBotMessages,
        CannotHandle,
        Error,
        Restart,
        SessionStart,
        SessionEnd,
        UserSilence,
        HandleCodeChange,
        Noop,
        ChangeFlow,
        HumanHandoff,
    )
}

# Commands whose answer is free-form text; cleaning keeps them at the front.
FREE_FORM_ANSWERS = (ChitChatAnswer, KnowledgeAnswer)
# Commands that only steer the session; they do not route a message to CALM.
SYSTEM_COMMANDS = (SessionStart, SessionEnd, Restart)


def command_from_dict(data: Any) -> Command | None:
    """The command a JSON dict describes, or None (logged) if it is not a valid command."""
    kind = COMMAND_TYPES.get(str(data.get("command"))) if isinstance(data, Mapping) else None
    if kind is None:
        log.warning("Skipping unknown command %r.", data)
        return None
    try:
        return kind.from_fields(data)
    except (TypeError, KeyError, AttributeError):
        log.warning("Skipping malformed command %r.", data)
        return None


def commands_from_dicts(items: Iterable[Any]) -> list[Command]:
    return [c for c in map(command_from_dict, items or ()) if c is not None]


def commands_as_dicts(commands: Iterable[Command]) -> list[dict[str, Any]]:
    return [command.as_dict() for command in commands]


def rejection(command: Command, reason: str) -> dict[str, Any]:
    """How a command that does not run is reported (``TurnNotes.rejected_commands``)."""
    return {"command": command.as_dict(), "reason": reason}
