"""The routers' decisions and how they reach the rest of the pipeline."""

from __future__ import annotations

from typing import Any

import pytest

from fake_llm_server import chat_reply
from tandem.coexistence.routers import IntentBasedRouter, LLMBasedRouter, RouterConfigError
from tandem.conversation.tracker import Tracker
from tandem.runtime.message import UserMessage

from .conftest import (
    DOMAIN,
    FLOWS,
    LLM_ROUTER,
    NLU,
    NOOP,
    ROUTING,
    START_TRANSFER,
    OpenChat,
    coexistence_config,
    route_of,
    routing_command,
    session_active,
    verdict,
)

# The commands a router leaves on the message for each route.
TO_CALM: list[dict[str, Any]] = []
NON_STICKY = [NOOP]
STICKY_NLU = [routing_command(False)]
ROUTE_TO_CALM = routing_command(True)  # what command generators add for CALM


# -- IntentBasedRouter on its own -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "commands", "route", "reason"),
    [
        ("book a table", STICKY_NLU, "nlu_sticky", "intent 'book_table' is in nlu_entry.sticky"),
        ("hi", NON_STICKY, "nlu_non_sticky", "intent 'greet' is in nlu_entry.non_sticky"),
        ("send money", TO_CALM, "calm", "intent 'transfer' is in calm_entry.sticky"),
        # An unlisted intent goes to CALM if it triggers a flow ...
        ("my balance", TO_CALM, "calm", "is in no list but converts to: start flow"),
        # ... and to the NLU-based system, for good, otherwise.
        ("something else", STICKY_NLU, "nlu_sticky", "is in no list and starts no flow"),
        # No intent at all.
        ("", STICKY_NLU, "nlu_sticky", "no intent was predicted"),
        ("what the NLU does not know", STICKY_NLU, "nlu_sticky", "no intent was predicted"),
    ],
)
async def test_an_undecided_session_is_routed_by_the_intent(
    open_chat: OpenChat, text: str, commands: list[dict[str, Any]], route: str, reason: str
) -> None:
    decided, said = await open_chat().decide(text)
    assert decided == commands
    assert route_of(said) == route and reason in said["reason"]


async def test_an_intent_in_several_lists_is_decided_in_the_order_of_the_checks(
    open_chat: OpenChat,
) -> None:
    chat = open_chat()

    def router(nlu_sticky: list[str], non_sticky: list[str]) -> IntentBasedRouter:
        nlu_entry = {"sticky": nlu_sticky, "non_sticky": non_sticky}
        return IntentBasedRouter({"nlu_entry": nlu_entry, "calm_entry": {"sticky": ["greet"]}})

    assert (await chat.decide("hi", router=router(["greet"], ["greet"])))[0] == STICKY_NLU
    assert (await chat.decide("hi", router=router([], ["greet"])))[0] == NON_STICKY
    assert (await chat.decide("hi", router=router([], [])))[0] == TO_CALM


@pytest.mark.parametrize("text", ["book a table", "hi", "send money", "something else", ""])
async def test_an_active_routing_session_is_kept_whatever_the_intent(
    open_chat: OpenChat, text: str
) -> None:
    """The slot decides; the router only repeats it."""
    chat = open_chat()
    assert await chat.decide(text, routed=True) == (
        TO_CALM,
        verdict("calm", session_active(True)),
    )
    assert await chat.decide(text, routed=False) == (
        NON_STICKY,
        verdict("nlu_sticky", session_active(False)),
    )


# A gotcha: the router converts unlisted intents without the domain, so only
# mappings that need neither intents nor entities of the domain make a command of their own.
NOTE_FLOW = """\
  leave_note:
    description: Leave a note for the advisor.
    steps:
      - collect: note
{ask}      - action: utter_transferred
"""


