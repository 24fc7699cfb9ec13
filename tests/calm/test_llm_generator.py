"""LLM command generators against a scripted OpenAI-compatible server: failures,
``minimize_num_calls``, merging with earlier commands, the slot-mapping filter, the prompt
and the input checks."""

from __future__ import annotations

import pytest

from tandem.conversation import commands as cmd
from tandem.conversation import events as ev
from tandem.names import ROUTING_SLOT
from tandem.runtime.message import UserMessage

from .calm_testkit import (
    COMPACT,
    INPUTS_TEMPLATE,
    PROMPT_VARIABLES,
    LLMProcessors,
    inputs_sent,
    nlu_of,
    offered_flows,
    parse,
    prompts_sent,
    say,
    send,
    texts,
)

DOMAIN = """\
version: "3.1"
intents: [transfer, inform]
entities: [recipient, amount]
slots:
  recipient:
    type: text
    mappings:
      - {type: from_entity, entity: recipient}
      - {type: from_llm}
  amount:
    type: float
    mappings:
      - {type: from_entity, entity: amount}
      - {type: from_llm}
  account_type:
    type: categorical
    values: [checking, savings]
  confirmed:
    type: bool
  is_vip:
    type: bool
    initial_value: false
  pin:
    type: text
    mappings:
      - type: from_llm
        conditions:
          - active_flow: transfer_money
  internal_note:
    type: text
    mappings: []
responses:
  utter_ask_recipient:
    - text: "Who should get the money?"
  utter_ask_amount:
    - text: "How much?"
  utter_ask_confirmed:
    - text: "Shall I send it?"
  utter_ask_account_type:
    - text: "Which account?"
  utter_done:
    - text: "Sent {amount} to {recipient}."
  utter_balance:
    - text: "Your balance is fine."
  utter_paid:
    - text: "Paid."
  utter_welcome:
    - text: "Welcome to the lounge."
"""

FLOWS = """\
flows:
  transfer_money:
    description: Send money to a friend or family member.
    nlu_trigger:
      - intent: transfer
    steps:
      - collect: recipient
        description: the name of the person who gets the money
      - collect: amount
      - collect: confirmed
        ask_before_filling: true
      - action: utter_done
  check_balance:
    description: Check the balance of a bank account.
    steps:
      - collect: account_type
      - action: utter_balance
  pay_bill:
    description: Pay an open bill.
    steps:
      - call: choose_account
      - action: utter_paid
  choose_account:
    if: False
    description: Choose the account to pay from.
    steps:
      - collect: account_type
        description: the account to use
  vip_lounge:
    if: slots.is_vip
    description: Book the VIP lounge.
    steps:
      - action: utter_welcome
"""

ROUTING_DOMAIN = DOMAIN.replace(
    "slots:\n", f"slots:\n  {ROUTING_SLOT}:\n    type: bool\n    mappings: [{{type: from_llm}}]\n"
)
# The date the prompt shows when the ``mocked_datetime`` slot holds it.
MOCKED_NOW_DOMAIN = DOMAIN.replace(
    "slots:\n", "slots:\n  mocked_datetime:\n    type: text\n    initial_value: 1 May 2030\n"
)

GUARDED = "the flow's guard does not let it start now"
INTERNAL_ERROR = "Sorry, I am having trouble with that. Please try again in a few minutes."
ROUTE_TO_CALM = cmd.SetSlot(ROUTING_SLOT, True)
START_TRANSFER = cmd.StartFlow("transfer_money")

# What the NLU of these tests understands (the NLUCommandAdapter turns it into commands).
NLU = nlu_of(
    {
        "I want to transfer money": ("transfer", []),
        "to John": ("inform", [{"entity": "recipient", "value": "John"}]),
        "50 to John": (
            "inform",
            [{"entity": "recipient", "value": "John"}, {"entity": "amount", "value": 50}],
        ),
        "send John 50": ("transfer", [{"entity": "recipient", "value": "John"}]),
        "about 50": ("inform", [{"entity": "amount", "value": 50}]),
    }
)


@pytest.fixture
async def make_processor(tmp_path, llm_server):
    processors = LLMProcessors(tmp_path, llm_server.api_base)
    yield processors
    await processors.aclose()


