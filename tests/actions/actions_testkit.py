"""Shared builders for the action tests: domains from YAML text, trackers, contexts."""

from __future__ import annotations

import random
import textwrap
from typing import Any

from tandem.actions.base import Action, ActionContext
from tandem.actions.custom import ActionServerClient
from tandem.actions.responses import ResponseGenerator
from tandem.conversation import events as ev
from tandem.conversation.tracker import Tracker
from tandem.project.domain import Domain
from tandem.project.domain_files import domain_from_yaml, with_defaults
from tandem.project.flows.model import FlowsList
from tandem.project.yaml import parse_yaml


def domain_of(text: str) -> Domain:
    """The domain of one domain file's text, with the defaults every domain has."""
    problems: list[Any] = []
    domain = with_defaults(domain_from_yaml(parse_yaml(textwrap.dedent(text)), problems))
    assert not problems, problems
    return domain


def context_for(
    domain: Domain,
    *,
    action_server: ActionServerClient | None = None,
    channel: str | None = None,
    flows: FlowsList | None = None,
    seed: int = 0,
) -> ActionContext:
    return ActionContext(
        domain=domain,
        nlg=ResponseGenerator(domain, rng=random.Random(seed)),
        action_server=action_server,
        output_channel=channel,
        flows=flows or FlowsList(),
    )


def user(
    text: str | None,
    intent: str | None = "inform",
    entities: list[dict[str, Any]] | None = None,
    *,
    confidence: float = 0.9,
    **parse_data: Any,
) -> ev.UserUttered:
    return ev.UserUttered.create(
        text,
        {"name": intent, "confidence": confidence} if intent else {},
        entities,
        parse_data=parse_data or None,
    )


def entity(name: str, value: Any, **extra: Any) -> dict[str, Any]:
    return {"entity": name, "value": value, "start": 0, "end": 1, **extra}


def action(name: str) -> ev.ActionExecuted:
    return ev.ActionExecuted(name=name)


def tracker_of(domain: Domain, *events: ev.Event, sender_id: str = "alice") -> Tracker:
    return Tracker(sender_id, domain.slots, events)


def started(domain: Domain, *events: ev.Event) -> Tracker:
    """A tracker whose session has started, followed by ``events``."""
    return tracker_of(
        domain,
        action("action_session_start"),
        ev.SessionStarted(),
        action("action_listen"),
        *events,
    )


async def run_and_apply(
    action_: Action, tracker: Tracker, context: ActionContext
) -> list[ev.Event]:
    """Run ``action_`` as the processor does: log the action, then append its events."""
    events = await action_.run(tracker, context)
    tracker.update(action(action_.name))
    tracker.update_many(events)
    return events


def wire(events: list[ev.Event]) -> list[dict[str, Any]]:
    """Events as wire dicts without timestamps, for exact comparisons."""
    return [{k: v for k, v in e.as_dict().items() if k != "timestamp"} for e in events]
