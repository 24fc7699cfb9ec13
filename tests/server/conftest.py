from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from server_testkit import start_client, train_starter


@pytest.fixture(scope="session")
def starter_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``tandem init`` project, trained once for all server tests."""
    folder = tmp_path_factory.mktemp("starter")
    train_starter(folder)
    return folder


@pytest.fixture
def starter_model(starter_project: Path) -> Path:
    return starter_project / "models" / "m.tar.gz"


ClientFactory = Callable[..., Awaitable[TestClient]]


@pytest.fixture
async def make_client(starter_model: Path) -> AsyncIterator[ClientFactory]:
    """``await make_client(**create_app options)``: a server on the starter model (in-memory
    stores), closed after the test."""
    clients: list[TestClient] = []

    async def make(**options: Any) -> TestClient:
        model = options.pop("model", starter_model)
        client = await start_client(model, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def client(make_client: ClientFactory) -> TestClient:
    """The API server with no auth and the default channels (REST)."""
    return await make_client()