# -- failures -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "expected"),
    [(ROUTING_DOMAIN, [cmd.Error(), ROUTE_TO_CALM]), (DOMAIN, [cmd.Error()])],
    ids=["with-routing-slot", "without-routing-slot"],
)
async def test_a_timeout_is_an_internal_error(make_processor, llm_server, domain, expected):
    processor = make_processor(domain, FLOWS, model={"timeout": 0.3})
    llm_server.then(delay=1.0)  # the client gives up first

    commands = await parse(processor, "I want to send money")

    assert commands == expected
    assert commands[0].error_type == cmd.INTERNAL_ERROR_DEFAULT
    assert len(llm_server.requests) == 1


async def test_server_errors_are_retried_then_become_an_internal_error(make_processor, llm_server):
    processor = make_processor(DOMAIN, FLOWS, model={"max_retries": 1})
    llm_server.then(500, {"error": {"message": "overloaded"}})
    llm_server.then(503, {"error": {"message": "still overloaded"}})

    assert await parse(processor, "I want to send money") == [cmd.Error()]
    assert len(llm_server.requests) == 2


async def test_an_answer_without_choices_is_an_internal_error(make_processor, llm_server):
    processor = make_processor(ROUTING_DOMAIN, FLOWS)
    llm_server.then_answer(None)

    assert await parse(processor, "I want to send money") == [cmd.Error(), ROUTE_TO_CALM]


@pytest.mark.parametrize(
    ("domain", "expected"),
    [(ROUTING_DOMAIN, [cmd.CannotHandle(), ROUTE_TO_CALM]), (DOMAIN, [cmd.CannotHandle()])],
    ids=["with-routing-slot", "without-routing-slot"],
)
async def test_an_unparseable_answer_cannot_be_handled(
    make_processor, llm_server, domain, expected
):
    processor = make_processor(domain, FLOWS)
    llm_server.then_answer("The user would like to move some money, I think.")

    commands = await parse(processor, "I want to send money")

    assert commands == expected
    assert commands[0].reason == cmd.CANNOT_HANDLE_DEFAULT


async def test_an_unparseable_answer_leaves_the_earlier_commands_alone(make_processor, llm_server):
    processor = make_processor(DOMAIN, FLOWS, nlu_adapter=True, nlu=NLU, minimize_num_calls=False)
    llm_server.then_answer("Sure, here you go!")

    assert await parse(processor, "I want to transfer money") == [START_TRANSFER]
    assert len(llm_server.requests) == 1


async def test_after_a_timeout_the_user_hears_the_internal_error_and_can_go_on(
    make_processor, llm_server
):
    processor = make_processor(DOMAIN, FLOWS, model={"timeout": 0.3})
    llm_server.then(delay=1.0)  # the client gives up first
    llm_server.then_answer("start flow transfer_money")

    assert texts(await say(processor, "I want to send money")) == [INTERNAL_ERROR]
    assert texts(await say(processor, "I want to send money")) == ["Who should get the money?"]


# -- minimize_num_calls ---------------------------------------------------------------------------


async def test_a_flow_started_by_the_nlu_adapter_needs_no_llm_call(make_processor, llm_server):
    processor = make_processor(DOMAIN, FLOWS, nlu_adapter=True, nlu=NLU)

    assert await parse(processor, "I want to transfer money") == [START_TRANSFER]
    assert llm_server.requests == []


async def test_the_asked_slot_filled_by_the_nlu_adapter_needs_no_llm_call(
    make_processor, llm_server
):
    processor = make_processor(DOMAIN, FLOWS, nlu_adapter=True, nlu=NLU)
    await send(processor, START_TRANSFER)  # now asking for the recipient

    assert await parse(processor, "to John") == [cmd.SetSlot("recipient", "John")]
    assert llm_server.requests == []


