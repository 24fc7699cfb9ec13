"""Text the tracker stores cannot hold is refused at the door, the same for every store.

A NUL character cannot be stored in PostgreSQL text and lone surrogates are not UTF-8: a
conversation id with either is a 400 with its reason on the REST channel and the HTTP API,
on SQLite, PostgreSQL and Redis alike, and nothing is stored. Such characters inside a
message's text are kept (JSON escapes them) and come back as they were sent.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as redis
from aiohttp.test_utils import TestClient
from server_testkit import start_client

from tandem.model.loading import open_processor

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
STORES = {
    "sqlite": "tracker_store:\n  type: sql\n  dialect: sqlite\n  db: {tmp}/bad-input.db\n",
    "postgresql": (
        "tracker_store:\n  type: sql\n  dialect: postgresql\n  url: 127.0.0.1\n"
        "  port: 5432\n  db: test\n  username: postgres\n"
    ),
    "redis": (
        "tracker_store:\n  type: redis\n  url: 127.0.0.1\n  port: 6379\n  key_prefix: {prefix}\n"
    ),
}


@pytest.fixture(params=list(STORES))
async def client(
    request: pytest.FixtureRequest, starter_model: Path, tmp_path: Path
) -> AsyncIterator[tuple[TestClient, str]]:
    prefix = f"bad{uuid.uuid4().hex[:8]}"
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(STORES[request.param].format(tmp=tmp_path, prefix=prefix))
    test_client = await start_client(starter_model, await open_processor(starter_model, endpoints))
    sender = f"probe-{uuid.uuid4().hex}"
    try:
        yield test_client, sender
    finally:
        await test_client.close()
        if request.param == "postgresql":
            connection = await asyncpg.connect(POSTGRES_URL)
            await connection.execute("DELETE FROM events WHERE sender_id LIKE $1", f"{sender}%")
            await connection.close()
        elif request.param == "redis":
            keys = redis.Redis(host="127.0.0.1", port=6379)
            found = [key async for key in keys.scan_iter(match=f"{prefix}*")]
            if found:
                await keys.delete(*found)
            await keys.aclose()


async def test_conversation_ids_no_store_can_hold_are_refused(
    client: tuple[TestClient, str],
) -> None:
    http, sender = client
    for bad, reason in (
        (f"{sender}\u0000x", "contains a NUL character"),
        (f"{sender}\ud800", "not valid"),
    ):
        body = json.dumps({"sender": bad, "message": "hello"}).encode()  # \ud800 stays escaped
        response = await http.post(
            "/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}
        )
        assert response.status == 400
        assert reason in (await response.json())["message"]
    response = await http.get(f"/conversations/{sender}%00x/tracker")
    assert response.status == 400
    assert "contains a NUL character" in (await response.json())["message"]
    # Nothing was stored under any of them.
    tracker = await (await http.get(f"/conversations/{sender}/tracker")).json()
    assert [e for e in tracker["events"] if e["event"] == "user"] == []


async def test_nul_in_a_message_text_is_kept(client: tuple[TestClient, str]) -> None:
    http, sender = client
    body = {"sender": sender, "message": "hello\u0000there"}
    assert (await http.post("/webhooks/rest/webhook", json=body)).status == 200
    tracker = await (await http.get(f"/conversations/{sender}/tracker")).json()
    assert [e["text"] for e in tracker["events"] if e["event"] == "user"] == ["hello\u0000there"]
