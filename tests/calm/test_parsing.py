"""How a CALM assistant reads messages."""

from __future__ import annotations

import pytest

from tandem.conversation import commands as cmd
from tandem.runtime.message import UserMessage

from .calm_testkit import calm_processor, send, texts

DOMAIN = """\
version: "3.1"
intents:
  - order
  - greet
entities:
  - size
slots:
  size:
    type: text
    mappings:
      - type: from_entity
        entity: size
      - type: from_llm
  note:
    type: text
    mappings:
      - type: from_text
        conditions:
          - active_flow: order_pizza
responses:
  utter_ask_size:
    - text: "Which size?"
  utter_ask_note:
    - text: "Any note?"
  utter_ordered:
    - text: "Ordered {size} with {note}."
"""

FLOWS = """\
flows:
  order_pizza:
    description: Order a pizza.
    nlu_trigger:
      - intent: order
    steps:
      - collect: size
      - collect: note
        force_slot_filling: true
      - action: utter_ordered
"""


@pytest.fixture
def processor(tmp_path):
    return calm_processor(tmp_path, DOMAIN, FLOWS)


async def parse(processor, text: str, sender: str = "user") -> list[cmd.Command]:
    tracker = await processor.fetch_tracker(sender)
    data = await processor.assistant.parse(UserMessage(text, sender), tracker)
    return cmd.commands_from_dicts(data["commands"])


async def test_empty_and_too_long_messages_become_internal_errors(processor) -> None:
    assert await parse(processor, "   ") == [cmd.Error(error_type=cmd.INTERNAL_ERROR_INPUT_EMPTY)]
    assert await parse(processor, "x" * 421) == [
        cmd.Error(error_type=cmd.INTERNAL_ERROR_INPUT_TOO_LONG, info={"max_characters": 420})
    ]
    assert await parse(processor, "x" * 420) == []


async def test_too_long_message_is_answered_with_the_limit(processor) -> None:
    result = await processor.handle_message(UserMessage("x" * 500, "long"))
    assert texts(result.new_events) == [
        "I'm sorry, but your message is too long for me to process. "
        "Please keep your message concise and within 420 characters."
    ]


async def test_intent_message_starts_the_triggered_flow_with_its_entities(processor) -> None:
    commands = await parse(processor, '/order{"size": "large"}')
    assert commands == [cmd.StartFlow("order_pizza"), cmd.SetSlot("size", "large")]
    assert commands[1].extractor == cmd.NLU


async def test_set_slots_message_sets_slots_directly(processor) -> None:
    commands = await parse(processor, "/SetSlots(size=small, note=none)")
    assert commands == [cmd.SetSlot("size", "small"), cmd.SetSlot("note", None)]
    assert {c.extractor for c in commands} == {cmd.COMMAND_PAYLOAD_READER}
    assert await parse(processor, "/SetSlots(colour=red)") == []


async def test_forced_slot_filling_takes_the_whole_text(processor) -> None:
    await processor.handle_message(UserMessage('/order{"size": "large"}', "f"))
    commands = await parse(processor, "/SetSlots(size=small) but no onions", "f")
    assert commands == [cmd.SetSlot("note", "/SetSlots(size=small) but no onions")]
    result = await processor.handle_message(UserMessage("extra cheese please", "f"))
    assert texts(result.new_events) == [
        "Ordered large with extra cheese please.",
        "Is there anything else I can help you with?",  # the default pattern_completed
    ]


async def test_scripted_commands_still_run_through_the_processor(processor) -> None:
    events = await send(processor, cmd.StartFlow("order_pizza"), cmd.SetSlot("size", "m"))
    assert texts(events) == ["Any note?"]
