"""Fixture projects modelled on public Rasa projects, trained and run with their own e2e tests.

The LLM is the acceptance suite's oracle server (``tools/oracle_llm.py``), answering from the
project's ``oracle.yml`` as a perfect LLM would; everything else is the real thing:
``tandem train`` writes an archive, ``tandem test e2e`` loads it and runs the test files.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shared_files import ACCEPTANCE, require
from tandem.cli.main import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "projects"


@pytest.fixture
def oracle(unused_port: int) -> Iterator[Callable[[Path], int]]:
    """``oracle(file)`` serves the oracle file on a free port and returns the port."""
    servers: list[subprocess.Popen[bytes]] = []

    def start(oracle_file: Path) -> int:
        tool = require(ACCEPTANCE / "tools" / "oracle_llm.py")
        command = [sys.executable, str(tool), str(oracle_file)]
        servers.append(subprocess.Popen([*command, "--port", str(unused_port)]))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", unused_port)) == 0:
                    return unused_port
            time.sleep(0.05)
        pytest.fail("the oracle LLM server did not start")

    yield start
    for server in servers:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.parametrize(
    ("project", "train", "tests", "count"),
    [
        ("pizza_triggers", [], "e2e_tests", 13),
        # NLU only: retrieval intents, responses listed under `actions:`, two-stage fallback.
        ("helpdesk_faq", [], "e2e_tests", 5),
        (
            "pizza_triggers",
            ["--config", "config-intent-router.yml", "--domain", "domain_coexistence"],
            "e2e_tests_intent_router",
            7,
        ),
        pytest.param(
            "pizza_triggers",
            [],
            "e2e_tests_known_misses",
            1,
            marks=pytest.mark.xfail(strict=True, reason="same object, other verb: see README"),
        ),
        ("pizza_triggers", ["--config", "config-dense.yml"], "e2e_tests", 13),
        # With sentence embeddings the known miss of the counts is told apart.
        ("pizza_triggers", ["--config", "config-dense.yml"], "e2e_tests_known_misses", 1),
    ],
)
def test_the_fixture_passes_its_e2e_tests(
    project: str,
    train: list[str],
    tests: str,
    count: int,
    tmp_path: Path,
    oracle: Callable[[Path], int],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / project
    shutil.copytree(FIXTURES / project, root)
    if (root / "oracle.yml").exists():  # projects with an LLM
        port = oracle(root / "oracle.yml")
        endpoints = root / "endpoints.yml"
        endpoints.write_text(endpoints.read_text().replace("127.0.0.1:8080", f"127.0.0.1:{port}"))
    monkeypatch.chdir(root)
    monkeypatch.setenv("OPENAI_API_KEY", "unused-by-the-oracle")
    assert main(["train", *train, "--fixed-model-name", "model"]) == 0
    capsys.readouterr()
    code = main(["test", "e2e", tests, "--model", "models/model.tar.gz"])
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == f"0 failed, {count} passed", out
    assert code == 0
