"""DucklingEntityExtractor against a tiny fake Duckling server on 127.0.0.1, and with none."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from nlu_testkit import data, greetings

from tandem.nlu import NluPipeline

MATCHES = [
    {
        "body": "tomorrow at 8",
        "start": 10,
        "end": 23,
        "dim": "time",
        "latent": False,
        "value": {
            "value": "2024-05-02T08:00:00.000+02:00",
            "grain": "hour",
            "type": "value",
            "values": [],
        },
    },
    {
        "body": "two",
        "start": 28,
        "end": 31,
        "dim": "number",
        "latent": False,
        "value": {"value": 2, "type": "value"},
    },
    {
        "body": "from 9 to 11",
        "start": 32,
        "end": 44,
        "dim": "time",
        "latent": False,
        "value": {
            "type": "interval",
            "from": {"value": "09:00", "grain": "hour"},
            "to": {"value": "11:00"},
        },
    },
]


@pytest.fixture
async def duckling() -> AsyncIterator[tuple[str, list[dict]]]:
    requests: list[dict] = []

    async def parse(request: web.Request) -> web.Response:
        requests.append(dict(await request.post()))
        return web.json_response(MATCHES)

    app = web.Application()
    app.router.add_post("/parse", parse)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", requests
    await runner.cleanup()


def pipeline(**options: object) -> NluPipeline:
    return NluPipeline.train([("DucklingEntityExtractor", options)], data(greetings()))


async def test_entities_from_duckling(duckling: tuple[str, list[dict]]) -> None:
    url, requests = duckling
    result = await pipeline(url=url, timezone="Europe/Berlin").parse_async(
        "book me  tomorrow at 8 for two from 9 to 11"
    )
    first, second, third = result["entities"]
    assert first == {
        "entity": "time",
        "start": 10,
        "end": 23,
        "text": "tomorrow at 8",
        "value": "2024-05-02T08:00:00.000+02:00",
        "confidence": 1.0,
        "additional_info": MATCHES[0]["value"],
        "extractor": "DucklingEntityExtractor",
    }
    assert (second["entity"], second["value"]) == ("number", 2)
    assert third["value"] == {"from": "09:00", "to": "11:00"}
    (sent,) = requests
    assert sent["text"] == "book me  tomorrow at 8 for two from 9 to 11"
    assert sent["locale"] == "en_EN" and sent["tz"] == "Europe/Berlin" and int(sent["reftime"]) > 0


async def test_dimensions_and_locale_options(duckling: tuple[str, list[dict]]) -> None:
    url, requests = duckling
    result = await pipeline(url=url, dimensions=["number"], locale="de_DE").parse_async("x")
    assert [e["entity"] for e in result["entities"]] == ["number"]
    assert requests[0]["locale"] == "de_DE" and "tz" not in requests[0]


async def test_url_from_the_environment(
    duckling: tuple[str, list[dict]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = duckling
    monkeypatch.setenv("RASA_DUCKLING_HTTP_URL", url)
    result = await pipeline(url="http://127.0.0.1:1").parse_async("x")
    assert len(result["entities"]) == 3


async def test_server_down_logs_once_and_yields_no_entities(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    parser = pipeline(url=f"http://127.0.0.1:{port}", timeout=1)
    for _ in range(3):
        result = await parser.parse_async("tomorrow")
        assert result["entities"] == []
        assert result["intent"] == {"name": None, "confidence": 0.0}
    assert caplog.text.count("Duckling at") == 1


async def test_slow_server_times_out() -> None:
    async def slow(request: web.Request) -> web.Response:
        import asyncio

        await asyncio.sleep(1)
        return web.json_response(MATCHES)

    app = web.Application()
    app.router.add_post("/parse", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        parser = pipeline(url=f"http://127.0.0.1:{runner.addresses[0][1]}", timeout=0.2)
        assert (await parser.parse_async("tomorrow"))["entities"] == []
    finally:
        await runner.cleanup()
