"""Which system's slot mappings fill which slots (CALM spec 2.9), through the real assembly:
``tandem init``, slots of both systems added, ``tandem train``, the archive loaded, turns run,
custom actions on a real rasa-sdk action server.

In a coexistence assistant CALM's slots are the ones some flow collects: NLU turns leave them
alone (the NLUCommandAdapter fills them in CALM's turns), and a ``controlled`` mapping runs
its action in the turns of the system it names."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tandem.cli.main import main
from tandem.conversation import events as ev
from tandem.model.loading import open_processor
from tandem.runtime.message import UserMessage
from tandem.runtime.processor import MessageProcessor

HERE = Path(__file__).parent
COUNTERS = """version: "3.1"
slots:
  calm_turns:
    type: float
    mappings:
      - type: controlled
        run_action_every_turn: action_count_calm_turns
        coexistence_system: CALM
  nlu_turns:
    type: float
    mappings:
      - type: controlled
        run_action_every_turn: action_count_nlu_turns
        coexistence_system: NLU
actions:
  - action_count_calm_turns
  - action_count_nlu_turns
responses:
  utter_ask_calm_turns:
    - text: "How many turns?"
"""
# A flow that collects the CALM counter makes it one of CALM's slots.
COUNTING_FLOW = """version: "3.1"
flows:
  count_turns:
    description: Tell how many turns CALM has answered.
    steps:
      - collect: calm_turns
"""


@pytest.fixture
async def processor(
    tmp_path: Path, sdk_server: Callable[[Path, str], str]
) -> AsyncIterator[MessageProcessor]:
    project = tmp_path / "bot"
    assert main(["init", str(project)]) == 0
    (project / "domain" / "counters.yml").write_text(COUNTERS)
    (project / "data" / "counting.yml").write_text(COUNTING_FLOW)
    url = sdk_server(HERE, "turn_counting_actions")
    endpoints = project / "endpoints.yml"
    endpoints.write_text(f"action_endpoint:\n  url: {url}\n")
    with contextlib.chdir(project):
        assert main(["train", "--fixed-model-name", "m"]) == 0
    opened = await open_processor(project / "models" / "m.tar.gz", endpoints)
    yield opened
    await opened.aclose()


def slots_set(events: list[ev.Event]) -> dict[str, object]:
    ignored = {"flow_hashes", "route_session_to_calm", "requested_slot"}
    return {e.name: e.value for e in events if isinstance(e, ev.SlotSet) and e.name not in ignored}


async def test_each_system_fills_its_own_slots(processor: MessageProcessor) -> None:
    # An NLU turn (nlu_fallback is non-sticky NLU) with a pizza in it: the slot belongs to a
    # flow, so only the NLU counter changes.
    nlu_turn = await processor.handle_message(UserMessage("hello, I'd like a pepperoni", "u"))
    message = nlu_turn.tracker.latest_message
    assert message is not None and message.entities[0]["value"] == "pepperoni"
    assert slots_set(nlu_turn.new_events) == {"nlu_turns": 1.0}
    # A CALM turn: the flow starts, the NLUCommandAdapter fills its slot from the entity, and
    # the CALM counter's action runs; the NLU counter stays.
    calm_turn = await processor.handle_message(UserMessage("I want a pepperoni pizza", "u"))
    assert slots_set(calm_turn.new_events) == {"calm_turns": 1.0, "pizza_type": "pepperoni"}
    assert calm_turn.tracker.get_slot("nlu_turns") == 1.0