async def test_another_slot_filled_by_the_nlu_adapter_still_asks_the_llm(
    make_processor, llm_server
):
    processor = make_processor(DOMAIN, FLOWS, nlu_adapter=True, nlu=NLU)
    await send(processor, START_TRANSFER)  # asking for the recipient, the NLU finds an amount
    llm_server.then_answer("set slot recipient Kim\nset slot amount 70")

    commands = await parse(processor, "about 50")

    assert commands == [cmd.SetSlot("amount", 50), cmd.SetSlot("recipient", "Kim")]
    assert [c.extractor for c in commands] == [cmd.NLU, cmd.LLM]
    assert len(llm_server.requests) == 1


async def test_without_minimize_num_calls_the_llm_is_asked_and_earlier_commands_win(
    make_processor, llm_server
):
    processor = make_processor(DOMAIN, FLOWS, nlu_adapter=True, nlu=NLU, minimize_num_calls=False)
    llm_server.then_answer(
        "start flow check_balance\nset slot recipient Jon\nset slot amount 50\ncancel flow"
    )

    commands = await parse(processor, "send John 50")

    # The LLM's flow start goes (the NLU started one) and so does its recipient (the NLU set it).
    assert commands == [
        START_TRANSFER,
        cmd.SetSlot("recipient", "John"),
        cmd.SetSlot("amount", "50"),
        cmd.CancelFlow(),
    ]
    assert len(llm_server.requests) == 1


# -- the slot-mapping filter and the routing slot -------------------------------------------------


async def test_slots_with_an_empty_mapping_list_cannot_be_set_by_the_llm(
    make_processor, llm_server
):
    processor = make_processor(DOMAIN, FLOWS)
    llm_server.then_answer(
        "start flow transfer_money\nset slot internal_note vip\nset slot recipient John"
    )

    assert await parse(processor, "send money to John") == [
        START_TRANSFER,
        cmd.SetSlot("recipient", "John"),  # no `mappings` key: a from_llm mapping by default
    ]


async def test_a_conditional_llm_mapping_fills_only_while_its_flow_is_on_top(
    make_processor, llm_server
):
    processor = make_processor(DOMAIN, FLOWS)
    pin = cmd.SetSlot("pin", "1234")
    for _ in range(3):
        llm_server.then_answer("set slot pin 1234")

    # No flow yet: nothing is left, not even a CannotHandle (that step comes before the filter).
    assert await parse(processor, "my pin is 1234") == []
    await send(processor, START_TRANSFER)
    assert await parse(processor, "my pin is 1234") == [pin]
    await send(processor, cmd.StartFlow("check_balance"))  # interrupts transfer_money
    assert await parse(processor, "my pin is 1234") == []


async def test_the_routing_slot_is_set_after_the_llm_commands(make_processor, llm_server):
    processor = make_processor(ROUTING_DOMAIN, FLOWS)
    llm_server.then_answer("start flow transfer_money\nset slot recipient John")

    commands = await parse(processor, "send money to John")

    assert commands == [START_TRANSFER, cmd.SetSlot("recipient", "John"), ROUTE_TO_CALM]
    assert commands[-1].extractor == cmd.LLM


# -- prompt inputs --------------------------------------------------------------------------------


async def inputs_of_turn(processor, llm_server, text: str, answer: str) -> dict:
    """Runs a turn whose LLM answer is ``answer``; the variables its prompt got."""
    llm_server.then_answer(answer)
    await say(processor, text)
    return inputs_sent(llm_server)[-1]


async def test_a_user_template_from_the_project_gets_the_documented_variables(
    make_processor, llm_server
):
    processor = make_processor(MOCKED_NOW_DOMAIN, FLOWS, template=INPUTS_TEMPLATE)

    inputs = await inputs_of_turn(processor, llm_server, "I want\nto send money", "cancel flow")

    assert set(inputs) == set(PROMPT_VARIABLES)
    assert inputs["user_message"] == "I want to send money"
    assert inputs["current_conversation"] == "USER: I want to send money"
    assert inputs["current_datetime"] == "1 May 2030"  # from the mocked_datetime slot
    assert (inputs["current_flow"], inputs["current_slot"], inputs["flow_slots"]) == (
        None,
        None,
        [],
    )


async def test_without_date_and_time_the_prompt_gets_none(make_processor, llm_server):
    processor = make_processor(
        MOCKED_NOW_DOMAIN, FLOWS, template=INPUTS_TEMPLATE, include_date_time=False
    )

    inputs = await inputs_of_turn(processor, llm_server, "hello", "cancel flow")

    assert inputs["current_datetime"] is None