@pytest.mark.parametrize(
    ("mapping", "ask_first", "route"),
    [
        ("{type: from_text}", False, "calm"),
        ("{type: from_intent, value: yes}", False, "calm"),
        ("{type: from_text}", True, "nlu_sticky"),  # ask_before_filling: not fillable now
        ("{type: from_text, conditions: [{active_flow: leave_note}]}", False, "nlu_sticky"),
        # These would fill the slot with the domain, which the router does not use.
        ("{type: from_intent, intent: unlisted, value: yes}", False, "nlu_sticky"),
        ("{type: from_entity, entity: size}", False, "nlu_sticky"),
    ],
)
async def test_a_flow_slot_filled_from_any_text_routes_every_unlisted_intent_to_calm(
    open_chat: OpenChat, mapping: str, ask_first: bool, route: str
) -> None:
    domain = DOMAIN.replace("intents:", "entities: [size]\nintents:").replace(
        "slots:\n", f"slots:\n  note:\n    type: text\n    mappings: [{mapping}]\n"
    )
    ask = "        ask_before_filling: true\n" if ask_first else ""
    flows = FLOWS.replace("flows:\n", "flows:\n" + NOTE_FLOW.format(ask=ask))
    commands, said = await open_chat(domain=domain, flows=flows).decide("something large")
    assert route_of(said) == route
    if route == "calm":
        assert commands == TO_CALM
        assert said["reason"] == "intent 'unlisted' is in no list but converts to: set slot"


async def test_a_router_needs_the_routing_slot_and_its_settings(open_chat: OpenChat) -> None:
    chat = open_chat()
    without_slot = Tracker("no slot")  # no slot definitions at all
    parse_data = await NLU(UserMessage("hi", "no slot"), without_slot)
    with pytest.raises(RouterConfigError, match=f"without the slot '{ROUTING}'"):
        await chat.router.process(
            parse_data, [], without_slot, chat.parser.flows, chat.processor.assistant.domain
        )

    with pytest.raises(RouterConfigError, match=r"`nlu_entry\.non_sticky`"):
        IntentBasedRouter({"nlu_entry": {"sticky": []}, "calm_entry": {"sticky": []}})
    with pytest.raises(RouterConfigError, match=r"`calm_entry\.sticky`"):
        LLMBasedRouter({"calm_entry": {"sticky": None}}, None)


# -- the IntentBasedRouter in the pipeline --------------------------------------------------------


async def test_sticky_nlu_sets_the_slot_and_keeps_calm_out(open_chat: OpenChat) -> None:
    """A sticky NLU intent sets the routing slot to false; CALM stays out of the turn."""
    turn = await open_chat().say("book a table")
    assert turn.commands == STICKY_NLU
    assert turn.llm_calls == 0  # the LLM command generator stepped aside
    assert turn.route_events == [False]
    assert turn.policies == {"RulePolicy"}  # FlowPolicy abstained
    assert turn.texts == ["For how many people?"]
    assert turn.routing == verdict("nlu_sticky", "intent 'book_table' is in nlu_entry.sticky")


async def test_non_sticky_nlu_leaves_the_slot_alone_and_the_router_runs_again(
    open_chat: OpenChat,
) -> None:
    """A non-sticky NLU intent leaves the slot unset, so the router decides again."""
    chat = open_chat()
    turn = await chat.say("hi")
    assert turn.commands == NON_STICKY
    assert (turn.llm_calls, turn.route_events, turn.texts) == (0, [], ["Hello!"])
    assert await chat.route() is None

    turn = await chat.say("send money", START_TRANSFER)
    assert turn.routing == verdict("calm", "intent 'transfer' is in calm_entry.sticky")


async def test_calm_is_made_sticky_by_the_command_generator(open_chat: OpenChat) -> None:
    """The router leaves no command; the LLM generator adds the routing one."""
    turn = await open_chat().say("send money", START_TRANSFER)
    assert turn.commands == [{"command": "start flow", "flow": "transfer_money"}, ROUTE_TO_CALM]
    assert turn.llm_calls == 1
    assert turn.route_events == [True]
    assert turn.flows_started == ["transfer_money", "pattern_collect_information"]
    assert turn.policies == {"FlowPolicy"}
    assert turn.texts == ["How much?"]


async def test_a_flow_trigger_goes_to_calm_without_asking_the_llm(open_chat: OpenChat) -> None:
    """NLUCommandAdapter starts the flow and sets the slot itself."""
    turn = await open_chat().say("my balance")
    assert turn.commands == [{"command": "start flow", "flow": "check_balance"}, ROUTE_TO_CALM]
    assert turn.llm_calls == 0
    assert turn.texts == ["You have 100.", "Anything else?"]


async def test_generators_are_skipped_for_an_nlu_session_whatever_the_intent(
    open_chat: OpenChat,
) -> None:
    """In the pipeline: with the slot false, not even a flow trigger reaches CALM."""
    chat = open_chat()
    await chat.say("book a table")
    for text in ("send money", "my balance"):
        turn = await chat.say(text)
        assert (turn.commands, turn.llm_calls, turn.flows_started) == (NON_STICKY, 0, [])
        assert "FlowPolicy" not in turn.policies
    assert await chat.route() is False


