"""Commands from classic NLU output: intents and entities instead of an LLM.

An intent that is a flow's ``nlu_trigger`` starts that flow (or, for a pattern, issues the
pattern's command); entities and intents fill the slots of collect steps through the slots'
NLU mappings. The same conversion serves the ``NLUCommandAdapter`` pipeline component and
``/intent`` slash messages, which bypass the pipeline. ``/SetSlots(...)`` messages are read
here too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from tandem.actions.extract_slots import NO_VALUE, MappingTurn, mapped_value
from tandem.calm.cleaning import clean_commands, merge_nlu_commands
from tandem.calm.generation import DEFAULT_MAX_CHARACTERS, filter_startable, rejections_of
from tandem.conversation.commands import (
    CANNOT_HANDLE_INVALID_INTENT,
    COMMAND_PAYLOAD_READER,
    NLU,
    SYSTEM_COMMANDS,
    CancelFlow,
    CannotHandle,
    ChitChatAnswer,
    Command,
    KnowledgeAnswer,
    Restart,
    SessionEnd,
    SessionStart,
    SetSlot,
    SkipQuestion,
    StartFlow,
    UserSilence,
)
from tandem.conversation.parse_data import ParseData
from tandem.conversation.routing import is_coexistence, session_route
from tandem.conversation.stack import stack_context
from tandem.conversation.tracker import Tracker
from tandem.names import ROUTING_SLOT
from tandem.project.domain import Domain
from tandem.project.flows.model import CollectStep, FlowsList

log = logging.getLogger(__name__)

# The command an intent triggering a pattern stands for; other patterns ignore their triggers.
PATTERN_COMMANDS: Mapping[str, type[Command]] = {
    "pattern_session_start": SessionStart,
    "pattern_user_silence": UserSilence,
    "pattern_cancel_flow": CancelFlow,
    "pattern_chitchat": ChitChatAnswer,
    "pattern_search": KnowledgeAnswer,
    "pattern_skip_question": SkipQuestion,
    "pattern_cannot_handle": CannotHandle,
    "pattern_restart": Restart,
    "pattern_session_end": SessionEnd,
}


class NLUCommandAdapter:
    """The pipeline component. The checks every generator shares (routing,
    input length, guards, forced slot filling) run around ``predict_commands``."""

    name = "NLUCommandAdapter"

    def __init__(
        self, options: Mapping[str, Any] | None = None, *, chitchat_available: bool = False
    ) -> None:
        """``chitchat_available`` is passed on to command cleaning (see ``clean_commands``)."""
        user_input = (options or {}).get("user_input") or {}
        self.max_characters = int(user_input.get("max_characters", DEFAULT_MAX_CHARACTERS))
        self.chitchat_available = chitchat_available

    async def predict_commands(
        self,
        parse_data: ParseData,
        prior: list[Command],
        tracker: Tracker,
        flows: FlowsList,
        domain: Domain,
    ) -> list[Command]:
        """The message's commands: the earlier components' (``prior``), overruled by the
        NLU's own."""
        if not flows:
            return prior
        rejections = rejections_of(parse_data)
        commands = filter_startable(
            convert_nlu_to_commands(parse_data, tracker, flows, domain), tracker, flows, rejections
        )
        if domain.has_routing_slot and any(isinstance(c, StartFlow) for c in commands):
            commands.append(SetSlot(ROUTING_SLOT, True))
        if commands:
            commands = clean_commands(
                commands,
                tracker,
                flows,
                domain,
                chitchat_available=self.chitchat_available,
                rejections=rejections,
            )
        return merge_nlu_commands(prior, commands)


def convert_nlu_to_commands(
    parse_data: ParseData, tracker: Tracker, flows: FlowsList, domain: Domain
) -> list[Command]:
    """The commands a message's intent and entities stand for.

    At most one flow is triggered (flow validation allows an intent in one trigger only);
    then come the slots the message fills.
    """
    intent = parse_data.get("intent") or {}
    if not flows or not (intent.get("name") or parse_data.get("entities")):
        return []
    triggered: list[Command] = []
    for flow in flows:
        if not flow.triggered_by(intent.get("name"), float(intent.get("confidence") or 0.0)):
            continue
        if not flow.is_pattern:
            triggered.append(StartFlow(flow.id))
        elif flow.id in PATTERN_COMMANDS:
            triggered.append(PATTERN_COMMANDS[flow.id]())
    if len(triggered) > 1:
        log.warning("Intent '%s' triggers several flows; only the first counts.", intent["name"])
    return [*triggered[:1], *nlu_set_slot_commands(parse_data, tracker, flows, domain)]


