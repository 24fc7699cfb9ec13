"""The inspector's routes on a real server: the page, the auth in front of its data, the
pushed updates (also for turns another process handled) and the export."""

from __future__ import annotations

import asyncio
import http.client
import json
import shutil
import time
from pathlib import Path
from typing import Any

import yaml
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from server_testkit import (
    JWT_SECRET,
    answers,
    bearer,
    free_port,
    make_jwt,
    request,
    start_client,
    stop_gracefully,
    tandem,
)

from tandem.cli.main import build_parser
from tandem.model.loading import open_processor

TOKEN = "inspect-secret"
AUTH = bearer(TOKEN)


async def rest(client: TestClient, sender: str, text: str) -> list[dict[str, Any]]:
    response = await client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
    assert response.status == 200
    return await response.json()


async def next_view(stream: ClientResponse) -> dict[str, Any]:
    """The next ``conversation`` event of a stream (keep-alive comments skipped)."""
    while True:
        block = (await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 10)).decode()
        lines = block.strip().split("\n")
        if lines[0] == "event: conversation":
            return json.loads(lines[1].removeprefix("data: "))


async def test_the_page_is_served_from_the_package(make_client) -> None:
    client = await make_client(inspect=True, auth_token=TOKEN)
    page = await client.get("/inspect")
    assert page.status == 200 and page.content_type == "text/html"
    html = await page.text()
    # No resource from elsewhere: every script and stylesheet is one of ours.
    assert "http" not in html.replace('"/inspect/static/', "")
    for name, kind in (("inspect.js", "text/javascript"), ("inspect.css", "text/css")):
        response = await client.get(f"/inspect/static/{name}")
        assert response.status == 200 and response.content_type == kind
        assert f"/inspect/static/{name}" in html
    assert (await client.get("/inspect/static/view.py")).status == 404
    assert (await client.get("/inspect/static/..%2Froutes.py")).status == 404


async def test_without_inspect_there_is_no_page(client: TestClient) -> None:
    assert (await client.get("/inspect")).status == 404
    assert (await client.get("/inspect/api/conversations")).status == 404


async def test_the_data_is_behind_the_api_token(make_client) -> None:
    client = await make_client(inspect=True, auth_token=TOKEN)
    await rest(client, "guarded", "hello")
    for path in (
        "/inspect/api/conversations",
        "/inspect/api/conversations/guarded",
        "/inspect/api/conversations/guarded/stream",
        "/inspect/api/conversations/guarded/e2e.yml",
        "/inspect/api/flows/order_pizza.svg",
    ):
        assert (await client.get(path)).status == 401, path
    assert await (await client.get("/inspect/api/conversations", headers=AUTH)).json() == [
        "guarded"
    ]
    view = await (await client.get(f"/inspect/api/conversations/guarded?token={TOKEN}")).json()
    assert [t["user"]["text"] for t in view["turns"] if t["user"]] == ["hello"]


async def test_a_jwt_user_sees_only_their_own_conversation(make_client) -> None:
    client = await make_client(inspect=True, jwt_secret=JWT_SECRET)
    alice = bearer(make_jwt("alice", "user"))
    await rest(client, "alice", "hello")
    assert (await client.get("/inspect/api/conversations/alice", headers=alice)).status == 200
    assert (await client.get("/inspect/api/conversations/bob", headers=alice)).status == 403
    assert (await client.get("/inspect/api/conversations", headers=alice)).status == 403
    admin = bearer(make_jwt("root", "admin"))
    assert (await client.get("/inspect/api/conversations/bob", headers=admin)).status == 200


async def test_the_stream_pushes_each_turn_as_it_is_stored(make_client) -> None:
    client = await make_client(inspect=True)
    stream = await client.get("/inspect/api/conversations/pushed/stream")
    assert stream.status == 200 and stream.content_type == "text/event-stream"
    assert (await next_view(stream))["turns"] == []  # not started yet
    await rest(client, "pushed", "I would like to order a pizza")
    view = await next_view(stream)
    tracker = await (await client.get("/conversations/pushed/tracker?include_events=ALL")).json()
    assert view["event_count"] == len(tracker["events"])
    assert view["stack"] == tracker["stack"]
    assert view["turns"][-1]["user"]["text"] == "I would like to order a pizza"
    await rest(client, "pushed", "a large margherita")
    slots = {s["name"]: s["value"] for s in (await next_view(stream))["slots"]}
    assert slots["pizza_type"] == "margherita" and slots["pizza_size"] == "large"
    stream.close()


