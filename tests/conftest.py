"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from fake_llm_server import FakeLLMServer
from local_servers import ActionServer, free_port

# Test modules use these fixtures by name only: importing ``conftest`` would find whichever
# folder's conftest was loaded last.


@pytest.fixture
def unused_port() -> int:
    """A local TCP port nothing listens on."""
    return free_port()


@pytest.fixture(scope="session")
def sdk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[Path, str], str]]:
    """Starts real rasa-sdk action servers, one per actions module, for the whole session:
    ``sdk_server(folder, module)`` is the webhook URL of the server for ``module``."""
    running: dict[tuple[Path, str], ActionServer] = {}

    def start(folder: Path, module: str) -> str:
        if (folder, module) not in running:
            server = ActionServer(folder, module, tmp_path_factory.mktemp("sdk") / "server.log")
            server.start()
            running[folder, module] = server
        return running[folder, module].url

    yield start
    for server in running.values():
        server.stop()


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
