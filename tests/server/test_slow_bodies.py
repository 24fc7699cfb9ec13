"""A body announced longer than what arrives is a quick 408, and its connection is closed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from server_testkit import start_client

from tandem.server import requests


async def test_a_body_that_never_arrives_gets_408(
    starter_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(requests, "BODY_TIMEOUT", 0.5)
    client = await start_client(starter_model)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
        writer.write(
            b"POST /webhooks/rest/webhook HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
            b'{"sender": "slow", '
        )
        await writer.drain()
        started = time.monotonic()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
        assert time.monotonic() - started < 3
        assert head.startswith(b"HTTP/1.1 408")
        assert b"Connection: close" in head
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        body = await reader.readexactly(length)
        assert b'"reason": "RequestTimeout"' in body
        assert b"did not arrive within 0.5 seconds" in body
        writer.close()
        # Nothing of the half-sent message was handled.
        tracker = await (await client.get("/conversations/slow/tracker")).json()
        assert [e for e in tracker["events"] if e["event"] == "user"] == []
    finally:
        await client.close()
