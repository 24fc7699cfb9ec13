"""A loaded assistant: the parts of a trained model that a turn runs through.

Later stages plug in here rather than into the processor: the NLU pipeline, routers and
command generators make up ``parse``; CALM's command processor is a ``TurnStage``; policies
predict; ``actions`` resolves action names (responses, defaults, custom, forms, flows).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tandem.actions.registry import ActionRegistry
from tandem.conversation.events import Event
from tandem.conversation.parse_data import ParseData, ParseNotes
from tandem.conversation.tracker import Tracker
from tandem.policies.base import Policy
from tandem.project.domain import Domain
from tandem.project.flows.model import FlowsList
from tandem.runtime.message import UserMessage

# Turns the text of a message into parse data (intent, entities, commands, ...).
Parser = Callable[[UserMessage, Tracker], Awaitable[ParseData]]


@dataclass
class TurnNotes:
    """What the stages of a turn report beside their events, for whoever explains the turn
    (``tandem shell --debug``). Not stored: it says why, the events say what."""

    # Commands of the message that were dropped or replaced: ``{"command": ..., "reason": ...}``.
    rejected_commands: list[dict[str, Any]] = field(default_factory=list)
    # Which router or command generator gave which of the message's commands:
    # ``{"component": name, "commands": [...]}``, in pipeline order.
    command_sources: list[dict[str, Any]] = field(default_factory=list)

    def add(self, noted: ParseNotes) -> None:
        """Take what the message's parse noted (its ``TURN_NOTES``)."""
        self.rejected_commands.extend(noted.get("rejected_commands", []))
        self.command_sources.extend(noted.get("command_sources", []))


class TurnStage(Protocol):
    """Runs once per user message after slot extraction, before the policies (e.g. CALM's
    command processor); returns events to append and may write to the turn's ``notes``."""

    async def run(self, tracker: Tracker, notes: TurnNotes) -> list[Event]: ...


class FailureHandler(Protocol):
    """Decides what follows a failed action (CALM pushes its internal-error pattern)."""

    def on_action_failed(self, tracker: Tracker, action_name: str) -> list[Event]: ...


MAX_PREDICTIONS_DEFAULT = 10


def nlu_max_predictions(tracker: Tracker) -> int:
    """The per-turn cap on predicted actions (``MAX_NUMBER_OF_PREDICTIONS``)."""
    return int(os.environ.get("MAX_NUMBER_OF_PREDICTIONS", MAX_PREDICTIONS_DEFAULT))


@dataclass
class Assistant:
    domain: Domain
    parse: Parser
    actions: ActionRegistry
    policies: Sequence[Policy] = ()
    turn_stages: Sequence[TurnStage] = ()
    failure_handlers: Sequence[FailureHandler] = ()
    # The project's flows (none for an NLU-only assistant), for the actions that need them.
    flows: FlowsList = field(default_factory=FlowsList)
    model_id: str = ""
    assistant_id: str = ""
    # Components with resources to release (HTTP sessions of LLM clients, ...).
    closeables: list[Any] = field(default_factory=list)

    # The per-turn cap on predicted actions; CALM assistants allow more.
    max_predictions: Callable[[Tracker], int] = nlu_max_predictions

    @property
    def event_metadata(self) -> dict[str, str]:
        """Metadata stamped on every event this assistant appends."""
        return {"model_id": self.model_id, "assistant_id": self.assistant_id}
