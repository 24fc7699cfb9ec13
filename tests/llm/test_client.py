"""The LLM client against a real OpenAI-compatible HTTP server on loopback."""

from __future__ import annotations

import time

import pytest

from tandem.llm.client import LLMCall, LLMClient, LLMError, Usage, observe_llm_calls
from tandem.llm.config import LLMConfig, resolve_llm_config

from .conftest import FakeLLMServer, chat_reply


def config_for(server: FakeLLMServer, **settings: object) -> LLMConfig:
    options = {"model": "test-model", "api_base": server.api_base, "api_key": "sk-test"}
    return resolve_llm_config({**options, **settings}, None, {})


@pytest.fixture
async def make_client():
    clients: list[LLMClient] = []

    def make(config: LLMConfig) -> LLMClient:
        clients.append(LLMClient(config))
        return clients[-1]

    yield make
    for client in clients:
        await client.aclose()


async def test_a_prompt_is_sent_as_one_user_message_with_the_settings(llm_server, make_client):
    config = config_for(
        llm_server, temperature=0.0, max_tokens=5, reasoning_effort="none", top_p=0.5
    )
    completion = await make_client(config).complete("Which flow?")

    assert completion.text == "echo: Which flow?"
    assert completion.model == "served-model"
    assert completion.usage == Usage(7, 3, 10)
    assert completion.latency_ms > 0
    [seen] = llm_server.requests
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["Authorization"] == "Bearer sk-test"
    assert seen.body == {
        "model": "test-model",
        "messages": [{"role": "user", "content": "Which flow?"}],
        "temperature": 0.0,
        "max_completion_tokens": 5,
        "reasoning_effort": "none",
        "top_p": 0.5,
    }


async def test_other_servers_get_max_tokens_and_no_key_when_none_is_set(llm_server, make_client):
    config = resolve_llm_config(
        {"provider": "vllm", "model": "llama", "api_base": llm_server.api_base + "/"},
        None,
        {"max_tokens": 20},
    )
    await make_client(config).complete("hi")

    [seen] = llm_server.requests
    assert seen.path == "/v1/chat/completions"
    assert "Authorization" not in seen.headers
    assert seen.body["max_tokens"] == 20
    assert "temperature" not in seen.body


async def test_azure_uses_the_deployment_url_and_the_api_key_header(llm_server, make_client):
    config = resolve_llm_config(
        {
            "provider": "azure",
            "model": "gpt-4o",
            "deployment": "my-gpt",
            "api_base": f"http://127.0.0.1:{llm_server.port}",
            "api_version": "2024-06-01",
            "api_key": "az-key",
        },
        None,
        {},
    )
    await make_client(config).complete("hi")

    [seen] = llm_server.requests
    assert seen.path == "/openai/deployments/my-gpt/chat/completions"
    assert seen.query == {"api-version": "2024-06-01"}
    assert seen.headers["api-key"] == "az-key"
    assert "Authorization" not in seen.headers


async def test_the_key_is_read_from_the_environment_when_a_request_is_sent(
    llm_server, make_client, monkeypatch
):
    config = resolve_llm_config({"model": "m", "api_base": llm_server.api_base}, None, {})
    client = make_client(config)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    await client.complete("hi")
    assert llm_server.requests[0].headers["Authorization"] == "Bearer sk-from-env"

    monkeypatch.setenv("MY_LLM_KEY", "sk-mine")
    await make_client(config_for(llm_server, api_key="${MY_LLM_KEY}")).complete("hi")
    assert llm_server.requests[1].headers["Authorization"] == "Bearer sk-mine"


async def test_a_key_variable_that_is_not_set_fails_before_anything_is_sent(
    llm_server, make_client
):
    client = make_client(config_for(llm_server, api_key="${MY_UNSET_LLM_KEY}"))
    with pytest.raises(LLMError, match="MY_UNSET_LLM_KEY"):
        await client.complete("hi")
    assert llm_server.requests == []


async def test_requests_reuse_one_connection(llm_server, make_client):
    client = make_client(config_for(llm_server))
    for prompt in ("one", "two", "three"):
        await client.complete(prompt)
    await client.embed(["four"])

    assert len(llm_server.requests) == 4
    assert len({seen.client_port for seen in llm_server.requests}) == 1


async def test_a_server_error_is_retried(llm_server, make_client):
    llm_server.then(500, {"error": {"message": "overloaded"}})
    llm_server.then(429, {"error": {"message": "slow down"}})
    llm_server.then_answer("B")

    completion = await make_client(config_for(llm_server)).complete("route this")

    assert completion.text == "B"
    assert len(llm_server.requests) == 3