async def test_the_prompt_offers_the_startable_user_flows_and_their_extractable_slots(
    make_processor, llm_server
):
    processor = make_processor(DOMAIN, FLOWS, template=INPUTS_TEMPLATE)

    inputs = await inputs_of_turn(processor, llm_server, "hello", "cancel flow")

    # Not offered: patterns, the link-only choose_account, vip_lounge (its guard is false).
    assert inputs["available_flows"] == [
        {
            "name": "transfer_money",
            "description": "Send money to a friend or family member.",
            "slots": [  # `confirmed` is asked before filling, and neither set nor asked yet
                {
                    "name": "recipient",
                    "description": "the name of the person who gets the money",
                    "allowed_values": None,
                },
                {"name": "amount", "description": None, "allowed_values": None},
            ],
        },
        {
            "name": "check_balance",
            "description": "Check the balance of a bank account.",
            "slots": [
                {
                    "name": "account_type",
                    "description": None,
                    "allowed_values": "['checking', 'savings']",
                }
            ],
        },
        {"name": "pay_bill", "description": "Pay an open bill.", "slots": []},
    ]


async def test_while_collecting_the_prompt_shows_the_flow_the_slot_and_the_transcript(
    make_processor, llm_server
):
    processor = make_processor(DOMAIN, FLOWS, template=INPUTS_TEMPLATE)
    await inputs_of_turn(processor, llm_server, "I want to send money", "start flow transfer_money")

    inputs = await inputs_of_turn(processor, llm_server, "to John", "set slot recipient John")

    assert inputs["current_conversation"] == (
        "USER: I want to send money\nAI: Who should get the money?\nUSER: to John"
    )
    assert inputs["current_flow"] == "transfer_money"
    assert inputs["current_slot"] == "recipient"
    assert inputs["current_slot_description"] == "the name of the person who gets the money"
    assert inputs["current_slot_type"] == "text"
    assert inputs["current_slot_allowed_values"] is None
    assert inputs["flow_slots"] == [
        {
            "name": "recipient",
            "value": "undefined",
            "type": "text",
            "allowed_values": None,
            "description": "the name of the person who gets the money",
        },
        {
            "name": "amount",
            "value": "undefined",
            "type": "float",
            "allowed_values": None,
            "description": None,
        },
    ]


async def test_a_slot_asked_before_filling_is_offered_once_it_is_asked(make_processor, llm_server):
    processor = make_processor(DOMAIN, FLOWS, template=INPUTS_TEMPLATE)
    await send(
        processor, START_TRANSFER, cmd.SetSlot("recipient", "John"), cmd.SetSlot("amount", 5)
    )

    inputs = await inputs_of_turn(processor, llm_server, "yes", "set slot confirmed True")

    assert inputs["current_slot"] == "confirmed"
    assert inputs["current_slot_type"] == "bool"
    assert inputs["current_slot_allowed_values"] == "[True, False]"
    assert [(s["name"], s["value"]) for s in inputs["flow_slots"]] == [
        ("recipient", "John"),
        ("amount", "5.0"),
        ("confirmed", "undefined"),
    ]
    [transfer] = [f for f in inputs["available_flows"] if f["name"] == "transfer_money"]
    assert [s["name"] for s in transfer["slots"]] == ["recipient", "amount", "confirmed"]
    assert transfer["slots"][2]["allowed_values"] == "[True, False]"


async def test_in_a_called_flow_the_prompt_asks_for_its_slot(make_processor, llm_server):
    processor = make_processor(DOMAIN, FLOWS, template=INPUTS_TEMPLATE)
    await send(processor, cmd.StartFlow("pay_bill"))  # calls choose_account

    inputs = await inputs_of_turn(processor, llm_server, "savings", "set slot account_type savings")

    assert inputs["current_flow"] == "pay_bill"  # called flows do not count as current
    assert inputs["current_slot"] == "account_type"
    assert inputs["current_slot_description"] == "the account to use"
    assert inputs["current_slot_allowed_values"] == "['checking', 'savings']"
    # The called flow is active, so it is offered although it cannot be started.
    assert offered_flows(inputs) == [
        "transfer_money",
        "check_balance",
        "pay_bill",
        "choose_account",
    ]


