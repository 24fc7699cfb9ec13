"""The HTTP API: every route's happy path, JSON shapes, status codes and input errors."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from aiohttp.test_utils import TestClient
from server_testkit import event_names, texts

from tandem import __version__

ERROR_KEYS = {"version", "status", "message", "reason", "details", "help", "code"}
TRACKER_KEYS = {
    "sender_id",
    "slots",
    "latest_message",
    "latest_event_time",
    "followup_action",
    "paused",
    "events",
    "latest_input_channel",
    "active_loop",
    "latest_action",
    "latest_action_name",
}
SESSION_START = ["action:action_session_start", "session_started", "action:action_listen"]


async def assert_error(response, status: int, reason: str) -> dict:
    assert response.status == status
    body = await response.json()
    assert set(body) == ERROR_KEYS
    assert body["status"] == "failure" and body["code"] == status and body["reason"] == reason
    assert body["version"] == __version__ and body["message"]
    return body


async def say(client: TestClient, sender: str, text: str) -> list[dict]:
    response = await client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
    assert response.status == 200
    return await response.json()


# -- server information ---------------------------------------------------------------------------


async def test_hello_version_and_status(client: TestClient) -> None:
    hello = await client.get("/")
    assert hello.status == 200 and await hello.text() == f"Hello from Tandem: {__version__}"
    version = await (await client.get("/version")).json()
    assert version == {"version": __version__, "minimum_compatible_version": "0.1.0"}
    status = await (await client.get("/status")).json()
    assert status["model_file"] == "m.tar.gz"
    assert len(status["model_id"]) == 32 and status["num_active_training_jobs"] == 0
    assert isinstance(status["worker_pid"], int)


async def test_without_the_api_only_the_greeting_and_channels_answer(make_client) -> None:
    client = await make_client(enable_api=False)
    assert (await client.get("/")).status == 200
    await assert_error(await client.get("/status"), 404, "NotFound")
    assert await say(client, "u", "hello")


async def test_unknown_routes_and_methods_get_the_error_json(client: TestClient) -> None:
    await assert_error(await client.get("/nowhere"), 404, "NotFound")
    response = await client.delete("/status")
    await assert_error(response, 405, "MethodNotAllowed")
    assert "GET" in response.headers["Allow"]


# -- trackers -------------------------------------------------------------------------------------


async def test_an_unknown_conversation_shows_its_session_start_without_storing_it(
    client: TestClient,
) -> None:
    body = await (await client.get("/conversations/new/tracker?include_events=ALL")).json()
    assert set(body) >= TRACKER_KEYS
    assert body["sender_id"] == "new" and event_names(body) == SESSION_START
    assert body["latest_message"] == {
        "intent": {},
        "entities": [],
        "text": None,
        "message_id": None,
        "metadata": {},
    }
    assert body["active_loop"] == {} and body["latest_action"] == {"action_name": "action_listen"}
    predicted = await client.post("/conversations/new/predict")
    await assert_error(predicted, 404, "NotFound")  # still unknown: nothing was stored


async def test_the_tracker_lists_the_events_asked_for(client: TestClient) -> None:
    await say(client, "u", "hello")
    none = await (await client.get("/conversations/u/tracker?include_events=NONE")).json()
    assert none["events"] is None and none["latest_message"]["intent"]["name"] == "greet"
    everything = await (await client.get("/conversations/u/tracker?include_events=all")).json()
    assert event_names(everything)[:3] == SESSION_START
    assert "action:utter_greet" in event_names(everything)
    bad = await client.get("/conversations/u/tracker?include_events=SOME")
    body = await assert_error(bad, 400, "BadRequest")
    assert "include_events" in body["message"]


async def test_until_shows_the_conversation_as_it_was(client: TestClient) -> None:
    await say(client, "u", "hello")
    middle = time.time()
    time.sleep(0.01)
    await say(client, "u", "when are you open?")
    earlier = await (
        await client.get(f"/conversations/u/tracker?include_events=ALL&until={middle}")
    ).json()
    assert all(e["timestamp"] <= middle for e in earlier["events"])
    assert earlier["latest_message"]["text"] == "hello"
    await assert_error(await client.get("/conversations/u/tracker?until=soon"), 400, "BadRequest")


async def test_posted_events_start_a_session_for_a_new_conversation(client: TestClient) -> None:
    event = {"event": "slot", "name": "order_number", "value": "4711", "timestamp": 1.5}
    response = await client.post("/conversations/p/tracker/events?include_events=ALL", json=event)
    assert response.status == 200
    body = await response.json()
    assert event_names(body) == [*SESSION_START, "slot:order_number"]
    assert body["slots"]["order_number"] == "4711"
    assert body["events"][-1]["timestamp"] == 1.5  # posted timestamps are kept
    assert body["events"][-1]["metadata"]["model_id"]  # and the model's ids stamped
    more = [{"event": "bot", "text": "hi"}, {"event": "action", "name": "action_listen"}]
    body = await (
        await client.post("/conversations/p/tracker/events?include_events=ALL", json=more)
    ).json()
    assert event_names(body)[-3:] == ["slot:order_number", "bot", "action:action_listen"]


async def test_posted_events_that_bring_their_session_start_get_no_other(
    client: TestClient,
) -> None:
    events = [
        {"event": "action", "name": "action_session_start"},
        {"event": "session_started"},
        {"event": "action", "name": "action_listen"},
    ]
    body = await (
        await client.post("/conversations/q/tracker/events?include_events=ALL", json=events)
    ).json()
    assert event_names(body) == SESSION_START


@pytest.mark.parametrize(
    "body",
    [
        {"event": "no_such_event"},
        {"name": "x"},
        {"event": "slot", "name": None, "value": 1},
        {"event": "action", "name": 5},
        {"event": "user", "text": "hi", "parse_data": {"intent": "greet"}},
        {"event": "user", "parse_data": {"entities": [1, 2]}},
        {"event": "user", "parse_data": {"commands": [{"command": "cancel flow"}, 3]}},
        {"event": "entities", "entities": "berlin"},
        {"event": "slot", "name": "x", "timestamp": "now"},
        {"event": "slot", "name": "x", "metadata": "m"},
        {"event": "stack", "update": "not a patch"},
        [{"event": "bot"}, 5],
        "text",
    ],
)
async def test_invalid_events_are_rejected_and_nothing_is_stored(client: TestClient, body) -> None:
    response = await client.post("/conversations/r/tracker/events", json=body)
    await assert_error(response, 400, "BadRequest")
    await assert_error(await client.post("/conversations/r/predict"), 404, "NotFound")


async def test_bad_json_gets_400_with_the_reason(client: TestClient) -> None:
    for path in ("/conversations/r/tracker/events", "/model/parse", "/webhooks/rest/webhook"):
        response = await client.post(path, data=b'{"text": "hi"')
        body = await assert_error(response, 400, "BadRequest")
        assert "not valid JSON" in body["message"]
    nan = await client.post("/model/parse", data=b'{"text": NaN}')
    await assert_error(nan, 400, "BadRequest")
    empty = await client.post("/model/parse")
    await assert_error(empty, 400, "BadRequest")


async def test_put_replaces_a_new_conversation_and_extends_a_stored_one(
    client: TestClient,
) -> None:
    first = [
        {"event": "action", "name": "action_session_start", "timestamp": 1.0},
        {"event": "session_started", "timestamp": 1.0},
        {"event": "action", "name": "action_listen", "timestamp": 1.0},
    ]
    response = await client.put("/conversations/s/tracker/events?include_events=ALL", json=first)
    assert response.status == 200 and event_names(await response.json()) == SESSION_START
    stored = (await (await client.get("/conversations/s/tracker?include_events=ALL")).json())[
        "events"
    ]
    extended = [*stored, {"event": "bot", "text": "hi", "timestamp": 2.0}]
    response = await client.put("/conversations/s/tracker/events?include_events=ALL", json=extended)
    assert response.status == 200 and event_names(await response.json())[-1] == "bot"
    rewritten = [{"event": "bot", "text": "other", "timestamp": 3.0}]
    conflict = await client.put("/conversations/s/tracker/events", json=rewritten)
    await assert_error(conflict, 409, "Conflict")
    not_a_list = await client.put("/conversations/s/tracker/events", json={"event": "bot"})
    await assert_error(not_a_list, 400, "BadRequest")


# -- turns ----------------------------------------------------------------------------------------


async def test_messages_logs_the_user_message_without_predicting(client: TestClient) -> None:
    response = await client.post(
        "/conversations/m/messages?include_events=ALL",
        json={"text": "hello", "sender": "user", "metadata": {"page": "home"}},
    )
    assert response.status == 200
    body = await response.json()
    # The message's metadata is kept for the session.
    names = event_names(body)
    assert names[:3] == ["slot:session_started_metadata", *SESSION_START[:2]]
    assert names[names.index("user") - 1] == "action:action_listen"
    assert body["latest_message"]["text"] == "hello"
    assert body["latest_message"]["intent"]["name"] == "greet"
    user = next(e for e in body["events"] if e["event"] == "user")
    assert user["metadata"]["page"] == "home"
    assert not any(e["event"] == "bot" for e in body["events"])


async def test_messages_uses_given_parse_data(client: TestClient) -> None:
    parse_data = {"intent": {"name": "goodbye", "confidence": 1.0}, "entities": []}
    body = await (
        await client.post(
            "/conversations/m/messages",
            json={"text": "ciao", "sender": "user", "parse_data": parse_data},
        )
    ).json()
    assert body["latest_message"]["intent"]["name"] == "goodbye"


async def test_messages_only_takes_user_messages(client: TestClient) -> None:
    bot = await client.post("/conversations/m/messages", json={"text": "hi", "sender": "bot"})
    body = await assert_error(bot, 400, "BadRequest")
    assert "sender 'bot'" in body["message"]
    no_text = await client.post("/conversations/m/messages", json={"sender": "user"})
    await assert_error(no_text, 400, "BadRequest")
    for parse_data in ({"intent": 3}, {"commands": [0.5]}, {"intent_ranking": "greet"}):
        bad_parse = await client.post(
            "/conversations/m/messages",
            json={"text": "x", "sender": "user", "parse_data": parse_data},
        )
        await assert_error(bad_parse, 400, "BadRequest")
    body = await (await client.get("/conversations/m/tracker")).json()
    assert not any(e["event"] == "user" for e in body["events"])  # none of them was stored


async def test_trigger_intent_runs_the_nlu_rule_as_an_external_message(
    client: TestClient,
) -> None:
    response = await client.post(
        "/conversations/t/trigger_intent?include_events=ALL", json={"name": "greet"}
    )
    assert response.status == 200
    body = await response.json()
    assert body["messages"][0]["recipient_id"] == "t"
    assert body["messages"][0]["text"].startswith("Hello! I'm the Tandem pizzeria")
    user = next(e for e in body["tracker"]["events"] if e["event"] == "user")
    assert user["text"] == "EXTERNAL: greet" and user["metadata"]["is_external"] is True
    assert user["parse_data"]["intent"]["name"] == "greet"


async def test_trigger_intent_starts_a_flow_with_entities(client: TestClient) -> None:
    response = await client.post(
        "/conversations/t2/trigger_intent",
        json={"name": "order_pizza", "entities": [{"entity": "pizza", "value": "funghi"}]},
    )
    body = await response.json()
    assert texts(body["messages"]) == ["What size: small, medium or large?"]
    assert body["tracker"]["slots"]["pizza_type"] == "funghi"
    unknown = await client.post("/conversations/t2/trigger_intent", json={"name": "fly"})
    await assert_error(unknown, 404, "NotFound")
    missing = await client.post("/conversations/t2/trigger_intent", json={"entities": {}})
    await assert_error(missing, 400, "BadRequest")


async def test_predict_scores_the_next_action_without_running_it(client: TestClient) -> None:
    await say(client, "pr", "hello")
    before = await (await client.get("/conversations/pr/tracker?include_events=ALL")).json()
    response = await client.post("/conversations/pr/predict")
    assert response.status == 200
    body = await response.json()
    assert set(body) == {"scores", "policy", "confidence", "tracker"}
    scores = [(item["score"], item["action"]) for item in body["scores"]]
    assert scores == sorted(scores, key=lambda pair: (-pair[0], pair[1]))
    assert body["confidence"] == scores[0][0] and isinstance(body["policy"], str)
    after = await (await client.get("/conversations/pr/tracker?include_events=ALL")).json()
    assert after["events"] == before["events"]  # nothing ran


async def test_execute_runs_exactly_one_action(client: TestClient) -> None:
    await say(client, "ex", "hello")
    response = await client.post(
        "/conversations/ex/execute?include_events=ALL",
        json={"name": "utter_opening_hours", "policy": "me", "confidence": 0.5},
    )
    assert response.status == 200
    body = await response.json()
    assert texts(body["messages"]) == ["We're open every day from 11am to 11pm."]
    action = body["tracker"]["events"][-2]
    assert action["name"] == "utter_opening_hours"
    assert (action["policy"], action["confidence"]) == ("me", 0.5)
    assert body["tracker"]["events"][-1]["event"] == "bot"  # no prediction after it


async def test_execute_needs_a_known_conversation_and_action(client: TestClient) -> None:
    unknown = await client.post("/conversations/nobody/execute", json={"name": "utter_greet"})
    await assert_error(unknown, 404, "NotFound")
    await say(client, "ex2", "hello")
    no_action = await client.post("/conversations/ex2/execute", json={"name": "utter_nothing"})
    await assert_error(no_action, 404, "NotFound")
    no_name = await client.post("/conversations/ex2/execute", json={"policy": "x"})
    await assert_error(no_name, 400, "BadRequest")


async def test_a_too_long_conversation_id_is_refused(client: TestClient) -> None:
    response = await client.get(f"/conversations/{'x' * 256}/tracker")
    await assert_error(response, 400, "BadRequest")


# -- the model ------------------------------------------------------------------------------------


async def test_parse_returns_the_parse_data(client: TestClient) -> None:
    response = await client.post("/model/parse", json={"text": "hello", "message_id": "m1"})
    assert response.status == 200
    body = await response.json()
    assert body["text"] == "hello" and body["intent"]["name"] == "greet"
    assert {"entities", "intent_ranking"} <= set(body) and "event_metadata" not in body
    await assert_error(await client.post("/model/parse", json={"q": "x"}), 400, "BadRequest")
    emulated = await client.post("/model/parse?emulation_mode=wit", json={"text": "x"})
    await assert_error(emulated, 400, "BadRequest")


async def test_a_model_can_be_loaded_and_unloaded(client: TestClient, starter_model: Path) -> None:
    copy = starter_model.with_name("other.tar.gz")
    copy.write_bytes(starter_model.read_bytes())
    try:
        response = await client.put("/model", json={"model_file": str(copy)})
        assert response.status == 204
        assert (await (await client.get("/status")).json())["model_file"] == "other.tar.gz"
        assert await say(client, "after-swap", "hello")
    finally:
        copy.unlink()
    bad = await client.put("/model", json={"model_file": "/nowhere/model.tar.gz"})
    await assert_error(bad, 400, "LoadingError")
    assert (await client.get("/status")).status == 200  # the loaded model stays
    assert (await client.delete("/model")).status == 204
    await assert_error(await client.get("/status"), 409, "Conflict")
    await assert_error(await client.post("/model/parse", json={"text": "x"}), 409, "Conflict")


async def test_the_domain_as_json_or_yaml(client: TestClient) -> None:
    as_json = await client.get("/domain", headers={"Accept": "application/json"})
    assert "utter_greet" in (await as_json.json())["responses"]
    as_yaml = await client.get("/domain", headers={"Accept": "application/x-yaml"})
    assert "utter_greet" in yaml.safe_load(await as_yaml.text())["responses"]
    refused = await client.get("/domain", headers={"Accept": "text/html"})
    await assert_error(refused, 406, "NotAcceptable")


# -- limits and failures --------------------------------------------------------------------------


async def test_oversized_bodies_are_refused(make_client) -> None:
    client = await make_client(max_body_bytes=1000)
    big = {"sender": "u", "message": "x" * 2000}
    await assert_error(
        await client.post("/webhooks/rest/webhook", json=big), 413, "PayloadTooLarge"
    )
    chunked = await client.post(
        "/model/parse", data=_chunks(json.dumps({"text": "y" * 5000}).encode())
    )
    await assert_error(chunked, 413, "PayloadTooLarge")


async def _chunks(data: bytes):
    """A body without Content-Length: the limit is enforced while reading."""
    for start in range(0, len(data), 512):
        yield data[start : start + 512]


async def test_the_openapi_description_lists_the_served_routes(client: TestClient) -> None:
    description = await (await client.get("/openapi.json")).json()
    assert description["openapi"].startswith("3.")
    paths = set(description["paths"])
    assert {
        "/",
        "/status",
        "/conversations/{conversation_id}/tracker",
        "/conversations/{conversation_id}/tracker/events",
        "/conversations/{conversation_id}/messages",
        "/conversations/{conversation_id}/trigger_intent",
        "/conversations/{conversation_id}/predict",
        "/conversations/{conversation_id}/execute",
        "/model/parse",
        "/model",
        "/webhooks/rest/webhook",
    } <= paths
    assert "securitySchemes" not in description["components"]


async def test_cors_answers_preflights_and_tags_responses_for_allowed_origins(
    make_client,
) -> None:
    client = await make_client(cors=["https://shop.example"])
    preflight = await client.options(
        "/webhooks/rest/webhook",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.headers["Access-Control-Allow-Headers"] == "content-type"
    allowed = await client.get("/status", headers={"Origin": "https://shop.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    other = await client.get("/status", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    anyone = await make_client(cors=["*"])
    response = await anyone.get("/", headers={"Origin": "https://any.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    ("path", "body", "reason"),
    [
        ("/model/parse", {"text": 5}, "'text' must be a string."),
        ("/model/parse", {"text": None}, "'text' is missing from the request body."),
        ("/conversations/b/execute", {"name": "x", "confidence": True}, "must be a number"),
        ("/conversations/b/trigger_intent", {"name": "greet", "entities": "x"}, "or a list"),
        ("/conversations/b/trigger_intent", {"name": "greet", "entities": [{}]}, "'entity'"),
        ("/conversations/b/messages", {"text": "x"}, "sender 'None'"),
        (
            "/conversations/b/messages",
            {"text": "x", "sender": "user", "parse_data": {"intent": 3}},
            "'parse_data.intent' must be an object.",
        ),
        ("/webhooks/rest/webhook", {"message": ["hi"]}, "'message' must be a string."),
        ("/conversations/b/tracker/events", {"event": "slot", "name": 1}, "'name' must be"),
    ],
)
async def test_bodies_are_checked_against_their_models_with_the_reason(
    client: TestClient, path: str, body: dict, reason: str
) -> None:
    response = await assert_error(await client.post(path, json=body), 400, "BadRequest")
    assert reason in response["message"]


async def test_the_openapi_bodies_are_the_models_the_server_checks(make_client) -> None:
    description = await (await (await make_client(inspect=True)).get("/openapi.json")).json()
    schemas = description["components"]["schemas"]
    messages = description["paths"]["/conversations/{conversation_id}/messages"]["post"]
    body = messages["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/MessageRequest"}
    assert schemas["MessageRequest"]["required"] == ["text", "sender"]
    # Events: one schema per event type, told apart by `event`.
    assert schemas["Event"]["discriminator"]["propertyName"] == "event"
    assert schemas["Event"]["discriminator"]["mapping"]["slot"].endswith("/SlotSetEvent")
    assert schemas["SlotSetEvent"]["properties"]["name"]["type"] == "string"
    # The inspector's data routes are described when it is served.
    assert {
        "/inspect/api/conversations",
        "/inspect/api/conversations/{conversation_id}",
        "/inspect/api/conversations/{conversation_id}/stream",
        "/inspect/api/conversations/{conversation_id}/e2e.yml",
        "/inspect/api/flows/{flow_id}.svg",
    } <= set(description["paths"])
