"""The REST and socket.io channels, through both systems of the starter assistant."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import socketio
from aiohttp.test_utils import TestClient
from server_testkit import JWT_SECRET, make_jwt, texts

from tandem.server.output import rest_parts, socketio_custom, socketio_payloads

PIZZA_ORDER = [
    ("I would like to order a pizza", "Which pizza would you like"),
    ("a large margherita", "One large margherita, is that right?"),
    ("yes", "Great, your large margherita is in the oven."),
]


async def rest(client: TestClient, sender: str, text: str, **extra: Any) -> list[dict]:
    body = {"sender": sender, "message": text, **extra}
    response = await client.post("/webhooks/rest/webhook", json=body)
    assert response.status == 200
    return await response.json()


def slot_values(tracker: dict[str, Any], name: str) -> list[Any]:
    """The values a slot was set to (the routing reset clears them when a flow ends)."""
    return [
        e["value"]
        for e in tracker["events"]
        if e["event"] == "slot" and e["name"] == name and e["value"] is not None
    ]


# -- REST --------------------------------------------------------------------------------


async def test_rest_orders_a_pizza_through_the_calm_flow(client: TestClient) -> None:
    for text, expected in PIZZA_ORDER:
        messages = await rest(client, "pizza-fan", text)
        assert messages[0]["text"].startswith(expected)
        assert all(m["recipient_id"] == "pizza-fan" for m in messages)
    assert texts(messages)[-1] == "Is there anything else I can do for you?"
    tracker = await (await client.get("/conversations/pizza-fan/tracker?include_events=ALL")).json()
    assert slot_values(tracker, "pizza_type") == ["margherita"]
    assert tracker["latest_input_channel"] == "rest"


async def test_rest_answers_greetings_and_hours_with_nlu_rules(client: TestClient) -> None:
    greeting = await rest(client, "visitor", "hello", metadata={"page": "/menu"})
    assert texts(greeting) == [
        "Hello! I'm the Tandem pizzeria assistant. I can take a pizza order, check on an order "
        "or tell you our opening hours."
    ]
    hours = await rest(client, "visitor", "when are you open?")
    assert texts(hours) == ["We're open every day from 11am to 11pm."]
    tracker = await (await client.get("/conversations/visitor/tracker?include_events=ALL")).json()
    first_user = next(e for e in tracker["events"] if e["event"] == "user")
    assert first_user["metadata"]["page"] == "/menu" and first_user["input_channel"] == "rest"
    routed = [
        e["metadata"].get("routing", {}).get("system")
        for e in tracker["events"]
        if e["event"] == "user"
    ]
    assert routed == ["nlu", "nlu"]


async def test_rest_defaults_and_input_errors(client: TestClient) -> None:
    messages = await (await client.post("/webhooks/rest/webhook", json={"message": "hello"})).json()
    assert messages[0]["recipient_id"] == "default"
    overridden = await rest(client, "o", "hello", input_channel="my_app")
    assert overridden
    tracker = await (await client.get("/conversations/o/tracker")).json()
    assert tracker["latest_input_channel"] == "my_app"
    missing = await client.post("/webhooks/rest/webhook", json={"sender": "x"})
    assert missing.status == 400
    not_text = await client.post("/webhooks/rest/webhook", json={"message": 5})
    assert not_text.status == 400
    too_long = await client.post(
        "/webhooks/rest/webhook", json={"sender": "s" * 256, "message": "hi"}
    )
    assert too_long.status == 400
    assert await (await client.get("/webhooks/rest/")).json() == {"status": "ok"}


async def test_rest_streams_one_message_per_line(client: TestClient) -> None:
    await rest(client, "st", "I would like to order a pizza")
    await rest(client, "st", "a large margherita")
    response = await client.post(
        "/webhooks/rest/webhook?stream=true", json={"sender": "st", "message": "yes"}
    )
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    lines = [json.loads(line) for line in (await response.text()).splitlines()]
    assert len(lines) == 2 and lines[0]["text"].startswith("Great, your large margherita")


def test_rest_message_parts_follow_the_reference() -> None:
    assert rest_parts({"text": "one\n\ntwo"}) == [{"text": "one"}, {"text": "two"}]
    buttons = [{"title": "Yes", "payload": "/affirm"}]
    assert rest_parts({"text": "Sure?", "buttons": buttons}) == [
        {"text": "Sure?", "buttons": buttons}
    ]
    assert rest_parts({"text": "Q", "quick_replies": buttons}) == [
        {"text": "Q", "buttons": buttons}
    ]
    assert rest_parts({"text": "pic", "image": "http://x/i.png", "custom": {"a": 1}}) == [
        {"text": "pic"},
        {"custom": {"a": 1}},
        {"image": "http://x/i.png"},
    ]
    element = {"title": "T", "subtitle": "S", "buttons": buttons}
    assert rest_parts({"elements": [element]}) == [{"text": "T : S", "buttons": buttons}]
    assert rest_parts({"text": None, "buttons": "oops"}) == []


def test_socketio_payloads_follow_the_reference() -> None:
    buttons = [{"title": "Yes", "payload": "/affirm"}, {"title": "No"}]
    assert socketio_payloads({"text": "a\n\nb", "buttons": buttons}) == [
        {"text": "a", "quick_replies": []},
        {
            "text": "b",
            "quick_replies": [
                {"content_type": "text", "title": "Yes", "payload": "/affirm"},
                {"content_type": "text", "title": "No", "payload": "No"},
            ],
        },
    ]
    assert socketio_payloads({"image": "u"}) == [
        {"attachment": {"type": "image", "payload": {"src": "u"}}}
    ]
    assert socketio_payloads({"elements": [{"title": "T"}]}) == [
        {
            "attachment": {
                "type": "template",
                "payload": {"template_type": "generic", "elements": {"title": "T"}},
            }
        }
    ]
    assert socketio_custom({"custom": {"data": {"x": 1}}}) == {"x": 1}
    assert socketio_custom({"custom": {"x": 1}}) == {"x": 1}


# -- socket.io ---------------------------------------------------------------------------


@asynccontextmanager
async def widget(
    client: TestClient, *, bot_event: str = "bot_uttered", **connect: Any
) -> AsyncIterator[tuple[socketio.AsyncClient, asyncio.Queue, asyncio.Queue]]:
    """A socket.io client as a web chat widget uses it, with queues of what it receives."""
    sio = socketio.AsyncClient()
    bot: asyncio.Queue = asyncio.Queue()
    confirmations: asyncio.Queue = asyncio.Queue()
    sio.on(bot_event, bot.put_nowait)
    sio.on("session_confirm", confirmations.put_nowait)
    await sio.connect(str(client.make_url("/")), **connect)
    try:
        yield sio, bot, confirmations
    finally:
        await sio.disconnect()


async def receive(queue: asyncio.Queue, count: int = 1) -> list[Any]:
    return [await asyncio.wait_for(queue.get(), 10) for _ in range(count)]


async def saved_tracker(client: TestClient, sender: str, last_text: str) -> dict[str, Any]:
    """The tracker once the turn of ``last_text`` is saved: socket.io messages arrive as
    each action runs, before the turn ends."""
    for _ in range(100):
        response = await client.get(f"/conversations/{sender}/tracker?include_events=ALL")
        tracker = await response.json()
        events = tracker["events"]
        users = [e for e in events if e["event"] == "user"]
        if users and users[-1]["text"] == last_text and events[-1].get("name") == "action_listen":
            return tracker
        await asyncio.sleep(0.05)
    raise AssertionError(f"the turn of {last_text!r} was not saved")


SOCKETIO = {"rest": None, "socketio": {"session_persistence": True}}


async def test_socketio_round_trip_with_a_persistent_session(make_client) -> None:
    client = await make_client(credentials=SOCKETIO)
    async with widget(client) as (sio, bot, confirmations):
        await sio.emit("session_request", {"session_id": "web-1"})
        assert await receive(confirmations) == ["web-1"]
        await sio.emit("user_uttered", {"message": "hello", "session_id": "web-1"})
        (greeting,) = await receive(bot)
        assert greeting["text"].startswith("Hello! I'm the Tandem pizzeria assistant.")
        for text, expected in PIZZA_ORDER:
            await sio.emit("user_uttered", {"message": text, "session_id": "web-1"})
            assert (await receive(bot))[0]["text"].startswith(expected)
    tracker = await saved_tracker(client, "web-1", "yes")
    assert tracker["latest_input_channel"] == "socketio"
    assert slot_values(tracker, "pizza_size") == ["large"]
    assert await (await client.get("/webhooks/socketio/")).json() == {"status": "ok"}


async def test_socketio_sessions_and_metadata(make_client) -> None:
    client = await make_client(credentials=SOCKETIO)
    async with widget(client) as (sio, bot, confirmations):
        await sio.emit("session_request", None)
        (session_id,) = await receive(confirmations)
        assert len(session_id) == 32
        await sio.emit("user_uttered", {"message": "hello"})  # no session id: dropped
        await sio.emit(
            "user_uttered",
            {"message": "hello", "session_id": session_id, "metadata": '{"lang": "en"}'},
        )
        assert len(await receive(bot)) == 1
        assert bot.empty()
    tracker = await saved_tracker(client, session_id, "hello")
    users = [e for e in tracker["events"] if e["event"] == "user"]
    assert len(users) == 1 and users[0]["metadata"]["lang"] == "en"


async def test_without_persistence_the_socket_is_the_conversation(make_client) -> None:
    credentials = {"socketio": {"user_message_evt": "msg", "bot_message_evt": "reply"}}
    client = await make_client(credentials=credentials)
    async with widget(client, bot_event="reply") as (sio, bot, _):
        await sio.emit("msg", {"message": "when are you open?"})
        assert await receive(bot) == [{"text": "We're open every day from 11am to 11pm."}]
        sid = sio.get_sid()
    tracker = await saved_tracker(client, sid, "when are you open?")
    assert tracker["sender_id"] == sid and tracker["latest_input_channel"] == "socketio"
    assert (await client.post("/webhooks/rest/webhook", json={"message": "hi"})).status == 404


async def test_the_api_can_send_to_the_socket(make_client) -> None:
    client = await make_client(credentials=SOCKETIO)
    async with widget(client) as (sio, bot, confirmations):
        await sio.emit("session_request", {"session_id": "web-2"})
        await receive(confirmations)
        await sio.emit("user_uttered", {"message": "hello", "session_id": "web-2"})
        await receive(bot)
        for channel in ("socketio", "latest"):
            response = await client.post(
                f"/conversations/web-2/trigger_intent?output_channel={channel}",
                json={"name": "bot_challenge"},
            )
            assert (await response.json())["messages"] == []
            assert await receive(bot) == [{"text": "I'm a bot, built with Tandem."}]
        collected = await client.post(
            "/conversations/web-2/trigger_intent?output_channel=nowhere",
            json={"name": "bot_challenge"},
        )
        assert texts((await collected.json())["messages"]) == ["I'm a bot, built with Tandem."]


async def test_a_socketio_jwt_key_refuses_connections_without_a_token(make_client) -> None:
    credentials = {"socketio": {"jwt_key": JWT_SECRET}}
    client = await make_client(credentials=credentials)
    with pytest.raises(socketio.exceptions.ConnectionError):
        async with widget(client):
            pass
    token = make_jwt("alice", "user")
    async with widget(client, auth={"token": token}) as (sio, bot, _):
        await sio.emit("user_uttered", {"message": "hello"})
        assert await receive(bot)
