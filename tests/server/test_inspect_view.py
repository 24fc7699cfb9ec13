"""The inspector's view of a conversation, its flow picture and its e2e export, on the
trained starter: a conversation through both systems, checked against the tracker."""

from __future__ import annotations

import asyncio
import shutil
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tandem import names
from tandem.cli.main import main
from tandem.conversation import events as ev
from tandem.model.loading import open_processor
from tandem.runtime.message import UserMessage
from tandem.runtime.processor import MessageProcessor
from tandem.server.inspect.export import e2e_test_case
from tandem.server.inspect.flow_view import flow_svg
from tandem.server.inspect.view import conversation_view

# Greeting and opening hours are NLU rules, the order is a CALM flow (README's transcript).
BOTH_SYSTEMS = [
    "hello",
    "I would like to order a pizza",
    "a large margherita",
    "yes",
    "when are you open?",
]
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
async def processor(starter_model: Path) -> AsyncIterator[MessageProcessor]:
    opened = await open_processor(starter_model)
    yield opened
    await opened.aclose()


async def chat(processor: MessageProcessor, sender: str, texts: list[str]) -> None:
    for text in texts:
        await processor.handle_message(UserMessage(text, sender))


def user_turns(view: dict[str, Any]) -> list[dict[str, Any]]:
    return [turn for turn in view["turns"] if turn["user"] is not None]


async def test_each_turn_shows_what_its_events_did(processor: MessageProcessor) -> None:
    await chat(processor, "both", BOTH_SYSTEMS)
    tracker = await processor.fetch_full_tracker("both")
    view = conversation_view(tracker)
    turns = user_turns(view)
    stored_users = [e for e in tracker.events if isinstance(e, ev.UserUttered)]
    assert [t["user"]["text"] for t in turns] == BOTH_SYSTEMS
    for turn, user in zip(turns, stored_users, strict=True):
        assert turn["user"]["intent"] == user.parse_data["intent"]
        assert turn["user"]["intent_ranking"][0]["name"] == user.intent_name
        assert turn["routing"]["verdict"] == user.metadata["routing"]
        assert turn["commands"] == user.parse_data.get("commands", [])
    # Every stored event is in exactly one turn, in order.
    assert [e for t in view["turns"] for e in t["events"]] == [e.as_dict() for e in tracker.events]

    hello, order, margherita, yes, hours = turns
    assert (hello["routing"]["system"], hello["routing"]["sticky"]) == ("nlu", False)
    assert [a["name"] for a in hello["actions"]][:1] == ["utter_greet"]
    assert hello["stack"] == []
    assert (order["routing"]["system"], order["routing"]["sticky"]) == ("calm", True)
    assert order["flows"] == ["order_pizza started"]
    assert order["stack"][0]["flow_id"] == "order_pizza"
    assert order["flow"]["flow_id"] == "order_pizza"
    assert order["flow"]["step_id"] == order["stack"][0]["step_id"]
    entities = {e["entity"]: e["value"] for e in margherita["user"]["entities"]}
    assert entities == {"pizza": "margherita", "size": "large"}
    changed = {c["name"]: c["value"] for c in margherita["slot_changes"]}
    assert changed["pizza_type"] == "margherita" and changed["pizza_size"] == "large"
    # "yes" completes the order: the flow resets its slots and the routing session ends,
    # which empties the stack; the view keeps the stack as it was before the reset.
    assert yes["routing"]["reset"] is True and yes["stack"] == []
    assert yes["stacks_before_reset"][0]["reset"] == "routing_session_ended"
    assert yes["flow"]["ended_by"] == "routing_session_ended"
    assert {"name": "pizza_type", "value": None, "cause": None} in yes["slot_changes"]
    assert (hours["routing"]["system"], hours["routing"]["sticky"]) == ("nlu", True)
    assert hours["routing"]["reset"] is True

    # The slots as the tracker has them now, each with the last turn that changed it.
    shown = {s["name"]: s for s in view["slots"]}
    assert {n: s["value"] for n, s in shown.items()} == {
        n: v for n, v in tracker.slots.items() if n != names.SLOT_FLOW_HASHES
    }
    assert shown["pizza_type"]["set_in_turn"] == yes["index"]
    assert shown[names.ROUTING_SLOT]["set_in_turn"] == hours["index"]
    assert view["stack"] == tracker.stack
    # Each turn has the slots as they were after it.
    after = {turn["index"]: {s["name"]: s for s in turn["slots"]} for turn in turns}
    assert after[margherita["index"]]["pizza_type"]["value"] == "margherita"
    assert after[margherita["index"]]["pizza_type"]["set_in_turn"] == margherita["index"]
    assert after[yes["index"]]["pizza_type"]["value"] is None
    assert after[hours["index"]] == shown


