"""Record a conversation's LLM exchanges to a cassette, then replay it without any LLM server
(``TANDEM_LLM_CASSETTE`` / ``TANDEM_LLM_MODE``)."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest

from tandem.conversation import events as ev
from tandem.llm.cassette import CASSETTE_ENV, MODE_ENV

from .calm_testkit import LLMProcessors, say, texts

DOMAIN = """\
version: "3.1"
slots:
  mocked_datetime:  # the prompt shows the date: a fixed one keeps the prompts replayable
    type: text
    initial_value: 1 May 2030, 10:00 UTC
  recipient:
    type: text
  amount:
    type: float
responses:
  utter_ask_recipient:
    - text: "Who should get the money?"
  utter_ask_amount:
    - text: "How much?"
  utter_done:
    - text: "Sent {amount} to {recipient}."
"""

FLOWS = """\
flows:
  transfer_money:
    description: Send money to a friend or family member.
    steps:
      - collect: recipient
      - collect: amount
      - action: utter_done
  check_balance:
    description: Check the balance of a bank account.
    steps:
      - action: utter_done
"""

CONVERSATION = {  # message -> the LLM's answer while recording
    "I want to send money": "start flow transfer_money",
    "to John": "set slot recipient John",
    "50 dollars": "set slot amount 50",
}
INTERNAL_ERROR = "Sorry, I am having trouble with that. Please try again in a few minutes."


async def converse(processor, messages) -> list[ev.Event]:
    events: list[ev.Event] = []
    for message in messages:
        events += await say(processor, message)
    return events


def comparable(events: list[ev.Event]) -> list[dict[str, Any]]:
    """The events without what differs between two runs: timestamps, message ids and frame ids
    (numbered in order of appearance instead)."""
    wire = json.dumps([e.as_dict() for e in events])
    wire = re.sub(r'"timestamp": [0-9.]+', '"timestamp": 0', wire)
    wire = re.sub(r'"message_id": "\w+"', '"message_id": ""', wire)
    frame_ids: dict[str, str] = {}
    for frame_id in re.findall(r'"([A-Z0-9]{8})\\?"', wire):  # also inside the stack patches
        frame_ids.setdefault(frame_id, f"frame-{len(frame_ids)}")
    for frame_id, number in frame_ids.items():
        wire = wire.replace(frame_id, number)
    return json.loads(wire)


@pytest.fixture
async def make_processor(tmp_path, llm_server):
    processors = LLMProcessors(tmp_path, llm_server.api_base)
    yield processors
    await processors.aclose()


async def test_a_recorded_conversation_replays_without_the_llm(
    make_processor, llm_server, unused_port, tmp_path, monkeypatch, caplog
):
    cassette = tmp_path / "llm.jsonl"
    monkeypatch.setenv(CASSETTE_ENV, str(cassette))

    # Record against the scripted server.
    monkeypatch.setenv(MODE_ENV, "record")
    for answer in CONVERSATION.values():
        llm_server.then_answer(answer)
    recorded = await converse(make_processor(DOMAIN, FLOWS), CONVERSATION)
    assert texts(recorded) == [
        "Who should get the money?",
        "How much?",
        "Sent 50.0 to John.",
        "Is there anything else I can help you with?",
    ]
    assert len(llm_server.requests) == 3
    assert len(cassette.read_text().splitlines()) == 3

    # Replay with the server gone and the endpoints pointing at a closed port.
    await llm_server.stop()
    monkeypatch.setenv(MODE_ENV, "replay")
    closed = {"api_base": f"http://127.0.0.1:{unused_port}/v1"}
    replayed = await converse(make_processor(DOMAIN, FLOWS, model=closed), CONVERSATION)
    assert comparable(replayed) == comparable(recorded)
    assert len(llm_server.requests) == 3

    # A message the recording never saw: the LLM failure behaviour, and the log names it.
    processor = make_processor(DOMAIN, FLOWS, model=closed)
    with caplog.at_level(logging.ERROR):
        events = await converse(processor, ["I want to send money", "to Johnny"])
    # The first message was recorded; the second was not: an internal error, then the
    # question again.
    question = "Who should get the money?"
    assert texts(events) == [question, INTERNAL_ERROR, question]
    [failure] = [r.getMessage() for r in caplog.records if "no recording" in r.getMessage()]
    assert "to Johnny" in failure
    assert "scripted-model" in failure
