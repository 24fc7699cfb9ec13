"""``tandem run`` as a user starts it: a real process on a free port, stopped with SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from server_testkit import answers, free_port, request, running, tandem

REDIS_URL = urlsplit(os.environ.get("TANDEM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))


def say(port: int, sender: str, text: str) -> list[str]:
    status, messages = request(
        port, "POST", "/webhooks/rest/webhook", {"sender": sender, "message": text}
    )
    assert status == 200
    return [m.get("text") for m in messages]


@pytest.fixture
def project(starter_project: Path, tmp_path: Path) -> Path:
    """A copy of the trained starter project (its SQLite store is written by the server)."""
    return Path(shutil.copytree(starter_project, tmp_path / "bot"))


def test_tandem_run_talks_rest_and_keeps_conversations_across_restarts(project: Path) -> None:
    with running(project) as port:
        assert say(port, "u", "hello")[0].startswith("Hello! I'm the Tandem pizzeria assistant.")
        assert say(port, "u", "I would like to order a pizza")[0].startswith("Which pizza")
        assert request(port, "GET", "/status")[0] == 404  # no --enable-api
    with running(project, "--enable-api") as port:
        assert say(port, "u", "a large margherita") == ["One large margherita, is that right?"]
        status, tracker = request(port, "GET", "/conversations/u/tracker?include_events=ALL")
        assert status == 200
        users = [e["text"] for e in tracker["events"] if e["event"] == "user"]
        assert users == ["hello", "I would like to order a pizza", "a large margherita"]


def test_a_missing_model_stops_the_start_with_a_message(project: Path) -> None:
    server = tandem(project, "--port", str(free_port()), "--model", "nowhere")
    output, _ = server.communicate(timeout=60)
    assert server.returncode == 1 and "No model archive found at nowhere" in output


def test_several_workers_need_a_shared_lock_store(project: Path) -> None:
    server = tandem(project, "--port", str(free_port()), "--workers", "2")
    output, _ = server.communicate(timeout=60)
    assert server.returncode == 1 and "lock store shared by the workers" in output


def with_redis_lock(project: Path) -> None:
    endpoints = project / "endpoints.yml"
    endpoints.write_text(
        endpoints.read_text() + f"\nlock_store:\n  type: redis\n  url: {REDIS_URL.hostname}\n"
        f"  port: {REDIS_URL.port or 6379}\n  key_prefix: tandemtest{uuid.uuid4().hex[:8]}\n"
    )


def worker_pids(port: int) -> set[int]:
    """Both workers' process ids: each new connection lands on either (once both loaded)."""
    pids: set[int] = set()
    deadline = time.monotonic() + 60
    while len(pids) < 2 and time.monotonic() < deadline:
        pids.add(request(port, "GET", "/status")[1]["worker_pid"])
    assert len(pids) == 2
    return pids


def test_workers_share_the_port_and_the_conversations(project: Path) -> None:
    with_redis_lock(project)
    with running(project, "--workers", "2", "--enable-api") as port:
        worker_pids(port)
        sender = uuid.uuid4().hex
        assert say(port, sender, "I would like to order a pizza")[0].startswith("Which pizza")
        assert say(port, sender, "a large margherita") == ["One large margherita, is that right?"]
        assert say(port, sender, "yes")[0].startswith("Great, your large margherita")


def test_a_crashed_worker_stops_the_server_with_exit_code_1(project: Path) -> None:
    """A worker that dies (SIGKILL, as an OOM kill would) is not replaced: the others are
    stopped and ``tandem run`` exits 1, for a supervisor to start it again."""
    with_redis_lock(project)
    port = free_port()
    server = tandem(project, "--port", str(port), "--workers", "2", "--enable-api")
    try:
        deadline = time.monotonic() + 60
        while not answers(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        crashed, other = sorted(worker_pids(port))
        os.kill(crashed, signal.SIGKILL)
        output, _ = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 1
    assert f"worker {crashed} stopped with exit code -9" in output
    with pytest.raises(ProcessLookupError):
        os.kill(other, 0)  # the other worker is gone too
