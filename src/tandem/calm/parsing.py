"""How a CALM assistant reads a message: text to parse data with ``commands``.

In order: a collect step that forces slot filling takes the whole text as the slot's value;
``/SetSlots(...)`` sets slots; ``/intent{...}`` names the intent directly. Each of these
bypasses the NLU pipeline and the command generators. Anything else goes through the NLU
pipeline, then through the routers and command generators in their pipeline order.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import Any, Protocol

from tandem.calm.command_processor import flows_changed
from tandem.calm.generation import filter_startable, input_error, noted, rejections_of
from tandem.calm.nlu_adapter import commands_for_intent_message, parse_set_slots
from tandem.conversation import commands as cmd
from tandem.conversation import stack as st
from tandem.conversation.parse_data import EVENT_METADATA, ParseData, as_parse_data
from tandem.conversation.routing import RoutingVerdict, handled_by_nlu, routing_command
from tandem.conversation.tracker import Tracker
from tandem.nlu.slash import parse_slash_message
from tandem.project.domain import Domain
from tandem.project.flows.model import CollectStep, FlowsList
from tandem.runtime.assistant import Parser
from tandem.runtime.message import UserMessage

log = logging.getLogger(__name__)


class CommandGenerator(Protocol):
    """A pipeline component that writes commands (``NLUCommandAdapter``, LLM generators)."""

    name: str
    max_characters: int

    async def predict_commands(
        self,
        parse_data: ParseData,
        prior: list[cmd.Command],
        tracker: Tracker,
        flows: FlowsList,
        domain: Domain,
    ) -> list[cmd.Command]:
        """The message's commands, given those of the components before it (``prior``)."""


class CommandComponent(Protocol):
    """Anything that runs after the NLU components and turns the message's commands so far
    into its new ones: routers and command generators, in pipeline order. Commands stay typed
    through them; the parse writes them as JSON once, at its end."""

    name: str

    async def process(
        self,
        parse_data: ParseData,
        commands: list[cmd.Command],
        tracker: Tracker,
        flows: FlowsList,
        domain: Domain,
    ) -> list[cmd.Command]: ...


class GeneratorStep:
    """A command generator with the checks every generator runs."""

    def __init__(self, generator: CommandGenerator) -> None:
        self.generator = generator
        self.name = generator.name

    async def process(
        self,
        parse_data: ParseData,
        prior: list[cmd.Command],
        tracker: Tracker,
        flows: FlowsList,
        domain: Domain,
    ) -> list[cmd.Command]:
        if handled_by_nlu(tracker, prior):
            return prior
        error = input_error(parse_data.get("text") or "", self.generator.max_characters)
        if error is not None:
            return [error]
        try:
            commands = await self.generator.predict_commands(
                parse_data, prior, tracker, flows, domain
            )
        except Exception:  # a failing generator must not take the conversation down
            log.exception("%s failed; the message gets no commands from it.", self.name)
            return []
        rejections = rejections_of(parse_data)
        commands = filter_startable(commands, tracker, flows, rejections)
        return forced_slot_filter(commands, tracker, flows, domain, rejections)


def forced_slot_filter(
    commands: list[cmd.Command],
    tracker: Tracker,
    flows: FlowsList,
    domain: Domain,
    rejections: list[dict[str, Any]] | None = None,
) -> list[cmd.Command]:
    """After a flow changed, only the code-change command counts; while a collect step
    forces slot filling, only SetSlots of its slot do. ``rejections``,
    if given, gets a ``rejection`` for each command dropped."""
    found = [] if rejections is None else rejections
    if flows_changed(tracker, flows):
        found.extend(cmd.rejection(c, "the flows changed in the conversation") for c in commands)
        return [cmd.HandleCodeChange()]
    step = _forcing_collect_step(tracker, flows, domain)
    if step is None:
        return commands
    kept: list[cmd.Command] = []
    for command in commands:
        if isinstance(command, cmd.SetSlot) and command.name == step.collect:
            kept.append(command)
        else:
            reason = f"the collect step of '{step.collect}' forces slot filling"
            found.append(cmd.rejection(command, reason))
    return kept or [cmd.CannotHandle()]