async def test_the_stream_shows_turns_another_process_handled(
    starter_model: Path, tmp_path: Path
) -> None:
    """Two servers on one SQLite tracker store, as two workers: the page on one sees the
    turns the other handled, since it reads the store and not its own memory."""
    endpoints = tmp_path / "endpoints.yml"
    database = tmp_path / "shared.db"
    endpoints.write_text(f"tracker_store:\n  type: sql\n  dialect: sqlite\n  db: {database}\n")
    inspector = await start_client(
        starter_model, await open_processor(starter_model, endpoints), inspect=True
    )
    worker = await start_client(starter_model, await open_processor(starter_model, endpoints))
    try:
        stream = await inspector.get("/inspect/api/conversations/elsewhere/stream")
        assert (await next_view(stream))["turns"] == []
        await rest(worker, "elsewhere", "hello")
        view = await next_view(stream)
        assert [t["user"]["text"] for t in view["turns"] if t["user"]] == ["hello"]
        assert view["turns"][-1]["bot"][0]["utter_action"] == "utter_greet"
        stream.close()
    finally:
        await worker.close()
        await inspector.close()


def test_tandem_run_inspect_is_behind_the_token_and_streams_end_at_shutdown(
    starter_project: Path, tmp_path: Path
) -> None:
    project = Path(shutil.copytree(starter_project, tmp_path / "bot"))
    port = free_port()
    server = tandem(project, "--port", str(port), "--enable-api", "--inspect",
                    "--auth-token", TOKEN, "--graceful-timeout", "25")  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not answers(port):
            assert server.poll() is None and time.monotonic() < deadline, "did not start"
            time.sleep(0.1)
        assert request(port, "GET", "/inspect/api/conversations")[0] == 401
        assert request(port, "GET", f"/inspect/api/conversations?token={TOKEN}") == (200, [])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/inspect/api/conversations/leaving/stream", headers=AUTH)
        stream = connection.getresponse()
        assert stream.status == 200 and stream.readline() == b"event: conversation\n"
        started = time.monotonic()
    finally:
        code = stop_gracefully(server)
    # The open stream ends at once instead of holding the shutdown for its 25 s.
    assert time.monotonic() - started < 10
    output = server.stdout.read() if server.stdout else ""
    assert code == 0, output
    assert f"Inspect the conversations at http://127.0.0.1:{port}/inspect" in output


def test_tandem_inspect_is_run_with_the_page_on_the_loopback_address() -> None:
    parser = build_parser()
    inspect = parser.parse_args(["inspect", "--port", "5010"])
    assert (inspect.inspect, inspect.host, inspect.port) == (True, "127.0.0.1", 5010)
    run = parser.parse_args(["run"])
    assert (run.inspect, run.host) == (False, "0.0.0.0")
    assert parser.parse_args(["run", "--inspect"]).inspect is True


async def test_the_export_downloads_a_test_file(make_client) -> None:
    client = await make_client(inspect=True)
    await rest(client, "exported", "hello")
    response = await client.get("/inspect/api/conversations/exported/e2e.yml")
    assert response.status == 200
    assert 'filename="exported.yml"' in response.headers["Content-Disposition"]
    case = yaml.safe_load(await response.text())["test_cases"][0]
    assert case["steps"][0]["user"] == "hello"
    assert {"bot_uttered": {"utter_name": "utter_greet"}} in case["steps"][0]["assertions"]


async def test_the_flow_picture_is_served(make_client) -> None:
    client = await make_client(inspect=True)
    response = await client.get("/inspect/api/flows/order_pizza.svg?step=START")
    assert response.status == 200 and response.content_type == "image/svg+xml"
    assert 'class="current"' in await response.text()
    assert (await client.get("/inspect/api/flows/no_such_flow.svg")).status == 404
