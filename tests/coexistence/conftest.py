"""A small bank assistant in which CALM and the NLU-based system coexist, and how to talk to it.

CALM has the flows ``transfer_money`` (started by the LLM), ``check_balance`` (an NLU
trigger) and ``move_house`` (which resets the routing halfway); its overridden
``pattern_completed`` ends the routing session. The NLU-based system has rules: greetings and
chitchat (the router's non-sticky intents), booking a table (sticky, over two turns, ending
with ``action_reset_routing``) and an account overview that starts ``check_balance``.
The NLU stand-in knows the intents of the texts in ``INTENTS``; the LLM is the scripted server
of ``llm_server``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from calm.calm_testkit import (
    COMPACT,
    LLM_GROUP,
    calm_processor,
    llm_endpoints,
    nlu_of,
    say,
)
from fake_llm_server import FakeLLMServer
from tandem import names
from tandem.calm.parsing import CalmMessageParser
from tandem.coexistence.routers import Router
from tandem.conversation import commands as cmd
from tandem.conversation import events as ev
from tandem.conversation.parse_data import EVENT_METADATA
from tandem.conversation.tracker import Tracker
from tandem.runtime.message import UserMessage
from tandem.runtime.processor import MessageProcessor

ROUTING = names.ROUTING_SLOT

DOMAIN = """\
version: "3.1"
intents:
  [greet, chitchat, book_table, inform, account_overview, transfer, move, check_balance, unlisted]
slots:
  route_session_to_calm:
    type: bool
    influence_conversation: false
    mappings: [{type: from_llm}]
  amount:
    type: float
    mappings: [{type: from_llm}]
  user_name:
    type: text
    shared_for_coexistence: true
    mappings: [{type: from_llm}]
  city:
    type: text
    initial_value: Berlin
    mappings: [{type: from_llm}]
responses:
  utter_greet: [{text: "Hello!"}]
  utter_chitchat: [{text: "Nice weather today."}]
  utter_ask_people: [{text: "For how many people?"}]
  utter_booked: [{text: "Your table is booked."}]
  utter_ask_amount: [{text: "How much?"}]
  utter_transferred: [{text: "Sent {amount}."}]
  utter_balance: [{text: "You have 100."}]
  utter_can_do_something_else: [{text: "Anything else?"}]
  utter_after_reset: [{text: "Nobody hears this."}]
"""

FLOWS = """\
flows:
  transfer_money:
    description: Send money to someone.
    steps:
      - collect: amount
      - action: utter_transferred
  check_balance:
    description: Tell the balance of the account.
    nlu_trigger:
      - intent: check_balance
    steps:
      - action: utter_balance
  move_house:
    description: Move the account holder to another city.
    steps:
      - set_slots:
          - user_name: Ann
          - city: Rome
      - action: action_reset_routing
      - action: utter_after_reset
  pattern_completed:
    description: What happens when every flow is done.
    steps:
      - action: utter_can_do_something_else
      - action: action_reset_routing
"""

RULES = """\
version: "3.1"
rules:
  - rule: greet
    steps: [{intent: greet}, {action: utter_greet}]
  - rule: chitchat
    steps: [{intent: chitchat}, {action: utter_chitchat}]
  - rule: ask for the number of people
    steps: [{intent: book_table}, {action: utter_ask_people}]
  - rule: book the table
    steps: [{intent: inform}, {action: utter_booked}, {action: action_reset_routing}]
  - rule: show the account from the NLU side with a flow
    steps: [{intent: account_overview}, {action: flow_check_balance}]
"""

# For the MemoizationPolicy (it does not learn from rules).
STORIES = """\
stories:
  - story: greet
    steps: [{intent: greet}, {action: utter_greet}]
"""

# What the NLU stand-in makes of each text (any other text has no intent).
INTENTS = {
    "hi": "greet",
    "nice weather": "chitchat",
    "book a table": "book_table",
    "account overview": "account_overview",
    "for two": "inform",
    "send money": "transfer",
    "I moved": "move",
    "my balance": "check_balance",
    "something else": "unlisted",
}
# An unlisted intent with an entity (which no slot of the bank assistant maps).
LARGE = {"entity": "size", "value": "large", "start": 10, "end": 15}
NLU = nlu_of(
    {
        **{text: (intent, []) for text, intent in INTENTS.items()},
        "something large": ("unlisted", [LARGE]),
    }
)

INTENT_ROUTER: dict[str, Any] = {
    "name": "IntentBasedRouter",
    "nlu_entry": {
        "sticky": ["book_table", "account_overview"],
        "non_sticky": ["greet", "chitchat"],
    },
    "calm_entry": {"sticky": ["transfer", "move"]},
}
LLM_ROUTER: dict[str, Any] = {
    "name": "LLMBasedRouter",
    "calm_entry": {"sticky": "sends money and tells the balance"},
    "llm": {"model_group": LLM_GROUP},
}
GENERATOR: dict[str, Any] = {
    "name": COMPACT,
    "llm": {"model_group": LLM_GROUP},
    "flow_retrieval": {"active": False},
}
START_TRANSFER = "start flow transfer_money"  # what the LLM generator answers to start it


def coexistence_config(
    router: dict[str, Any] = INTENT_ROUTER, policies: Sequence[str] = ("FlowPolicy", "RulePolicy")
) -> str:
    """config.yml: ``router``, NLUCommandAdapter and the LLM command generator; ``policies``."""
    config = {
        "recipe": "default.v1",
        "language": "en",
        "pipeline": [router, {"name": "NLUCommandAdapter"}, GENERATOR],
        "policies": [{"name": name} for name in policies],
    }
    return yaml.safe_dump(config, sort_keys=False)


NOOP = {"command": "noop"}


def routing_command(value: bool | None) -> dict[str, Any]:
    """The command that sets the routing slot, as a message carries it."""
    return {"command": "set slot", "name": ROUTING, "value": value, "extractor": "LLM"}


# The routes, as ``(system, sticky)`` of a verdict in the user event's metadata.
ROUTES = {"calm": ("calm", True), "nlu_sticky": ("nlu", True), "nlu_non_sticky": ("nlu", False)}


def verdict(route: str, reason: str, router: str = "IntentBasedRouter") -> dict[str, Any]:
    """The verdict the user event's metadata records under ``routing``."""
    system, sticky = ROUTES[route]
    return {"router": router, "system": system, "sticky": sticky, "reason": reason}