async def test_retries_are_bounded(llm_server, make_client):
    for _ in range(5):
        llm_server.then(503, {"error": {"message": "model is loading"}})

    with pytest.raises(LLMError) as failure:
        await make_client(config_for(llm_server)).complete("hi")

    assert len(llm_server.requests) == 3  # the first try and max_retries=2 retries
    message = str(failure.value)
    assert "HTTP 503: model is loading" in message
    assert "after 3 attempts" in message
    assert f"{llm_server.api_base}/chat/completions" in message


async def test_a_client_error_is_not_retried_and_keeps_secrets_out(llm_server, make_client):
    llm_server.then(400, {"error": {"message": "Unsupported parameter: 'top_k'"}})

    with pytest.raises(LLMError) as failure:
        await make_client(config_for(llm_server, top_k=3)).complete("hi")

    assert len(llm_server.requests) == 1
    message = str(failure.value)
    assert "HTTP 400: Unsupported parameter: 'top_k'" in message
    assert "attempts" not in message
    assert "sk-test" not in message


async def test_a_server_slower_than_the_timeout_fails(llm_server, make_client):
    for _ in range(2):
        llm_server.then(body=chat_reply("too late"), delay=5.0)

    started = time.monotonic()
    with pytest.raises(LLMError, match=r"no answer within 0\.2 seconds"):
        await make_client(config_for(llm_server, timeout=0.2, max_retries=1)).complete("hi")

    # Each attempt is cut off at 0.2 s instead of waiting out the server's 5 s.
    assert time.monotonic() - started < 4.0
    assert len(llm_server.requests) == 2


async def test_an_unreachable_server_fails_with_a_clear_error(unused_port, make_client):
    config = resolve_llm_config(
        {
            "model": "m",
            "api_base": f"http://127.0.0.1:{unused_port}/v1",
            "api_key": "k",
            "max_retries": 1,
        },
        None,
        {},
    )
    with pytest.raises(LLMError, match=r"after 2 attempts: cannot connect"):
        await make_client(config).complete("hi")


async def test_invalid_json_is_an_error(llm_server, make_client):
    llm_server.then(200, "not a completion")
    with pytest.raises(LLMError, match="unexpected reply"):
        await make_client(config_for(llm_server)).complete("hi")


async def test_no_choices_is_a_completion_without_text(llm_server, make_client):
    llm_server.then_answer(None)
    completion = await make_client(config_for(llm_server)).complete("hi")
    assert completion.text is None
    assert completion.usage == Usage(7, 3, 10)


async def test_the_client_sums_the_usage_of_its_calls(llm_server, make_client):
    client = make_client(config_for(llm_server))
    await client.complete("one")
    await client.complete("two")
    await client.embed(["three"])

    assert client.usage == Usage(prompt_tokens=18, completion_tokens=6, total_tokens=24)


async def test_embeddings_come_back_in_the_order_of_the_texts(llm_server, make_client):
    llm_server.then(
        body={
            "data": [
                {"index": 1, "embedding": [2.0, 0.5]},
                {"index": 0, "embedding": [1.0, 0.25]},
            ],
            "usage": {"prompt_tokens": 3, "total_tokens": 3},
        }
    )
    client = make_client(config_for(llm_server, model="text-embedding-3-small"))

    assert await client.embed(["first", "second"]) == [[1.0, 0.25], [2.0, 0.5]]
    assert await client.embed([]) == []
    [seen] = llm_server.requests
    assert seen.path == "/v1/embeddings"
    assert seen.body == {"model": "text-embedding-3-small", "input": ["first", "second"]}
    assert client.usage == Usage(prompt_tokens=3, total_tokens=3)


async def test_embeddings_missing_a_vector_are_an_error(llm_server, make_client):
    llm_server.then(body={"data": [{"index": 0, "embedding": [1.0]}]})
    with pytest.raises(LLMError, match="1 embeddings for 2 texts"):
        await make_client(config_for(llm_server)).embed(["a", "b"])


async def test_observers_see_each_prompt_and_raw_answer_or_error(llm_server, make_client):
    llm_server.then_answer("start flow transfer")
    llm_server.then(400, {"error": {"message": "bad request"}})
    client = make_client(config_for(llm_server, max_retries=0))
    calls: list[LLMCall] = []
    with observe_llm_calls(calls.append):
        await client.complete("Which flow?")
        with pytest.raises(LLMError):
            await client.complete("And now?")
    await client.complete("Unobserved")
    assert [(c.prompt, c.answer) for c in calls] == [
        ("Which flow?", "start flow transfer"),
        ("And now?", None),
    ]
    assert calls[0].model == "served-model" and calls[0].error is None
    assert calls[1].error is not None and "bad request" in calls[1].error
