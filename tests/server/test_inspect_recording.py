"""What the inspector records with a turn's events: the commands the turn dropped (and why)
and its LLM calls, stored in the user event so any worker's page shows them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient
from server_testkit import start_client

from fake_llm_server import FakeLLMServer
from tandem.cli.main import main
from tandem.conversation import events as ev
from tandem.model.loading import open_processor
from tandem.runtime.message import UserMessage
from tandem.runtime.processor import MessageProcessor
from tandem.server.inspect.recording import INSPECT_KEY, record_turn
from tandem.server.inspect.view import conversation_view

ORDER = "I would like to order a pizza"


@pytest.fixture
async def processor(starter_model: Path) -> AsyncIterator[MessageProcessor]:
    opened = await open_processor(starter_model)
    yield opened
    await opened.aclose()


def last_turn(view: dict[str, Any]) -> dict[str, Any]:
    return view["turns"][-1]


def plain(data: Any) -> Any:
    return json.loads(json.dumps(data, default=str))


async def test_the_commands_a_turn_dropped_are_stored_with_it(processor: MessageProcessor) -> None:
    processor.turn_recorder = record_turn
    await processor.handle_message(UserMessage(ORDER, "dropped"))
    # Starting the flow that runs already is dropped by command cleaning.
    result = await processor.handle_message(UserMessage(ORDER, "dropped"))
    assert result.notes.rejected_commands, "the second start of the order should be dropped"
    stored = await processor.tracker_store.retrieve_full("dropped")
    assert stored is not None
    shown = last_turn(conversation_view(stored))["rejected_commands"]
    assert shown == plain(result.notes.rejected_commands)
    assert shown[0]["command"] == {"command": "start flow", "flow": "order_pizza"}
    assert shown[0]["reason"] == "the flow is running already"
    assert last_turn(conversation_view(stored))["llm_calls"] == []  # the starter has no LLM
    # Which component gave the commands: the NLU adapter started the flow in the first turn
    # (the router sent the message to CALM without a command of its own); in the second its
    # start was dropped, so it gave the routing command only.
    first, second = [turn["command_sources"] for turn in conversation_view(stored)["turns"][-2:]]
    assert [source["component"] for source in first] == ["NLUCommandAdapter"]
    assert {"command": "start flow", "flow": "order_pizza"} in first[0]["commands"]
    assert [c["command"] for c in second[0]["commands"]] == ["set slot"]


async def test_without_the_inspector_nothing_is_added_to_the_events(
    processor: MessageProcessor,
) -> None:
    await processor.handle_message(UserMessage(ORDER, "plain"))
    result = await processor.handle_message(UserMessage(ORDER, "plain"))
    assert result.notes.rejected_commands
    stored = await processor.tracker_store.retrieve_full("plain")
    assert stored is not None
    users = [e for e in stored.events if isinstance(e, ev.UserUttered)]
    assert all(INSPECT_KEY not in user.parse_data for user in users)
    assert last_turn(conversation_view(stored))["rejected_commands"] == []


# -- LLM calls ------------------------------------------------------------------------------

LLM_GROUP = "scripted_llm"


@pytest.fixture
async def llm_project(starter_project: Path, tmp_path: Path, llm_server: FakeLLMServer) -> Path:
    """The starter with a CompactLLMCommandGenerator after its NLUCommandAdapter, its LLM
    the scripted server, trained."""
    project = Path(shutil.copytree(starter_project, tmp_path / "bot"))
    config = yaml.safe_load((project / "config.yml").read_text())
    config["pipeline"].append(
        {
            "name": "CompactLLMCommandGenerator",
            "llm": {"model_group": LLM_GROUP},
            "flow_retrieval": {"active": False},
        }
    )
    (project / "config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    endpoints = yaml.safe_load((project / "endpoints.yml").read_text()) or {}
    endpoints["model_groups"] = [
        {
            "id": LLM_GROUP,
            "models": [
                {
                    "provider": "openai",
                    "model": "scripted-model",
                    "api_base": llm_server.api_base,
                    "api_key": "sk-test",
                    "timeout": 5,
                    "max_retries": 0,
                }
            ],
        }
    ]
    (project / "endpoints.yml").write_text(yaml.safe_dump(endpoints, sort_keys=False))

    def train() -> int:
        with contextlib.chdir(project):
            return main(["train", "--fixed-model-name", "m", "--force"])

    assert await asyncio.to_thread(train) == 0
    return project


@pytest.fixture
async def llm_client(llm_project: Path) -> AsyncIterator[TestClient]:
    model = llm_project / "models" / "m.tar.gz"
    processor = await open_processor(model, llm_project / "endpoints.yml")
    client = await start_client(model, processor, inspect=True)
    yield client
    await client.close()


async def test_the_llm_calls_of_a_turn_are_shown_with_it(
    llm_client: TestClient, llm_server: FakeLLMServer
) -> None:
    await llm_client.post("/webhooks/rest/webhook", json={"sender": "llm", "message": ORDER})
    before = len(llm_server.requests)
    # Inside the order, a message the NLU maps to no command goes to the LLM.
    text = "surprise me, whatever the chef likes"
    llm_server.then_answer("set slot pizza_type funghi")
    response = await llm_client.post(
        "/webhooks/rest/webhook", json={"sender": "llm", "message": text}
    )
    assert response.status == 200
    view = await (await llm_client.get("/inspect/api/conversations/llm")).json()
    calls = last_turn(view)["llm_calls"]
    sent = llm_server.requests[before:]
    assert len(calls) == len(sent) >= 1
    assert calls[0]["prompt"] == sent[0].body["messages"][0]["content"]
    assert text in calls[0]["prompt"]
    assert calls[0]["answer"] == "set slot pizza_type funghi"
    assert calls[0]["model"] == "served-model" and calls[0]["error"] is None
    assert calls[0]["latency_ms"] > 0 and calls[0]["replayed"] is False
    assert set(calls[0]["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}


async def test_a_call_the_cassette_answered_is_shown_as_replayed(
    llm_project: Path, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TANDEM_LLM_CASSETTE", str(tmp_path / "cassette.json"))
    model = llm_project / "models" / "m.tar.gz"
    processor = await open_processor(model, llm_project / "endpoints.yml")
    client = await start_client(model, processor, inspect=True)
    text = "surprise me, whatever the chef likes"
    try:
        calls = {}
        for sender in ("recorded", "replayed"):
            llm_server.then_answer("set slot pizza_type funghi")
            for message in (ORDER, text):
                body = {"sender": sender, "message": message}
                assert (await client.post("/webhooks/rest/webhook", json=body)).status == 200
            view = await (await client.get(f"/inspect/api/conversations/{sender}")).json()
            calls[sender] = last_turn(view)["llm_calls"]
    finally:
        await client.close()
    # The same conversation again: the cassette answers, the LLM server is not asked.
    assert len(llm_server.requests) == len(calls["recorded"]) >= 1
    first, again = calls["recorded"][0], calls["replayed"][0]
    assert (first["replayed"], again["replayed"]) == (False, True)
    assert again["latency_ms"] == 0 and first["latency_ms"] > 0
    assert again["answer"] == first["answer"] and again["prompt"] == first["prompt"]