async def test_messages_that_failed_the_input_checks_are_hidden_in_the_transcript(
    make_processor, llm_server
):
    processor = make_processor(DOMAIN, FLOWS, template=INPUTS_TEMPLATE)
    too_long = "x" * 421
    await say(processor, too_long)

    inputs = await inputs_of_turn(processor, llm_server, "hello", "cancel flow")

    # The refused message stays a USER line, but a placeholder stands in for its text.
    lines = inputs["current_conversation"].splitlines()
    assert lines[0].startswith("USER: ")
    assert lines[-1] == "USER: hello"
    assert "xxx" not in inputs["current_conversation"]


@pytest.mark.parametrize(
    ("generator", "answer", "own_action", "foreign_action"),
    [
        ("SingleStepLLMCommandGenerator", "StartFlow(transfer_money)", "StartFlow(", "start flow"),
        (COMPACT, "start flow transfer_money", "offtopic reply", "StartFlow("),
        (
            "SearchReadyLLMCommandGenerator",
            "start flow transfer_money",
            "search and reply",
            "offtopic reply",
        ),
    ],
)
async def test_the_default_prompts_show_the_message_and_flows_and_their_own_language(
    make_processor, llm_server, generator, answer, own_action, foreign_action
):
    processor = make_processor(DOMAIN, FLOWS, generator=generator)
    llm_server.then_answer(answer)

    assert await parse(processor, "I'd like to wire cash to mum") == [START_TRANSFER]

    [prompt] = prompts_sent(llm_server)
    assert "I'd like to wire cash to mum" in prompt
    for flow_id in ("transfer_money", "check_balance", "pay_bill"):
        assert flow_id in prompt
    assert "vip_lounge" not in prompt
    assert own_action in prompt
    assert foreign_action not in prompt


# -- input checks of every generator --------------------------------------------------------------


async def test_empty_input_is_an_error_without_asking_the_llm(make_processor, llm_server):
    processor = make_processor(DOMAIN, FLOWS)

    assert await parse(processor, " \n ") == [cmd.Error(cmd.INTERNAL_ERROR_INPUT_EMPTY)]
    assert llm_server.requests == []


async def test_too_long_input_is_an_error_naming_the_limit(make_processor, llm_server):
    processor = make_processor(DOMAIN, FLOWS)

    [error] = await parse(processor, "a" * 421)

    assert error == cmd.Error(cmd.INTERNAL_ERROR_INPUT_TOO_LONG, {"max_characters": 420})
    assert llm_server.requests == []
    llm_server.then_answer("start flow transfer_money")
    assert await parse(processor, "a" * 420) == [START_TRANSFER]


async def test_a_negative_max_characters_lets_any_length_through(make_processor, llm_server):
    processor = make_processor(DOMAIN, FLOWS, user_input={"max_characters": -1})
    llm_server.then_answer("start flow transfer_money")

    assert await parse(processor, "send money " * 200) == [START_TRANSFER]
    assert len(llm_server.requests) == 1


async def test_the_turn_notes_name_what_the_guards_and_the_mapping_filter_dropped(
    make_processor, llm_server
):
    processor = make_processor(DOMAIN, FLOWS)
    llm_server.then_answer(
        "start flow vip_lounge\nstart flow transfer_money\nset slot internal_note vip\n"
        "set slot recipient John"
    )

    result = await processor.handle_message(UserMessage("lounge, and send money to John"))

    assert [(r["command"], r["reason"]) for r in result.notes.rejected_commands] == [
        (
            {"command": "set slot", "name": "internal_note", "value": "vip", "extractor": "LLM"},
            "no mapping of the slot lets the LLM fill it now",
        ),
        ({"command": "start flow", "flow": "vip_lounge"}, GUARDED),
    ]
    user = next(e for e in result.tracker.events if isinstance(e, ev.UserUttered))
    assert "rejected_commands" not in user.parse_data  # notes are not stored
    assert [c["command"] for c in user.parse_data["commands"]] == ["start flow", "set slot"]