async def test_an_open_flow_is_the_flow_shown(processor: MessageProcessor) -> None:
    await chat(processor, "open", ["I would like to order a pizza", "help"])
    tracker = await processor.fetch_full_tracker("open")
    view = conversation_view(tracker)
    help_turn = user_turns(view)[-1]
    # help interrupts the order: both user flows are on the stack, help is on top of it.
    user_frames = [f for f in tracker.stack if f.get("type") == "flow"]
    assert [f["flow_id"] for f in user_frames] == [
        f["flow_id"] for f in help_turn["stack"] if f.get("type") == "flow"
    ]
    assert view["flow"] == {
        "flow_id": user_frames[-1]["flow_id"],
        "step_id": user_frames[-1]["step_id"],
        "ended_by": None,
    }
    assert view["stack"] == tracker.stack


def test_the_flow_picture_marks_the_current_step(processor: MessageProcessor) -> None:
    flows = processor.assistant.flows
    flow = flows.get("order_pizza")
    for step in flow.steps:
        picture = ET.fromstring(flow_svg(flows, "order_pizza", step.id))
        current = [g for g in picture.iter(f"{SVG}g") if g.get("class") == "current"]
        assert len(current) == 1
        assert current[0].find(f"{SVG}title").text.split("\n")[0] == step.id
    plain = ET.fromstring(flow_svg(flows, "order_pizza", "no_such_step"))
    assert not [g for g in plain.iter(f"{SVG}g") if g.get("class") == "current"]
    assert flow_svg(flows, "no_such_flow", None) is None


async def test_the_export_is_a_test_case_the_e2e_runner_passes(
    processor: MessageProcessor, starter_project: Path, tmp_path: Path
) -> None:
    await chat(processor, "exported", [*BOTH_SYSTEMS, "where is my order 4711?"])
    exported = e2e_test_case(await processor.fetch_full_tracker("exported"), name="exported")
    case = yaml.safe_load(exported)["test_cases"][0]
    assert [step["user"] for step in case["steps"]] == [*BOTH_SYSTEMS, "where is my order 4711?"]
    kinds = {next(iter(a)) for step in case["steps"] for a in step["assertions"]}
    assert {"routed_to", "flow_started", "slot_was_set", "bot_uttered"} <= kinds

    project = Path(shutil.copytree(starter_project, tmp_path / "bot"))
    (project / "e2e_tests" / "exported.yml").write_text(exported)
    assert await asyncio.to_thread(run_e2e, project, "e2e_tests/exported.yml") == 0
    # The runner checks what the export asserts: a changed expectation fails.
    broken = exported.replace("utter_name: utter_order_placed", "utter_name: utter_greet", 1)
    assert broken != exported
    (project / "e2e_tests" / "broken.yml").write_text(broken)
    assert await asyncio.to_thread(run_e2e, project, "e2e_tests/broken.yml") == 1


def run_e2e(project: Path, path: str) -> int:
    """``tandem test e2e`` as a user runs it (in a thread: it runs its own event loop)."""
    return main(["test", "e2e", str(project / path), "-m", str(project / "models" / "m.tar.gz")])
