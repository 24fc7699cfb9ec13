"""A small scripted assistant for the e2e runner's tests, and helpers to run test files.

Messages are ``/intent`` (or one of ``TEXTS``); ``SCRIPT`` says which actions follow each
intent. CALM-like events (flow_started, slot, ...) come from in-test actions registered
with ``ActionRegistry.register``; their names are declared as forms only so that they are
in the domain's action index without being custom actions. A turn stage plays the router
and command processor: it sets ``route_session_to_calm`` before the policies run.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tandem import names
from tandem.actions.base import Action, ActionContext
from tandem.actions.registry import ActionRegistry
from tandem.conversation import events as ev
from tandem.conversation.slots import Slot
from tandem.conversation.tracker import Tracker
from tandem.policies.base import Policy, Prediction
from tandem.project.domain import Domain, Form, IntentConfig
from tandem.runtime.assistant import Assistant, TurnNotes
from tandem.runtime.message import UserMessage
from tandem.runtime.processor import MessageProcessor
from tandem.testing.cases import TestCase, load_test_cases
from tandem.testing.runner import TestResult, run_cases

TEXTS = {"hello there": "greet", "how much money do I have?": "balance"}

SCRIPT: Mapping[str, Sequence[str]] = {
    "greet": ("utter_greet",),
    "balance": ("action_fetch_balance", "utter_balance"),
    "transfer": ("action_start_transfer", "utter_ask_amount"),
    "inform": ("action_set_amount", "utter_confirm"),
    "finish": ("action_finish", "utter_done", names.ACTION_RESET_ROUTING),
    "cancel": ("action_cancel",),
    "clarify": ("action_clarify",),
    "choose": ("utter_choose",),
    "hours": ("utter_hours",),
    "chitchat": ("utter_greet",),
}
CALM_INTENTS = frozenset({"transfer", "inform", "finish", "cancel", "clarify"})
STICKY_NLU_INTENTS = frozenset({"hours"})

RESPONSES = {
    "utter_greet": ({"text": "Hello!"},),
    "utter_balance": ({"text": "You have {balance} dollars."},),
    "utter_ask_amount": ({"text": "How much?"},),
    "utter_confirm": ({"text": "Send {amount}?"},),
    "utter_done": ({"text": "Done."},),
    "utter_hours": ({"text": "We open at nine."},),
    "utter_choose": (
        {
            "text": "Pick one",
            "buttons": [
                {"title": "Yes", "payload": "/affirm"},
                {"title": "No", "payload": "/deny"},
            ],
        },
    ),
}

LOCAL_ACTIONS: Mapping[str, tuple[ev.Event, ...]] = {
    "action_start_transfer": (ev.FlowStarted(flow_id="transfer"),),
    "action_set_amount": (ev.SlotSet(name="amount", value=50.0),),
    "action_finish": (
        ev.FlowCompleted(flow_id="transfer", step_id="confirm"),
        ev.FlowStarted(flow_id="pattern_completed"),
    ),
    "action_cancel": (ev.FlowCancelled(flow_id="transfer", step_id="ask_amount"),),
    "action_clarify": (
        ev.FlowStarted(
            flow_id="pattern_clarification",
            metadata={
                "names": ["transfer money", "check balance"],
                "clarification_ids": ["transfer", "balance"],
            },
        ),
    ),
}


def make_domain(*, routing: bool = True) -> Domain:
    slots = {
        "amount": Slot("amount", "float", max_value=1000.0),
        "balance": Slot("balance", "any"),
        "vip": Slot("vip", "bool"),
    }
    if routing:
        slots[names.ROUTING_SLOT] = Slot(names.ROUTING_SLOT, "bool")
    return Domain(
        intents={intent: IntentConfig() for intent in (*SCRIPT, "restart")},
        slots=slots,
        responses=RESPONSES,
        actions=("action_fetch_balance",),
        forms={name: Form() for name in LOCAL_ACTIONS},
    )


async def parse(message: UserMessage, tracker: Tracker) -> dict[str, Any]:
    intent = TEXTS.get(message.text) or message.text.removeprefix("/")
    return {"intent": {"name": intent, "confidence": 1.0}, "entities": [], "text": message.text}


class ScriptPolicy(Policy):
    """After a user message, runs the intent's actions of ``SCRIPT`` in order, then listens."""

    name = "ScriptPolicy"

    def predict(self, tracker: Tracker, domain: Domain) -> Prediction:
        latest = tracker.latest_message
        plan = SCRIPT.get(latest.intent_name or "", ()) if latest else ()
        done = 0
        for event in reversed(tracker.events):
            if isinstance(event, ev.UserUttered):
                break
            done += isinstance(event, ev.ActionExecuted)
        action = plan[done] if done < len(plan) else names.ACTION_LISTEN
        return Prediction.for_action(domain, action, self.name, self.priority)


class Router:
    """Plays router and command processor: the routing slot is set before the policies."""

    async def run(self, tracker: Tracker, notes: TurnNotes) -> list[ev.Event]:
        latest = tracker.latest_message
        intent = latest.intent_name if latest else None
        if not tracker.has_slot(names.ROUTING_SLOT) or tracker.get_slot(names.ROUTING_SLOT):
            return []
        if intent in CALM_INTENTS:
            return [ev.SlotSet(name=names.ROUTING_SLOT, value=True)]
        if intent in STICKY_NLU_INTENTS:
            return [ev.SlotSet(name=names.ROUTING_SLOT, value=False)]
        return []


class EventsAction(Action):
    def __init__(self, name: str) -> None:
        self.name = name

    async def run(self, tracker: Tracker, context: ActionContext) -> list[ev.Event]:
        return list(LOCAL_ACTIONS[self.name])


def make_processor(*, routing: bool = True) -> MessageProcessor:
    domain = make_domain(routing=routing)
    actions = ActionRegistry(domain)
    for name in LOCAL_ACTIONS:
        actions.register(name, EventsAction)
    assistant = Assistant(
        domain=domain,
        parse=parse,
        actions=actions,
        policies=[ScriptPolicy()],
        turn_stages=[Router()],
    )
    return MessageProcessor(assistant)


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def load(directory: Path, text: str, name: str = "tests.yml") -> list[TestCase]:
    return load_test_cases([str(write(directory, name, text))])


async def run(
    directory: Path, text: str, *, routing: bool = True, **options: Any
) -> list[TestResult]:
    return await run_cases(make_processor(routing=routing), load(directory, text), **options)


async def run_one(directory: Path, text: str, **options: Any) -> TestResult:
    (result,) = await run(directory, text, **options)
    return result