async def test_a_calm_session_ignores_the_intents_of_the_nlu_system(open_chat: OpenChat) -> None:
    chat = open_chat()
    await chat.say("send money", START_TRANSFER)
    turn = await chat.say("book a table", "set slot amount 50")
    assert turn.routing == verdict("calm", session_active(True))
    assert turn.commands == [
        {"command": "set slot", "name": "amount", "value": "50", "extractor": "LLM"},
        ROUTE_TO_CALM,
    ]
    assert turn.llm_calls == 1
    assert "RulePolicy" not in turn.policies
    assert turn.texts == ["Sent 50.0.", "Anything else?"]


# -- LLMBasedRouter -------------------------------------------------------------------------------

LLM_ROUTED = coexistence_config(LLM_ROUTER)


@pytest.mark.parametrize(
    ("answer", "route"),
    [
        ("A", "calm"),
        (" A\n", "calm"),
        ("B", "nlu_non_sticky"),
        ("C", "nlu_sticky"),
        ("a", "nlu_sticky"),
        ("A.", "nlu_sticky"),
        ("Assistant A", "nlu_sticky"),
        ("", "nlu_sticky"),
    ],
)
async def test_the_llm_router_takes_the_answer_only_when_it_is_exactly_a_b_or_c(
    open_chat: OpenChat, answer: str, route: str
) -> None:
    chat = open_chat(LLM_ROUTED)
    turn = await chat.say("send money", answer, START_TRANSFER)
    expected = {
        "calm": ([{"command": "start flow", "flow": "transfer_money"}, ROUTE_TO_CALM], 2, [True]),
        "nlu_non_sticky": (NON_STICKY, 1, []),  # the generator is not asked
        "nlu_sticky": (STICKY_NLU, 1, [False]),
    }[route]
    assert (turn.commands, turn.llm_calls, turn.route_events) == expected
    assert route_of(turn.routing) == route
    if answer.strip() not in ("A", "B", "C"):
        assert (
            turn.routing["reason"] == f"the LLM answered {answer.strip()!r}, which is not A, B or C"
        )


async def test_a_failing_llm_call_routes_to_the_nlu_system_for_good(open_chat: OpenChat) -> None:
    chat = open_chat(LLM_ROUTED)
    chat.llm.then(400, {"error": {"message": "model not found"}})
    turn = await chat.say("send money")
    assert (turn.commands, turn.llm_calls, turn.route_events) == (STICKY_NLU, 1, [False])
    assert route_of(turn.routing) == "nlu_sticky"
    assert turn.routing["reason"].startswith("the LLM call failed:")


async def test_a_router_llm_slower_than_its_timeout_routes_to_the_nlu_system(
    open_chat: OpenChat,
) -> None:
    chat = open_chat(LLM_ROUTED, timeout=0.2)
    chat.llm.then(body=chat_reply("A"), delay=1.0)
    turn = await chat.say("send money")
    assert (turn.commands, turn.route_events) == (STICKY_NLU, [False])
    assert "no answer within 0.2 seconds" in turn.routing["reason"]


async def test_the_llm_router_prompt_describes_the_assistants_and_quotes_only_this_message(
    open_chat: OpenChat,
) -> None:
    chat = open_chat(LLM_ROUTED)
    await chat.say("hi", "B")
    await chat.say("send money", "B")
    first, second = (seen.body["messages"][-1]["content"] for seen in chat.llm.requests)
    assert "A: sends money and tells the balance" in second
    assert "B: handles chitchat" in second
    assert "C: handles everything else" in second
    assert second.split('"""')[1::2] == ["send money"]  # no history
    assert first.split('"""')[1::2] == ["hi"]


async def test_the_llm_router_is_not_asked_during_a_routing_session(open_chat: OpenChat) -> None:
    """The LLM router: no call once the slot is set."""
    chat = open_chat(LLM_ROUTED)
    await chat.say("book a table", "C")
    turn = await chat.say("send money")
    assert (turn.commands, turn.llm_calls) == (NON_STICKY, 0)
    assert turn.routing == verdict("nlu_sticky", session_active(False), "LLMBasedRouter")

    chat = open_chat(LLM_ROUTED)
    await chat.say("send money", "A", START_TRANSFER)
    turn = await chat.say("fifty", "set slot amount 50")
    assert turn.llm_calls == 1  # the command generator only
    assert turn.texts == ["Sent 50.0.", "Anything else?"]
