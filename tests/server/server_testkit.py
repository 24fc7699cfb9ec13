"""Helpers for the server tests: a trained starter project and in-process servers."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from local_servers import answers, free_port
from tandem.cli.main import main
from tandem.model.loading import open_processor
from tandem.runtime.processor import MessageProcessor
from tandem.server import create_app

JWT_SECRET = "a-test-secret-of-at-least-32-bytes!!"


def train_starter(folder: Path) -> Path:
    """``tandem init`` + ``tandem train`` into ``folder``; returns the archive."""
    assert main(["init", str(folder)]) == 0
    with contextlib.chdir(folder):
        assert main(["train", "--fixed-model-name", "m"]) == 0
    return folder / "models" / "m.tar.gz"


async def start_client(
    model: Path | None, processor: MessageProcessor | None = None, **options: Any
) -> TestClient:
    """A real server on a loopback port for ``model`` (or ``processor``) and a client for it."""
    if processor is None and model is not None:
        processor = await open_processor(model)
    options.setdefault("enable_api", True)
    options.setdefault("model_file", model.name if model is not None else None)
    app: web.Application = create_app(processor, model_loader=open_processor, **options)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


def make_jwt(username: str, role: str, *, secret: str = JWT_SECRET, **claims: Any) -> str:
    payload = {"user": {"username": username, "role": role}, **claims}
    return jwt.encode(payload, secret, algorithm="HS256")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def expired_claims() -> dict[str, Any]:
    return {"exp": int(time.time()) - 60}


def event_names(tracker: dict[str, Any]) -> list[str]:
    """``event`` or ``event:name`` for each event of a tracker JSON."""
    return [f"{e['event']}:{e['name']}" if e.get("name") else e["event"] for e in tracker["events"]]


def texts(messages: list[dict[str, Any]]) -> list[str | None]:
    return [m.get("text") for m in messages]


# -- `tandem run` processes ----------------------------------------------------------


def request(port: int, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def tandem(project: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tandem.cli.main", "run", "--host", "127.0.0.1", *args],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


@contextlib.contextmanager
def running(project: Path, *args: str) -> Iterator[int]:
    """A ``tandem run`` process on a free port until the block ends with SIGTERM, after which
    it must exit cleanly."""
    port = free_port()
    server = tandem(project, "--port", str(port), *args)
    try:
        deadline = time.monotonic() + 60
        while not answers(port):
            if server.poll() is not None or time.monotonic() > deadline:
                output = server.stdout.read() if server.stdout else ""
                pytest.fail(f"tandem run did not start:\n{output}")
            time.sleep(0.1)
        yield port
    finally:
        code = stop_gracefully(server)
    output = server.stdout.read() if server.stdout else ""
    assert code == 0, output
    assert "up and running" in output


def stop_gracefully(server: subprocess.Popen[str]) -> int:
    """SIGTERM the server and wait for it (30 s, then kill it and raise); its exit code."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
    try:
        return server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        raise
