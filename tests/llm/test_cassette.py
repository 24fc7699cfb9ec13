"""Recording LLM exchanges to a cassette and replaying them with the server gone."""

from __future__ import annotations

import json

import pytest

from tandem.llm.cassette import Cassette, CassetteMiss, cassette_from_env, request_key
from tandem.llm.client import LLMClient, LLMError
from tandem.llm.config import LLMConfig, resolve_llm_config

from .conftest import FakeLLMServer


def config_for(server: FakeLLMServer, **settings: object) -> LLMConfig:
    options = {"model": "test-model", "api_base": server.api_base, "api_key": "sk-test"}
    return resolve_llm_config({**options, **settings}, None, {"temperature": 1.0})


async def conversation(client: LLMClient) -> list[object]:
    """A few calls as an LLM-driven test would make them."""
    return [
        await client.complete("I want to transfer money"),
        await client.complete("to John"),
        await client.embed(["transfer money", "check balance"]),
        client.usage,
    ]


async def test_a_recorded_run_replays_identically_with_the_server_stopped(llm_server, tmp_path):
    path = tmp_path / "cassettes" / "run.jsonl"
    llm_server.then_answer("StartFlow(transfer_money)", model="gpt-4o-2024-11-20")
    async with LLMClient(config_for(llm_server), cassette=Cassette(path, "record")) as client:
        recorded = await conversation(client)
    assert len(llm_server.requests) == 3
    await llm_server.stop()

    async with LLMClient(config_for(llm_server), cassette=Cassette(path, "replay")) as client:
        replayed = await conversation(client)
        assert client._session is None  # no connection was ever opened

    assert [(c.text, c.model, c.usage) for c in recorded[:2]] == [
        (c.text, c.model, c.usage) for c in replayed[:2]
    ]
    assert replayed[2] == [[14.0, 0.0], [13.0, 1.0]]
    assert replayed[3] == recorded[3]
    assert len(llm_server.requests) == 3


async def test_volatile_parts_of_a_prompt_do_not_break_the_replay(llm_server, tmp_path):
    path = tmp_path / "run.jsonl"
    llm_server.then_answer("start flow transfer_money")
    recorded_at, replayed_at = "24 November, 2026, 19:50 UTC", "25 November, 2026, 08:01 UTC"
    async with LLMClient(config_for(llm_server), cassette=Cassette(path, "record")) as client:
        sent = await client.complete(f"It is {recorded_at}. Hi", volatile=[recorded_at])
    assert recorded_at in llm_server.requests[0].body["messages"][0]["content"]  # LLM saw it
    await llm_server.stop()
    async with LLMClient(config_for(llm_server), cassette=Cassette(path, "replay")) as client:
        replayed = await client.complete(f"It is {replayed_at}. Hi", volatile=[replayed_at])
        assert replayed.text == sent.text == "start flow transfer_money"
        with pytest.raises(CassetteMiss):
            await client.complete(f"It is {replayed_at}. Hi")  # not declared volatile


async def test_the_file_holds_one_readable_line_per_exchange(llm_server, tmp_path):
    path = tmp_path / "run.jsonl"
    prompt = "You are a router. " + "x" * 300 + " Answer A, B or C."
    async with LLMClient(config_for(llm_server), cassette=Cassette(path, "record")) as client:
        await client.complete(prompt)
        await client.embed(["hello"])

    chat, embed = (json.loads(line) for line in path.read_text().splitlines())
    assert chat["request"] == {"kind": "chat", "model": "test-model", "text": prompt[:200]}
    assert chat["response"] == {
        "text": f"echo: {prompt}",
        "model": "served-model",
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
    }
    assert len(chat["key"]) == 64
    assert embed["request"] == {"kind": "embed", "model": "test-model", "text": "hello"}
    assert embed["response"]["embeddings"] == [[5.0, 0.0]]


async def test_a_replay_miss_names_the_request_and_the_cassette(llm_server, tmp_path):
    path = tmp_path / "run.jsonl"
    async with LLMClient(config_for(llm_server), cassette=Cassette(path, "record")) as client:
        await client.complete("hello")

    prompt = "A long prompt. " * 30 + "User said: cancel my order"
    async with LLMClient(config_for(llm_server), cassette=Cassette(path, "replay")) as client:
        with pytest.raises(CassetteMiss) as miss:
            await client.complete(prompt)
        assert client._session is None
    message = str(miss.value)
    assert str(path) in message
    assert "chat request to model 'test-model'" in message
    assert "User said: cancel my order" in message
    assert "TANDEM_LLM_MODE=auto" in message
    assert isinstance(miss.value, LLMError)  # components fall back as on any LLM failure
    assert len(llm_server.requests) == 1


async def test_a_replay_miss_says_when_the_cassette_does_not_exist(llm_server, tmp_path):
    cassette = Cassette(tmp_path / "missing.jsonl", "replay")
    with pytest.raises(CassetteMiss, match="the file does not exist"):
        await LLMClient(config_for(llm_server), cassette=cassette).complete("hi")


