"""Routers: which system, CALM or the NLU-based one, handles a message.

A router runs in the pipeline after the intent classifier and before the command
generators. It leaves its decision as the message's commands: ``[]`` for CALM (the command
generators then set the routing slot to true), ``[noop]`` for the NLU-based system this turn
only, and ``set slot route_session_to_calm false`` for the NLU-based system until the routing
is reset. Once a routing session is active the router only repeats what the slot says. The
verdict and its reason go into the user event's metadata under ``routing``.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from tandem import names
from tandem.calm.nlu_adapter import convert_nlu_to_commands
from tandem.conversation import commands as cmd
from tandem.conversation.parse_data import EVENT_METADATA, ParseData
from tandem.conversation.routing import (
    CALM,
    NLU_NON_STICKY,
    NLU_STICKY,
    RoutingVerdict,
    is_coexistence,
    session_route,
)
from tandem.conversation.tracker import Tracker
from tandem.llm import Cassette, LLMError
from tandem.llm.component import PromptedLLMComponent
from tandem.project.domain import Domain
from tandem.project.endpoints import Endpoints
from tandem.project.flows.model import FlowsList

log = logging.getLogger(__name__)

_COMMANDS: dict[str, list[cmd.Command]] = {
    CALM: [],
    NLU_NON_STICKY: [cmd.Noop()],
    NLU_STICKY: [cmd.SetSlot(names.ROUTING_SLOT, False)],
}


class RouterConfigError(ValueError):
    """A router's config misses a setting it cannot do without."""


class Router(ABC):
    """What both routers share: the sticky session check and how a verdict is written."""

    name = "Router"

    async def process(
        self,
        parse_data: ParseData,
        prior: list[cmd.Command],
        tracker: Tracker,
        flows: FlowsList,
        domain: Domain,
    ) -> list[cmd.Command]:
        """The router's commands, which replace whatever the message had (``prior``)."""
        if not is_coexistence(tracker):
            raise RouterConfigError(
                f"{self.name} ran for a conversation without the slot '{names.ROUTING_SLOT}'"
            )
        route = session_route(tracker)
        if route is not None:
            sticky = CALM if route else NLU_STICKY
            current = tracker.get_slot(names.ROUTING_SLOT)
            verdict = RoutingVerdict(
                sticky, f"the routing session is active ({names.ROUTING_SLOT}={current})"
            )
            commands: list[cmd.Command] = [] if sticky == CALM else [cmd.Noop()]
        else:
            verdict = await self.decide(parse_data, tracker, flows, domain)
            commands = list(_COMMANDS[verdict.route])
        parse_data.setdefault(EVENT_METADATA, {})["routing"] = verdict.as_dict(self.name)
        log.debug("%s: %s (%s)", self.name, verdict.route, verdict.reason)
        return commands

    @abstractmethod
    async def decide(
        self, parse_data: ParseData, tracker: Tracker, flows: FlowsList, domain: Domain
    ) -> RoutingVerdict:
        """Where an undecided session's message goes, and why."""


def _required(options: Mapping[str, Any], entry: str, key: str, router: str) -> Any:
    value = (options.get(entry) or {}).get(key)
    if value is None:
        raise RouterConfigError(f"{router} needs `{entry}.{key}` in config.yml")
    return value


class IntentBasedRouter(Router):
    """Routes by the message's intent."""

    name = "IntentBasedRouter"

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.nlu_sticky = _required(options, "nlu_entry", "sticky", self.name)
        self.nlu_non_sticky = _required(options, "nlu_entry", "non_sticky", self.name)
        self.calm_sticky = _required(options, "calm_entry", "sticky", self.name)

    async def decide(
        self, parse_data: ParseData, tracker: Tracker, flows: FlowsList, domain: Domain
    ) -> RoutingVerdict:
        intent = (parse_data.get("intent") or {}).get("name")
        if not intent:
            return RoutingVerdict(NLU_STICKY, "no intent was predicted")
        if intent in self.nlu_sticky:
            return RoutingVerdict(NLU_STICKY, f"intent '{intent}' is in nlu_entry.sticky")
        if intent in self.nlu_non_sticky:
            return RoutingVerdict(NLU_NON_STICKY, f"intent '{intent}' is in nlu_entry.non_sticky")
        if intent in self.calm_sticky:
            return RoutingVerdict(CALM, f"intent '{intent}' is in calm_entry.sticky")
        # The reference converts without its domain: entity mappings and intent-filtered
        # mappings then count as invalid, so only text-like mappings can say "CALM" here.
        bare = replace(domain, intents={}, entities={})
        converted = convert_nlu_to_commands(parse_data, tracker, flows, bare)
        if converted:
            described = ", ".join(c.command for c in converted)
            return RoutingVerdict(
                CALM, f"intent '{intent}' is in no list but converts to: {described}"
            )
        return RoutingVerdict(NLU_STICKY, f"intent '{intent}' is in no list and starts no flow")


DEFAULT_ROUTER_LLM: dict[str, Any] = {
    "provider": "openai",
    "model": "gpt-5-mini-2025-08-07",
    "reasoning_effort": "minimal",
    "timeout": 7,
    "temperature": 1.0,
}
_ANSWERS = {"A": CALM, "B": NLU_NON_STICKY, "C": NLU_STICKY}


class LLMBasedRouter(Router, PromptedLLMComponent):
    """Asks an LLM which of three described assistants should answer."""

    name = "LLMBasedRouter"

    def __init__(
        self,
        options: Mapping[str, Any],
        endpoints: Endpoints | None,
        *,
        project_root: Path | None = None,
        cassette: Cassette | None = None,
    ) -> None:
        self.calm_sticky = _required(options, "calm_entry", "sticky", self.name)
        nlu = options.get("nlu_entry") or {
            "non_sticky": "handles chitchat",
            "sticky": "handles everything else",
        }
        self.nlu_sticky = nlu.get("sticky")
        self.nlu_non_sticky = nlu.get("non_sticky")
        self.use_llm(
            options,
            endpoints,
            DEFAULT_ROUTER_LLM,
            project_root=project_root,
            package="tandem.coexistence",
            template="router_prompt.jinja2",
            cassette=cassette,
        )

    def render_prompt(self, user_message: str) -> str:
        return self.template.render(
            user_message=user_message,
            calm_entry_sticky=self.calm_sticky,
            nlu_entry_sticky=self.nlu_sticky,
            nlu_entry_non_sticky=self.nlu_non_sticky,
        )

    async def decide(
        self, parse_data: ParseData, tracker: Tracker, flows: FlowsList, domain: Domain
    ) -> RoutingVerdict:
        prompt = self.render_prompt(str(parse_data.get("text") or ""))
        try:
            completion = await self.client.complete(prompt)
        except LLMError as exc:
            log.error("LLMBasedRouter: the LLM call failed (%s); routing to the NLU system.", exc)
            return RoutingVerdict(NLU_STICKY, f"the LLM call failed: {exc}")
        answer = (completion.text or "").strip()
        route = _ANSWERS.get(answer)
        if route is None:
            log.warning("LLMBasedRouter: unexpected answer %r; routing to the NLU system.", answer)
            return RoutingVerdict(
                NLU_STICKY, f"the LLM answered {answer!r}, which is not A, B or C"
            )
        return RoutingVerdict(route, f"the LLM answered {answer}")