def nlu_set_slot_commands(
    parse_data: ParseData, tracker: Tracker, flows: FlowsList, domain: Domain
) -> list[SetSlot]:
    """SetSlots from the NLU mappings of the slots flows collect (``from_llm`` and
    ``controlled`` mappings are not the NLU's to apply)."""
    candidates = _fillable_slots(tracker, flows)
    turn = MappingTurn.of_parse_data(parse_data, tracker, domain)
    commands = []
    for name, slot in domain.slots.items():
        if name in candidates:
            value = mapped_value(slot, turn)
            if value is not NO_VALUE:
                commands.append(SetSlot(name, value, NLU))
    return commands


def _fillable_slots(tracker: Tracker, flows: FlowsList) -> set[str]:
    """Slots any collect step may take ahead of time, plus the one being asked for even if
    its step wants it asked first (``ask_before_filling``)."""
    slots = {
        step.collect for flow in flows for step in flow.collect_steps if not step.ask_before_filling
    }
    context = stack_context(tracker.stack)
    flow = flows.get(context.get("flow_id", ""))
    step = flow.step_by_id(context.get("step_id", "")) if flow is not None else None
    if isinstance(step, CollectStep):
        slots.add(step.collect)
    return slots


def commands_for_intent_message(
    parse_data: ParseData, tracker: Tracker, flows: FlowsList, domain: Domain
) -> list[Command]:
    """Commands of a message whose intent was given directly (``/intent``).

    No guards and no cleaning: the intent is taken at its word. In an undecided coexistence
    session the message also decides the routing: CALM if it converted to anything but
    session/restart commands, undecided if only those, the NLU system if nothing converted.
    """
    converted = convert_nlu_to_commands(parse_data, tracker, flows, domain)
    commands = list(converted)
    if not converted and (parse_data.get("intent") or {}).get("name") not in domain.intents:
        commands.append(CannotHandle(CANNOT_HANDLE_INVALID_INTENT))
    if is_coexistence(tracker) and session_route(tracker) is None:
        to_calm = any(not isinstance(c, SYSTEM_COMMANDS) for c in converted)
        routing = True if to_calm else None if converted else False
        commands.append(SetSlot(ROUTING_SLOT, routing))
    return commands


SET_SLOTS_PREFIX = "/SetSlots"
_MAX_ASSIGNMENTS = 10
_ASSIGNMENT = re.compile(r"([^\s=,()\[\]]+)\s*=\s*(\[[^\]]*\]|[^,]*)")
_NO_VALUE_WORDS = frozenset({"none", "null", "undefined"})


def parse_set_slots(text: str, domain: Domain) -> list[SetSlot] | None:
    """The SetSlots of a ``/SetSlots(name=value, other=[a, b])`` message.

    None if ``text`` is no such message. A message naming a slot the domain lacks, or with
    more than ten ``=``, sets nothing (an empty list).
    """
    if not text.startswith(SET_SLOTS_PREFIX):
        return None
    body = text[len(SET_SLOTS_PREFIX) :].strip()
    if text.count("=") > _MAX_ASSIGNMENTS or not (body.startswith("(") and body.endswith(")")):
        return []
    commands = [
        SetSlot(name, _payload_value(value), COMMAND_PAYLOAD_READER)
        for name, value in _ASSIGNMENT.findall(body[1:-1])
    ]
    if any(command.name not in domain.slots for command in commands):
        return []
    return commands


def _payload_value(written: str) -> Any:
    written = written.strip()
    if written.startswith("[") and written.endswith("]"):
        return [_scalar(item) for item in written[1:-1].split(",") if item.strip()]
    return _scalar(written)


def _scalar(written: str) -> str | None:
    written = written.strip()
    return None if written.lower() in _NO_VALUE_WORDS else written
