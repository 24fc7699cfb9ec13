"""What every command generator does around its own prediction.

The NLUCommandAdapter and the LLM-based generators share these steps (besides stepping aside
when the NLU system owns the message, ``coexistence.routing.handled_by_nlu``): refusing empty
or over-long input, and dropping ``StartFlow`` commands for flows whose guard does not let
them start.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tandem.conversation.commands import (
    INTERNAL_ERROR_INPUT_EMPTY,
    INTERNAL_ERROR_INPUT_TOO_LONG,
    Command,
    Error,
    StartFlow,
    rejection,
)
from tandem.conversation.parse_data import TURN_NOTES, NoteField, ParseData, ParseNotes
from tandem.conversation.stack import stack_context
from tandem.conversation.tracker import Tracker
from tandem.project.flows.model import Flow, FlowsList

# Default of every generator's ``user_input.max_characters``; negative disables the check.
DEFAULT_MAX_CHARACTERS = 420


def input_error(text: str, max_characters: int) -> Error | None:
    """The error command that replaces any prediction for unusable input, or None."""
    if not text or not text.strip():
        return Error(INTERNAL_ERROR_INPUT_EMPTY)
    if 0 <= max_characters < len(text):
        return Error(INTERNAL_ERROR_INPUT_TOO_LONG, {"max_characters": max_characters})
    return None


def startable_flows(tracker: Tracker, flows: FlowsList) -> list[Flow]:
    """Flows whose guard holds now; a guard that cannot be evaluated fails."""
    context = stack_context(tracker.stack)
    return [flow for flow in flows if flow.is_startable(context, tracker.slots)]


def filter_startable(
    commands: Iterable[Command],
    tracker: Tracker,
    flows: FlowsList,
    rejections: list[dict[str, Any]] | None = None,
) -> list[Command]:
    """``commands`` without the ``StartFlow``s of flows that may not start (or do not exist);
    ``rejections``, if given, gets a ``rejection`` for each."""
    startable = {flow.id for flow in startable_flows(tracker, flows)}
    kept: list[Command] = []
    for command in commands:
        if not isinstance(command, StartFlow) or command.flow in startable:
            kept.append(command)
        elif rejections is not None:
            known = flows.get(command.flow) is not None
            reason = "the flow's guard does not let it start now" if known else "no such flow"
            rejections.append(rejection(command, reason))
    return kept


def noted(parse_data: ParseData, field: NoteField) -> list[dict[str, Any]]:
    """Where reading the message notes items of the turn's ``TurnNotes`` field ``field`` (the
    processor moves them into the notes)."""
    notes = parse_data.setdefault(TURN_NOTES, ParseNotes())
    found: list[dict[str, Any]] = notes.setdefault(field, [])
    return found


def rejections_of(parse_data: ParseData) -> list[dict[str, Any]]:
    """Where a generator reports the commands it drops while reading the message."""
    return noted(parse_data, "rejected_commands")
