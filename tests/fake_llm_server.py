"""A scripted OpenAI-compatible server on loopback, for tests of anything that calls an LLM.

The ``llm_server`` fixture of tests/conftest.py starts one per test."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON; None = the default answer for the route
    delay: float = 0.0


@dataclass
class Seen:
    """One request as the server received it."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]
    client_port: int  # the client's side of the TCP connection: equal ports = reused connection


@dataclass
class FakeLLMServer:
    """Answers chat completions and embeddings as scripted, and records every request.

    Without a script, a chat answer echoes the prompt and embeddings are ``[len(text), i]``.
    """

    port: int
    script: list[Reply] = field(default_factory=list)
    requests: list[Seen] = field(default_factory=list)
    runner: web.AppRunner | None = None

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def then(self, status: int = 200, body: Any = None, *, delay: float = 0.0) -> None:
        self.script.append(Reply(status, body, delay))

    def then_answer(self, text: str | None, model: str = "served-model") -> None:
        self.then(body=chat_reply(text, model))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, handler_cancellation=True)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        self.runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        peer = request.transport.get_extra_info("peername") if request.transport else None
        port = int(peer[1]) if peer else 0
        self.requests.append(
            Seen(request.path, dict(request.query), dict(request.headers), body, port)
        )
        reply = self.script.pop(0) if self.script else Reply()
        await asyncio.sleep(reply.delay)
        if reply.body is None and reply.status == 200:
            reply.body = _default_reply(request.path, body)
        return web.json_response(reply.body, status=reply.status)


def chat_reply(text: str | None, model: str = "served-model") -> dict[str, Any]:
    choices = (
        [] if text is None else [{"index": 0, "message": {"role": "assistant", "content": text}}]
    )
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": model,
        "choices": choices,
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
    }


def _default_reply(path: str, body: dict[str, Any]) -> dict[str, Any]:
    if path.endswith("/embeddings"):
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(text)), float(i)]}
            for i, text in enumerate(body["input"])
        ]
        return {
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": 4, "total_tokens": 4},
        }
    return chat_reply(f"echo: {body['messages'][-1]['content']}")


@contextlib.contextmanager
def served_in_a_thread(server: FakeLLMServer) -> Iterator[FakeLLMServer]:
    """``server`` answering on an event loop of its own, for tests that block while a child
    process (a shell, a server) waits for the LLM."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result()
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
