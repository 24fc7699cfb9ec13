"""Putting CALM into an assistant: its parser, turn stage, policy, actions and failure rule.

The model loader calls ``with_calm`` for every assistant whose config has ``FlowPolicy``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from tandem import names
from tandem.calm.answer_policy import FrameAnswerPolicy
from tandem.calm.chitchat import IntentlessPolicy
from tandem.calm.command_processor import CommandProcessor
from tandem.calm.executor import cancel_top_flow_with_error
from tandem.calm.flow_policy import FlowPolicy
from tandem.calm.parsing import CalmMessageParser, CommandComponent
from tandem.calm.pattern_actions import register_pattern_actions
from tandem.calm.search import EnterpriseSearchPolicy
from tandem.conversation import events as ev
from tandem.conversation.routing import calm_abstains
from tandem.conversation.tracker import Tracker
from tandem.policies.base import Policy
from tandem.project.config import Config
from tandem.project.domain import Domain
from tandem.project.endpoints import Endpoints
from tandem.project.flows.model import FlowsList
from tandem.runtime.assistant import Assistant, nlu_max_predictions

MAX_PREDICTIONS_CALM_DEFAULT = 1000
# After a correction the flow re-runs its steps, so the turn may take more actions.
CORRECTION_FACTOR = 5


def uses_calm(config: Config) -> bool:
    return config.find(FlowPolicy.name) is not None


def with_calm(
    assistant: Assistant,
    config: Config,
    flows: FlowsList,
    components: Sequence[CommandComponent],
    endpoints: Endpoints | None = None,
    project_root: Path | None = None,
) -> Assistant:
    """``assistant`` with CALM added: its parser wraps the NLU parser and runs the routers
    and command generators ``components`` (built by ``tandem.model.components``), the command
    processor runs before the policies, ``FlowPolicy`` (and the LLM-answering policies the
    config lists) join them and the pattern actions exist."""
    domain = assistant.domain
    register_pattern_actions(assistant.actions)
    chitchat = config.find(IntentlessPolicy.name) is not None
    flow_policies = [
        FlowPolicy.from_config(c.options, flows, domain)
        for c in config.policies
        if c.name == FlowPolicy.name
    ]
    llm_policies = answer_policies(config, endpoints, project_root)
    return replace(
        assistant,
        parse=CalmMessageParser(assistant.parse, components, flows, domain),
        closeables=[*assistant.closeables, *_closeables(components), *llm_policies],
        policies=_in_config_order([*assistant.policies, *flow_policies, *llm_policies], config),
        turn_stages=[CommandProcessor(flows, domain, chitchat_available=chitchat)],
        failure_handlers=[CalmFailureHandler(flows, domain)],
        flows=flows,
        max_predictions=calm_max_predictions,
    )


def _in_config_order(policies: list[Policy], config: Config) -> list[Policy]:
    """Earlier policies win complete ties, so the config's order is kept."""
    position = {c.name: index for index, c in reversed(list(enumerate(config.policies)))}
    return sorted(policies, key=lambda policy: position.get(policy.name, len(position)))


_ANSWER_POLICIES: dict[str, type[FrameAnswerPolicy]] = {
    policy.name: policy for policy in (EnterpriseSearchPolicy, IntentlessPolicy)
}


def answer_policies(
    config: Config, endpoints: Endpoints | None, project_root: Path | None
) -> list[FrameAnswerPolicy]:
    """The policies config.yml lists that answer with the LLM (document search, chitchat)."""
    return [
        _ANSWER_POLICIES[c.name](c.options, endpoints, project_root)
        for c in config.policies
        if c.name in _ANSWER_POLICIES
    ]


def _closeables(components: Sequence[CommandComponent]) -> list[Any]:
    """Components holding connections (LLM clients) that must be closed with the assistant."""
    parts = [getattr(c, "generator", c) for c in components]
    return [part for part in parts if hasattr(part, "aclose")]


class CalmFailureHandler:
    """A failed custom action cancels the running flow behind an internal error."""

    def __init__(self, flows: FlowsList, domain: Domain) -> None:
        self.flows = flows
        self.domain = domain

    def on_action_failed(self, tracker: Tracker, action_name: str) -> list[ev.Event]:
        if not self.domain.is_custom_action(action_name):
            return []
        if calm_abstains(tracker):
            return []  # the NLU-based system has the conversation: nothing to cancel
        return cancel_top_flow_with_error(tracker, self.flows)


def calm_max_predictions(tracker: Tracker) -> int:
    """The per-turn cap on actions in a CALM assistant; a turn the NLU system handles keeps
    the NLU system's cap."""
    if not calm_abstains(tracker):
        limit = int(os.environ.get("MAX_NUMBER_OF_PREDICTIONS_CALM", MAX_PREDICTIONS_CALM_DEFAULT))
    else:
        limit = nlu_max_predictions(tracker)
    if names.ACTION_CORRECT_FLOW_SLOT in _actions_this_turn(tracker.events):
        limit *= CORRECTION_FACTOR
    return limit


def _actions_this_turn(events: Sequence[ev.Event]) -> set[str | None]:
    found: set[str | None] = set()
    for event in reversed(events):
        if isinstance(event, ev.ActionExecuted):
            if event.name in (names.ACTION_LISTEN, names.ACTION_SESSION_START):
                break
            found.add(event.name)
    return found