def _forcing_collect_step(tracker: Tracker, flows: FlowsList, domain: Domain) -> CollectStep | None:
    """The collect step being asked, if it forces slot filling and its slot reads text."""
    frames = tracker.stack
    if len(frames) < 2 or frames[-1].get("type") != st.COLLECT_INFORMATION:
        return None
    below = frames[-2]
    flow = flows.get(below.get("flow_id", ""))
    step = flow.step_by_id(below["step_id"]) if flow is not None else None
    if not isinstance(step, CollectStep) or not step.force_slot_filling:
        return None
    slot = domain.slots.get(step.collect)
    if slot is None or not any(m.type == "from_text" for m in slot.mappings):
        return None
    return step


class CalmMessageParser:
    """The ``Parser`` of a CALM assistant."""

    def __init__(
        self,
        nlu: Parser,
        components: Sequence[CommandComponent],
        flows: FlowsList,
        domain: Domain,
    ) -> None:
        self.nlu = nlu
        self.components = components
        self.flows = flows
        self.domain = domain
        self._intents: Collection[str] = frozenset(domain.intents)
        self._entities: Collection[str] = frozenset(domain.entities)

    async def __call__(self, message: UserMessage, tracker: Tracker) -> ParseData:
        text = message.text or ""
        direct = self._direct(text, tracker)
        if direct is not None:
            return direct
        if text.startswith("/"):
            message = replace(message, text=text.lstrip("/ \t"))
        parse_data = await self.nlu(message, tracker)
        parse_data["text"] = text
        commands = cmd.commands_from_dicts(parse_data.get("commands", []))
        sources = noted(parse_data, "command_sources")
        for component in self.components:
            given = await component.process(parse_data, commands, tracker, self.flows, self.domain)
            added = [c for c in given if c not in commands]
            if added:
                sources.append(
                    {"component": component.name, "commands": cmd.commands_as_dicts(added)}
                )
            commands = given
        parse_data["commands"] = cmd.commands_as_dicts(commands)
        return parse_data

    def _direct(self, text: str, tracker: Tracker) -> ParseData | None:
        """Parse data of messages that skip the pipeline, or None for the others."""
        step = _forcing_collect_step(tracker, self.flows, self.domain)
        if step is not None and not flows_changed(tracker, self.flows):
            forced = cmd.SetSlot(step.collect, text, cmd.COMMAND_PAYLOAD_READER)
            return _parse_data(text, commands=[forced])
        set_slots = parse_set_slots(text, self.domain) if text.startswith("/") else None
        if set_slots:
            return _parse_data(text, commands=set_slots)
        slash = parse_slash_message(text, self._intents, self._entities)
        if slash is None or not (slash.get("intent") or {}).get("name"):
            return None
        parse_data: ParseData = {
            **_parse_data(text, commands=[]),
            **as_parse_data(slash),
            "text": text,
        }
        commands = commands_for_intent_message(parse_data, tracker, self.flows, self.domain)
        parse_data["commands"] = cmd.commands_as_dicts(commands)
        routing = _intent_trigger_verdict(slash["intent"]["name"], commands)
        if routing is not None:
            parse_data[EVENT_METADATA] = {"routing": routing}
        return parse_data


def _parse_data(text: str, *, commands: Sequence[cmd.Command]) -> ParseData:
    return {
        "text": text,
        "intent": {"name": None, "confidence": 0.0},
        "entities": [],
        "intent_ranking": [],
        "commands": cmd.commands_as_dicts(commands),
    }


def _intent_trigger_verdict(intent: str, commands: Sequence[cmd.Command]) -> dict[str, Any] | None:
    """How an intent message routed an undecided coexistence session (the router does not
    see these messages), for the user event's metadata; None if it decided nothing."""
    routing = routing_command(commands)
    if routing is None:
        return None
    if routing.value:
        reason = f"intent message '/{intent}' triggers a flow"
    elif routing.value is None:
        reason = f"intent message '/{intent}' only steers the session"
    else:
        reason = f"intent message '/{intent}' triggers no flow"
    return RoutingVerdict.of_routing_value(routing.value, reason).as_dict("intent trigger")
