"""LLM command generators: a prompt about the conversation in, commands out.

The three single-step generators differ only in their command language (DSL version) and
default prompt template: ``SingleStepLLMCommandGenerator`` (v1), ``CompactLLMCommandGenerator``
(v2) and ``SearchReadyLLMCommandGenerator`` (v3). One class serves all of them.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tandem import names
from tandem.calm.cleaning import merge_llm_commands
from tandem.calm.dsl import DSL_VERSIONS, EmptyParseWatch, parse_commands
from tandem.calm.flow_retrieval import FlowRetriever
from tandem.calm.generation import DEFAULT_MAX_CHARACTERS, rejections_of, startable_flows
from tandem.calm.transcript import transcript
from tandem.conversation import commands as cmd
from tandem.conversation import stack as st
from tandem.conversation.parse_data import ParseData
from tandem.conversation.routing import is_coexistence
from tandem.conversation.slots import Slot
from tandem.conversation.tracker import Tracker
from tandem.llm import Cassette, LLMError
from tandem.llm.component import PromptedLLMComponent
from tandem.project.domain import Domain
from tandem.project.endpoints import Endpoints
from tandem.project.flows.model import CollectStep, Flow, FlowsList

log = logging.getLogger(__name__)

DEFAULT_LLM: dict[str, Any] = {
    "provider": "openai",
    "model": "gpt-5.1-2025-11-13",
    "temperature": 1.0,
    "max_tokens": 256,
    "timeout": 7,
    "reasoning_effort": "none",
}
_TEMPLATES = {1: "single_step_v1.jinja2", 2: "compact_v2.jinja2", 3: "search_ready_v3.jinja2"}

_EMPTY_PARSES = EmptyParseWatch()


class LLMCommandGenerator(PromptedLLMComponent):
    """A single-step LLM command generator; ``name`` picks the DSL version."""

    def __init__(
        self,
        name: str,
        options: Mapping[str, Any],
        flows: FlowsList,
        endpoints: Endpoints | None,
        *,
        project_root: Path | None = None,
        cassette: Cassette | None = None,
    ) -> None:
        self.name = name
        self.dsl_version = DSL_VERSIONS[name]
        self.max_characters = int(
            (options.get("user_input") or {}).get("max_characters", DEFAULT_MAX_CHARACTERS)
        )
        self.minimize_num_calls = bool(options.get("minimize_num_calls", True))
        self.include_date_time = bool(options.get("include_date_time", True))
        self.timezone = str(options.get("timezone") or "UTC")
        self.use_llm(
            options,
            endpoints,
            DEFAULT_LLM,
            project_root=project_root,
            package="tandem.calm",
            template=f"prompts/{_TEMPLATES[self.dsl_version]}",
            cassette=cassette,
        )
        retrieval = dict(options.get("flow_retrieval") or {})
        self.retriever: FlowRetriever | None = None
        if retrieval.get("active", True):
            self.retriever = FlowRetriever.from_options(retrieval, flows, endpoints, cassette)

    async def aclose(self) -> None:
        await super().aclose()
        if self.retriever is not None:
            await self.retriever.aclose()

    # -- prediction ------------------------------------------------------------

    async def predict_commands(
        self,
        parse_data: ParseData,
        prior: list[cmd.Command],
        tracker: Tracker,
        flows: FlowsList,
        domain: Domain,
    ) -> list[cmd.Command]:
        if not flows.user_flows or (self.minimize_num_calls and _prior_suffices(prior, tracker)):
            return prior
        candidates = await self._candidates(parse_data, tracker, flows)
        now = self._now(tracker) if self.include_date_time else None
        prompt = self.render_prompt(parse_data, tracker, flows, domain, candidates, now)
        try:
            completion = await self.client.complete(prompt, volatile=[now] if now else [])
        except LLMError as exc:
            log.error("%s: the LLM call failed: %s", self.name, exc)
            return self._with_routing([cmd.Error()], tracker)
        if not completion.text:
            log.error("%s: the LLM returned nothing.", self.name)
            return self._with_routing([cmd.Error()], tracker)
        rejections = rejections_of(parse_data)
        commands = parse_commands(completion.text, flows, self.dsl_version, rejections=rejections)
        _EMPTY_PARSES.observe(completion.text, commands)
        if not commands and not prior:
            commands = [cmd.CannotHandle()]
        commands = self._with_routing(commands, tracker)
        allowed: list[cmd.Command] = []
        for command in commands:
            if _may_be_set_by_llm(command, tracker, domain):
                allowed.append(command)
            else:
                reason = "no mapping of the slot lets the LLM fill it now"
                rejections.append(cmd.rejection(command, reason))
        return merge_llm_commands(prior, allowed)

    def _with_routing(self, commands: list[cmd.Command], tracker: Tracker) -> list[cmd.Command]:
        if is_coexistence(tracker):
            return [*commands, cmd.SetSlot(names.ROUTING_SLOT, True)]
        return commands

    async def _candidates(
        self, parse_data: ParseData, tracker: Tracker, flows: FlowsList
    ) -> list[Flow]:
        """The user flows the prompt offers: startable or active, narrowed by retrieval."""
        stack = st.DialogueStack(tracker.stack)
        active = set(stack.active_user_flows())
        offered = active | {flow.id for flow in startable_flows(tracker, flows)}
        available = [flow for flow in flows.user_flows if flow.id in offered]
        if self.retriever is None:
            return available
        query = str(parse_data.get("text") or "")
        chosen = await self.retriever.select(query, tracker, available, active)
        return [flow for flow in available if flow.id in chosen]

    # -- the prompt ----------------------------------------------------------

    def render_prompt(
        self,
        parse_data: ParseData,
        tracker: Tracker,
        flows: FlowsList,
        domain: Domain,
        candidates: Sequence[Flow],
        now: str | None,
    ) -> str:
        return self.template.render(
            **prompt_inputs(parse_data, tracker, flows, domain, candidates), current_datetime=now
        )

    def _now(self, tracker: Tracker) -> str:
        mocked = tracker.get_slot(names.SLOT_MOCKED_DATETIME)
        if mocked:
            return str(mocked)
        try:
            zone: dt.tzinfo = zoneinfo.ZoneInfo(self.timezone)
        except zoneinfo.ZoneInfoNotFoundError:
            log.warning("Unknown timezone '%s'; using UTC.", self.timezone)
            zone = dt.UTC
        return dt.datetime.now(zone).strftime("%d %B, %Y, %H:%M %Z")


def _prior_suffices(prior: Sequence[cmd.Command], tracker: Tracker) -> bool:
    """With ``minimize_num_calls``: earlier generators already started a flow or filled
    the slot being asked, so the LLM is not needed."""
    if any(isinstance(c, cmd.StartFlow) for c in prior):
        return True
    asked = _asked_slot(tracker)
    return asked is not None and any(isinstance(c, cmd.SetSlot) and c.name == asked for c in prior)


def _asked_slot(tracker: Tracker) -> str | None:
    top = tracker.stack[-1] if tracker.stack else None
    if top is not None and top.get("type") == st.COLLECT_INFORMATION:
        return str(top["collect"])
    return None


def _may_be_set_by_llm(command: cmd.Command, tracker: Tracker, domain: Domain) -> bool:
    """Whether some mapping of the slot lets it be filled now: its intent
    filter accepts the previous message's intent and its conditions name the top flow."""
    if not isinstance(command, cmd.SetSlot):
        return True
    slot = domain.slots.get(command.name)
    if slot is None:
        return True  # cleaning turns unknown slots into CannotHandle
    previous = tracker.latest_message
    intent = previous.intent_name if previous is not None else None
    top_flow = st.stack_context(tracker.stack).get("flow_id")
    return any(
        mapping.intent_allows(intent)
        and (not mapping.conditions or any(c.active_flow == top_flow for c in mapping.conditions))
        for mapping in slot.mappings
    )