async def test_auto_mode_replays_what_it_has_and_records_the_rest(llm_server, tmp_path):
    path = tmp_path / "run.jsonl"
    async with LLMClient(config_for(llm_server), cassette=Cassette(path)) as client:
        first = await client.complete("hello")
    async with LLMClient(config_for(llm_server), cassette=Cassette(path, "auto")) as client:
        again = await client.complete("hello")
        other = await client.complete("goodbye")

    assert again.text == first.text
    assert other.text == "echo: goodbye"
    assert [seen.body["messages"][0]["content"] for seen in llm_server.requests] == [
        "hello",
        "goodbye",
    ]
    assert len(path.read_text().splitlines()) == 2


async def test_a_request_asked_twice_in_a_run_gets_the_first_answer(llm_server, tmp_path):
    llm_server.then_answer("one")
    llm_server.then_answer("two")
    cassette = Cassette(tmp_path / "run.jsonl", "record")
    async with LLMClient(config_for(llm_server), cassette=cassette) as client:
        answers = [(await client.complete("same")).text for _ in range(2)]
    assert answers == ["one", "one"]
    assert len(llm_server.requests) == 1


async def test_record_mode_asks_again_and_the_newer_recording_wins(llm_server, tmp_path):
    path = tmp_path / "run.jsonl"
    llm_server.then_answer("old")
    llm_server.then_answer("new")
    for _ in range(2):
        async with LLMClient(config_for(llm_server), cassette=Cassette(path, "record")) as client:
            await client.complete("hello")
    async with LLMClient(config_for(llm_server), cassette=Cassette(path, "replay")) as client:
        assert (await client.complete("hello")).text == "new"


async def test_failed_calls_are_not_recorded(llm_server, tmp_path):
    path = tmp_path / "run.jsonl"
    llm_server.then(400, {"error": {"message": "bad"}})
    with pytest.raises(LLMError, match="bad"):
        await LLMClient(config_for(llm_server), cassette=Cassette(path, "record")).complete("hi")
    assert not path.exists()


def test_the_key_ignores_key_order_but_not_the_parameters():
    request = {"kind": "chat", "model": "m", "messages": [], "temperature": 1.0, "extra": {}}
    reordered = {"extra": {}, "temperature": 1.0, "messages": [], "model": "m", "kind": "chat"}
    assert request_key(request) == request_key(reordered)
    assert request_key(request) != request_key({**request, "temperature": 0.0})
    assert request_key(request) != request_key({**request, "extra": {"top_p": 0.5}})


async def test_a_cassette_recorded_with_one_server_replays_for_another(llm_server, tmp_path):
    """Neither the server's address nor the API key is part of what is recorded."""
    path = tmp_path / "run.jsonl"
    async with LLMClient(config_for(llm_server), cassette=Cassette(path, "record")) as client:
        recorded = await client.complete("hello")
    elsewhere = resolve_llm_config(
        {"model": "test-model", "api_base": "http://127.0.0.1:9/v1", "api_key": "other"},
        None,
        {"temperature": 1.0},
    )
    async with LLMClient(elsewhere, cassette=Cassette(path, "replay")) as client:
        assert (await client.complete("hello")).text == recorded.text


def test_an_incomplete_last_line_is_ignored_but_a_broken_one_is_an_error(tmp_path):
    path = tmp_path / "run.jsonl"
    request = {"kind": "chat", "model": "m", "messages": [{"role": "user", "content": "hi"}]}
    good = json.dumps({"key": request_key(request), "response": {"text": "A"}})
    path.write_text(good + "\n" + '{"key": "k2", "respo')  # a run killed while recording
    assert Cassette(path, "replay").lookup(request) == {"text": "A"}

    path.write_text('{"key": \n' + good + "\n")
    with pytest.raises(LLMError, match=r"run\.jsonl:1: not an LLM cassette recording"):
        Cassette(path, "replay")


async def test_the_environment_names_the_cassette_of_every_client(
    llm_server, tmp_path, monkeypatch
):
    assert cassette_from_env() is None
    path = tmp_path / "env.jsonl"
    monkeypatch.setenv("TANDEM_LLM_CASSETTE", str(path))
    cassette = cassette_from_env()
    assert cassette is not None
    assert (cassette.path, cassette.mode) == (path.resolve(), "auto")
    assert cassette_from_env() is cassette  # all clients of a run share one

    async with LLMClient(config_for(llm_server)) as client:
        assert client.cassette is cassette
        await client.complete("hello")
    monkeypatch.setenv("TANDEM_LLM_MODE", "replay")
    async with LLMClient(config_for(llm_server)) as client:
        assert client.cassette is not None and client.cassette.mode == "replay"
        assert (await client.complete("hello")).text == "echo: hello"
        with pytest.raises(CassetteMiss):
            await client.complete("unrecorded")
    assert len(llm_server.requests) == 1


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"TANDEM_LLM_CASSETTE": "x.jsonl", "TANDEM_LLM_MODE": "playback"}, "TANDEM_LLM_MODE must"),
        ({"TANDEM_LLM_MODE": "replay"}, "TANDEM_LLM_CASSETTE is not"),
    ],
)
def test_unusable_cassette_variables_are_errors(variables, message, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        cassette_from_env()
