"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from fake_llm_server import FakeLLMServer

# Test modules use these fixtures by name only: importing ``conftest`` would find whichever
# folder's conftest was loaded last.


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def unused_port() -> int:
    """A local TCP port nothing listens on."""
    return _free_port()


@pytest.fixture(scope="session")
def sdk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[Path, str], str]]:
    """Starts real rasa-sdk action servers, one per actions module, for the whole session:
    ``sdk_server(folder, module)`` is the webhook URL of the server for ``module``."""
    running: dict[tuple[Path, str], tuple[subprocess.Popen[bytes], str]] = {}

    def start(folder: Path, module: str) -> str:
        if (folder, module) in running:
            return running[folder, module][1]
        port = _free_port()
        log_path = tmp_path_factory.mktemp("sdk") / "server.log"
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "rasa_sdk", "--actions", module, "--port", str(port)],
                cwd=folder,
                env={**os.environ, "SANIC_HOST": "127.0.0.1"},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so its workers stop with it
            )
        url = f"http://127.0.0.1:{port}/webhook"
        running[folder, module] = (server, url)
        deadline = time.monotonic() + 60
        while not _healthy(port):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"rasa-sdk server did not start:\n{log_path.read_text()}")
            time.sleep(0.2)
        return url

    yield start
    for server, _ in running.values():
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


# -- LLMs ----------------------------------------------------------------------------------

_LLM_VARIABLES = (
    "TANDEM_LLM_CASSETTE",
    "TANDEM_LLM_MODE",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_BASE",
    "AZURE_API_KEY",
    "AZURE_API_BASE",
    "AZURE_API_VERSION",
)


@pytest.fixture
def no_ambient_llm_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own LLM settings (keys, cassettes) do not leak into the test."""
    for name in _LLM_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def llm_server(
    unused_port: int, no_ambient_llm_settings: None
) -> AsyncIterator[FakeLLMServer]:
    """A scripted OpenAI-compatible server on loopback (see fake_llm_server.py)."""
    server = FakeLLMServer(unused_port)
    await server.start()
    yield server
    await server.stop()