def prompt_inputs(
    parse_data: ParseData,
    tracker: Tracker,
    flows: FlowsList,
    domain: Domain,
    candidates: Sequence[Flow],
) -> dict[str, Any]:
    """The variables every command prompt template gets."""
    stack = st.DialogueStack(tracker.stack)
    asked = _asked_slot(tracker)
    top = stack.top_flow_frame()
    current_flow = flows.get(top["flow_id"]) if top is not None else None
    step_frame = stack.top_flow_frame(include_call=True)
    step = None
    if step_frame is not None:
        step_flow = flows.get(step_frame["flow_id"])
        step = step_flow.step_by_id(step_frame["step_id"]) if step_flow is not None else None
    current = step if isinstance(step, CollectStep) else None
    current_slot = domain.slots.get(current.collect) if current is not None else None
    user_message = str(parse_data.get("text") or "").replace("\n", " ")
    return {
        "available_flows": [
            {
                "name": flow.id,
                "description": flow.description,
                "slots": [
                    {
                        "name": slot.name,
                        "description": step.description,
                        "allowed_values": _allowed_values(slot),
                    }
                    for step, slot in _extractable(flow, tracker, domain, asked)
                ],
            }
            for flow in candidates
        ],
        "current_conversation": transcript(tracker, pending_message=user_message),
        "current_flow": top["flow_id"] if top is not None else None,
        "current_slot": current.collect if current is not None else None,
        "current_slot_description": current.description if current is not None else None,
        "current_slot_type": current_slot.type if current_slot is not None else None,
        "current_slot_allowed_values": _allowed_values(current_slot) if current_slot else None,
        "flow_slots": _flow_slots(current_flow, tracker, domain, asked),
        "user_message": user_message,
    }


def _extractable(
    flow: Flow, tracker: Tracker, domain: Domain, asked: str | None
) -> list[tuple[CollectStep, Slot]]:
    """Collect steps whose slot the LLM may fill: not ask-before-filling, or already set,
    or being asked right now; one entry per slot."""
    found: dict[str, tuple[CollectStep, Slot]] = {}
    for step in flow.collect_steps:
        slot = domain.slots.get(step.collect)
        if slot is None or step.collect in found:
            continue
        if not step.ask_before_filling or tracker.slot_was_set(slot.name) or asked == slot.name:
            found[step.collect] = (step, slot)
    return list(found.values())


def _flow_slots(
    flow: Flow | None, tracker: Tracker, domain: Domain, asked: str | None
) -> list[dict[str, Any]]:
    if flow is None:
        return []
    slots = []
    for step, slot in _extractable(flow, tracker, domain, asked):
        value = tracker.get_slot(slot.name)
        slots.append(
            {
                "name": slot.name,
                "value": "undefined" if value is None else str(value),
                "type": slot.type,
                "allowed_values": _allowed_values(slot),
                "description": step.description,
            }
        )
    return slots


def _allowed_values(slot: Slot) -> str | None:
    if slot.type == "bool":
        return str([True, False])
    if slot.type == "categorical":
        return str([value for value in slot.values if value != "__other__"])
    return None
