"""The custom action client against a real rasa-sdk action server.

The rasa-sdk server runs ``sdk_test_actions.py`` in a subprocess, started once per session.
Failure modes the SDK cannot produce on demand (timeouts, 449, bad JSON) use tiny aiohttp
servers of our own.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from actions_testkit import action, context_for, domain_of, started, user
from aiohttp import web
from aiohttp.test_utils import TestServer

from tandem.actions.base import ActionFailed, ActionRejected
from tandem.actions.custom import ActionServerClient, RemoteAction
from tandem.conversation import events as ev
from tandem.project.endpoints import EndpointConfig

HERE = Path(__file__).parent

DOMAIN = domain_of(
    """
    intents: [greet, inform]
    entities: [city]
    slots:
      city: {type: text, mappings: [{type: from_entity, entity: city}]}
      seen: {type: any, mappings: []}
    forms:
      restaurant_form: {required_slots: [city]}
    responses:
      utter_hello:
        - text: "Hello {name}, welcome to {city}!"
          buttons: [{title: Hi, payload: /greet}]
    actions:
      - action_greet_by_name
      - action_reject
      - action_crash
      - action_unknown_event
      - action_slot_without_value
      - action_not_on_the_server
      - validate_restaurant_form
    """
)


@pytest.fixture(scope="session")
def sdk_url(sdk_server: Callable[[Path, str], str]) -> str:
    """The webhook URL of a rasa-sdk server serving ``sdk_test_actions``."""
    return sdk_server(HERE, "sdk_test_actions")


@pytest.fixture
async def client(sdk_url: str):
    async with ActionServerClient(EndpointConfig(url=sdk_url)) as sdk_client:
        yield sdk_client


def tracker():
    return started(DOMAIN, user("I'm in Paris", "inform"))


async def run_remote(name: str, client: ActionServerClient, tracker_=None) -> list[ev.Event]:
    context = context_for(DOMAIN, action_server=client)
    return await RemoteAction(name).run(tracker_ or tracker(), context)


# -- against rasa-sdk -----------------------------------------------------------------------------


async def test_events_and_messages_come_back_in_order(client):
    events = await run_remote("action_greet_by_name", client)
    hello, echo, city, seen = events
    # `response=` is rendered by our NLG with the item's other keys as template values.
    assert hello.text == "Hello Ann, welcome to None!"
    assert hello.data["buttons"] == [
        {"title": "Hi", "payload": "/greet"},
        {"title": "More", "payload": "/more"},
    ]
    assert hello.utter_action == "utter_hello"
    assert echo.text == "you said: I'm in Paris"
    assert "utter_action" not in echo.metadata
    assert (city.name, city.value, city.filled_by) == ("city", "Berlin", "CUSTOM")
    # What the server received: our tracker and the whole domain.
    assert seen.value == {
        "sender_id": "alice",
        "slot_city": None,
        "events": 4,
        "forms": ["restaurant_form"],
        "responses": ["utter_hello"],
    }


async def test_compressed_requests_are_understood(sdk_url):
    async with ActionServerClient(EndpointConfig(url=sdk_url), compress=True) as compressed:
        events = await run_remote("action_greet_by_name", compressed)
    assert events[2].value == "Berlin"


async def test_compression_follows_the_environment(monkeypatch):
    monkeypatch.setenv("COMPRESS_ACTION_SERVER_REQUEST", "true")
    received = []

    async def webhook(request: web.Request) -> web.Response:
        received.append((request.headers.get("Content-Encoding"), await request.read()))
        return web.json_response({"events": [], "responses": []})

    async with serve(webhook) as url, ActionServerClient(EndpointConfig(url=url)) as env_client:
        await run_remote("action_x", env_client)
    encoding, body = received[0]
    assert encoding == "deflate"
    # aiohttp inflated the body for us, which only works if it really was deflated.
    assert json.loads(body)["next_action"] == "action_x"


async def test_rejection_is_reported_as_rejected(client):
    with pytest.raises(ActionRejected, match="not now"):
        await run_remote("action_reject", client)


async def test_exception_in_the_action_is_a_failure(client):
    with pytest.raises(ActionFailed, match=r"HTTP 500.*boom"):
        await run_remote("action_crash", client)


async def test_action_unknown_to_the_server_is_a_failure(client):
    with pytest.raises(ActionFailed, match="'action_not_on_the_server' not found"):
        await run_remote("action_not_on_the_server", client)


@pytest.mark.parametrize(
    ("name", "problem"),
    [("action_unknown_event", "no_such_event"), ("action_slot_without_value", "'value'")],
)
async def test_schema_invalid_events_fail_the_action(client, name, problem):
    with pytest.raises(ActionFailed, match=problem):
        await run_remote(name, client)


@pytest.mark.parametrize(
    ("value", "expected", "messages"),
    [("rome", "Rome", []), ("Atlantis", None, ["Atlantis is not a real city."])],
)
async def test_form_validation_action(client, value, expected, messages):
    # As the form action calls it: the candidate is the trailing slot event.
    form_turn = started(
        DOMAIN,
        user("book", "greet"),
        action("restaurant_form"),
        ev.ActiveLoop(name="restaurant_form"),
        ev.SlotSet(name="requested_slot", value="city"),
        action("action_listen"),
        user(value, "inform"),
        ev.SlotSet(name="requested_slot", value="city"),
        action("restaurant_form"),
        ev.SlotSet(name="city", value=value),
    )
    events = await run_remote("validate_restaurant_form", client, form_turn)
    assert [e.text for e in events if isinstance(e, ev.BotUttered)] == messages
    slots = [(e.name, e.value) for e in events if isinstance(e, ev.SlotSet)]
    assert slots == [("city", expected)]


async def test_health_and_action_list(client):
    assert await client.health()
    assert {"action_greet_by_name", "validate_restaurant_form"} <= set(await client.list_actions())


# -- transport failures ---------------------------------------------------------------------------


async def test_refused_connection_is_a_failure(unused_port: int):
    url = f"http://127.0.0.1:{unused_port}/webhook"  # nothing listens there
    async with ActionServerClient(EndpointConfig(url=url)) as down:
        with pytest.raises(ActionFailed, match="Cannot reach the action server"):
            await run_remote("action_greet_by_name", down)
        assert not await down.health()


async def test_missing_endpoint_is_a_failure():
    context = context_for(DOMAIN)
    with pytest.raises(ActionFailed, match="no action endpoint is configured"):
        await RemoteAction("action_greet_by_name").run(tracker(), context)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class serve:
    """A tiny aiohttp server with one ``/webhook`` handler; yields the webhook URL."""

    def __init__(self, handler: Handler) -> None:
        app = web.Application()
        app.router.add_post("/webhook", handler)
        self.server = TestServer(app, host="127.0.0.1")

    async def __aenter__(self) -> str:
        await self.server.start_server()
        return str(self.server.make_url("/webhook"))

    async def __aexit__(self, *exc_info: object) -> None:
        await self.server.close()


async def test_timeout_is_a_failure():
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({"events": []})

    async with serve(slow) as url, ActionServerClient(EndpointConfig(url=url), timeout=0.2) as c:
        started_at = time.monotonic()
        with pytest.raises(ActionFailed, match=r"did not answer.*within 0\.2 seconds"):
            await run_remote("action_slow", c)
        assert time.monotonic() - started_at < 2


async def test_invalid_json_is_a_failure():
    async def garbage(request: web.Request) -> web.Response:
        return web.Response(text="<html>oops</html>", content_type="text/html")

    async with serve(garbage) as url, ActionServerClient(EndpointConfig(url=url)) as c:
        with pytest.raises(ActionFailed, match="invalid JSON"):
            await run_remote("action_x", c)


async def test_449_is_retried_once_with_the_domain():
    bodies: list[dict[str, Any]] = []

    async def forgetful(request: web.Request) -> web.Response:
        bodies.append(await request.json())
        if len(bodies) == 1:
            return web.json_response({"error": "domain missing"}, status=449)
        return web.json_response({"events": [{"event": "slot", "name": "city", "value": "Oslo"}]})

    async with serve(forgetful) as url, ActionServerClient(EndpointConfig(url=url)) as c:
        events = await run_remote("action_x", c)
    assert [e.value for e in events] == ["Oslo"]
    assert len(bodies) == 2 and all(body["domain"] == DOMAIN.as_dict() for body in bodies)


async def test_repeated_449_is_a_failure():
    calls = []

    async def always_449(request: web.Request) -> web.Response:
        calls.append(1)
        return web.json_response({"error": "domain missing"}, status=449)

    async with serve(always_449) as url, ActionServerClient(EndpointConfig(url=url)) as c:
        with pytest.raises(ActionFailed, match="domain"):
            await run_remote("action_x", c)
    assert len(calls) == 2


async def test_request_carries_the_protocol_fields_and_endpoint_settings():
    seen: list[web.Request] = []
    bodies: list[dict[str, Any]] = []
    peers: list[Any] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(request)
        bodies.append(await request.json())
        peers.append(request.transport.get_extra_info("peername") if request.transport else None)
        return web.json_response({"events": [], "responses": []})

    async with serve(record) as url:
        endpoint = EndpointConfig(
            url=url,
            params={"env": "test"},
            headers={"X-Tenant": "acme"},
            basic_auth={"username": "bot", "password": "secret"},
            token="t0k3n",
            token_name="auth",
        )
        conversation = tracker()
        async with ActionServerClient(endpoint) as c:
            await run_remote("action_x", c, conversation)
            await run_remote("action_x", c, conversation)
    request, body = seen[0], bodies[0]
    assert request.query["env"] == "test" and request.query["auth"] == "t0k3n"
    assert request.headers["X-Tenant"] == "acme"
    assert request.headers["Authorization"].startswith("Basic ")
    assert request.headers["Content-Type"] == "application/json"
    assert set(body) == {
        "next_action",
        "sender_id",
        "tracker",
        "domain",
        "domain_digest",
        "version",
    }
    assert body["next_action"] == "action_x" and body["sender_id"] == "alice"
    assert body["tracker"] == conversation.current_state("ALL")
    assert len(body["tracker"]["events"]) == 4
    assert body["version"].startswith("3.")
    assert bodies[0]["domain_digest"] == bodies[1]["domain_digest"]
    assert peers[0] == peers[1]  # one reused connection


async def test_messages_naming_an_unknown_response_are_skipped():
    async def reply(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "events": [{"event": "slot", "name": "city", "value": "Oslo", "filled_by": "NLU"}],
                "responses": [
                    {"response": "utter_nowhere", "text": None},
                    {"text": "kept", "buttons": [], "image": None, "custom": {}, "tone": "warm"},
                ],
            }
        )

    async with serve(reply) as url, ActionServerClient(EndpointConfig(url=url)) as c:
        events = await run_remote("action_x", c)
    assert [type(e) for e in events] == [ev.BotUttered, ev.SlotSet]
    assert events[0].text == "kept" and events[0].metadata == {"tone": "warm"}
    assert events[1].filled_by == "NLU"  # an explicit filler is kept