def session_active(routed: bool) -> str:
    """The reason a router gives when the routing slot already decides."""
    return f"the routing session is active ({ROUTING}={routed})"


def route_of(said: dict[str, Any]) -> str:
    """The route of a recorded verdict."""
    return next(route for route, key in ROUTES.items() if key == (said["system"], said["sticky"]))


@dataclass(frozen=True)
class Turn:
    """What one user message led to."""

    events: list[ev.Event]
    llm_calls: int  # requests the scripted LLM server got during the turn

    @property
    def user(self) -> ev.UserUttered:
        return next(e for e in self.events if isinstance(e, ev.UserUttered))

    @property
    def commands(self) -> list[dict[str, Any]]:
        """The commands the message carries (as stored in the user event)."""
        return self.user.commands

    @property
    def routing(self) -> dict[str, Any]:
        """The routing verdict recorded in the user event's metadata (``{}`` if none)."""
        return dict(self.user.metadata.get("routing") or {})

    @property
    def route_events(self) -> list[Any]:
        """The values the routing slot was set to, in order."""
        return [e.value for e in self.events if isinstance(e, ev.SlotSet) and e.name == ROUTING]

    @property
    def predicted(self) -> list[tuple[str | None, str | None]]:
        """``(action, policy)`` of the actions policies predicted (``action_listen`` too)."""
        return [
            (e.name, e.policy)
            for e in self.events
            if isinstance(e, ev.ActionExecuted) and e.policy not in (None, "followup_action")
        ]

    @property
    def policies(self) -> set[str | None]:
        return {policy for _, policy in self.predicted}

    @property
    def texts(self) -> list[str | None]:
        return [e.text for e in self.events if isinstance(e, ev.BotUttered)]

    @property
    def flows_started(self) -> list[str]:
        return [e.flow_id for e in self.events if isinstance(e, ev.FlowStarted)]

    @property
    def frames_pushed(self) -> list[str]:
        """The flows whose frames ``stack`` events put on the stack, in order."""
        return [
            op["value"]["flow_id"]
            for e in self.events
            if isinstance(e, ev.DialogueStackUpdated)
            for op in e.patch
            if op["op"] == "add" and "flow_id" in op.get("value", {})
        ]

    def has(self, kind: type[ev.Event]) -> bool:
        return any(isinstance(e, kind) for e in self.events)


@dataclass
class Chat:
    """One conversation with the assistant, with the scripted LLM behind it."""

    processor: MessageProcessor
    llm: FakeLLMServer
    sender: str = "user"

    async def say(self, text: str, *llm_answers: str) -> Turn:
        """Send ``text``; the LLM answers ``llm_answers`` in turn to the calls it gets."""
        for answer in llm_answers:
            self.llm.then_answer(answer)
        before = len(self.llm.requests)
        events = await say(self.processor, text, self.sender)
        return Turn(events, len(self.llm.requests) - before)

    async def tracker(self) -> Tracker:
        return await self.processor.fetch_tracker(self.sender)

    async def route(self) -> Any:
        """The routing slot's value now."""
        return (await self.tracker()).get_slot(ROUTING)

    @property
    def parser(self) -> CalmMessageParser:
        parser = self.processor.assistant.parse
        assert isinstance(parser, CalmMessageParser)
        return parser

    @property
    def router(self) -> Router:
        return next(c for c in self.parser.components if isinstance(c, Router))

    async def decide(
        self, text: str, routed: bool | None = None, router: Router | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The commands and the verdict of ``router`` (by default the assistant's) on ``text``
        alone, while the routing slot is ``routed``."""
        domain = self.processor.assistant.domain
        tracker = Tracker("router", domain.slots, [ev.SlotSet(name=ROUTING, value=routed)])
        parse_data = await NLU(UserMessage(text, "router"), tracker)
        router = router or self.router
        commands = await router.process(parse_data, [], tracker, self.parser.flows, domain)
        return cmd.commands_as_dicts(commands), parse_data[EVENT_METADATA]["routing"]


OpenChat = Callable[..., Chat]


@pytest.fixture
async def open_chat(tmp_path: Path, llm_server: FakeLLMServer) -> AsyncIterator[OpenChat]:
    """``open_chat(config, domain=..., flows=..., dialogue=..., **llm_settings)``: a chat with
    the assistant (by default the bank assistant with the IntentBasedRouter)."""
    processors: list[MessageProcessor] = []

    def open_chat(
        config: str | None = None,
        *,
        domain: str = DOMAIN,
        flows: str = FLOWS,
        dialogue: str = RULES,
        **llm_settings: Any,
    ) -> Chat:
        root = tmp_path / f"assistant_{len(processors)}"
        root.mkdir()
        processor = calm_processor(
            root,
            domain,
            flows,
            config or coexistence_config(),
            endpoints=llm_endpoints(llm_server.api_base, **llm_settings),
            nlu=NLU,
            dialogue=dialogue,
        )
        processors.append(processor)
        return Chat(processor, llm_server)

    yield open_chat
    for processor in processors:
        for component in processor.assistant.closeables:
            await component.aclose()
