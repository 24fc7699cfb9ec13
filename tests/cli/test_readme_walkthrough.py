"""The README's walkthrough, run as written: its shell blocks in a new starter project, then
its conversation typed into ``tandem shell``, against a scripted OpenAI-compatible server that
stands in for the LLM (``OPENAI_BASE_URL`` points at it, as the walkthrough says it may)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from fake_llm_server import FakeLLMServer, chat_reply, served_in_a_thread
from local_servers import free_port
from tandem.cli.main import main

README = Path(__file__).resolve().parents[2] / "README.md"
PROMPT = "Your input -> "
# What the LLM answers to each message it reads (the compact generator's command language).
ANSWERS = {
    "we'll be four, two adults and two kids": "set slot party_size 4",
    "around eight in the evening": "set slot booking_time 8pm",
}


def walkthrough() -> str:
    text = README.read_text()
    start = text.index("## Walkthrough")
    return text[start : text.index("\n## ", start + 1)]


def commands() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", walkthrough(), flags=re.S)


def conversation() -> tuple[str, list[tuple[str, list[str]]]]:
    """The walkthrough's conversation: its command line and (message, bot lines) pairs."""
    block = re.search(r"```\n\$ (.*?)\n(.*?)```", walkthrough(), flags=re.S)
    assert block is not None, "no conversation in the walkthrough"
    turns: list[tuple[str, list[str]]] = []
    for line in block[2].splitlines():
        if line.startswith(PROMPT):
            turns.append((line[len(PROMPT) :], []))
        elif turns:
            turns[-1][1].append(line)
    return block[1], turns


@dataclass
class ScriptedLLM(FakeLLMServer):
    """Answers each prompt by the user message in it (the one in triple quotes)."""

    messages: list[str] = field(default_factory=list)  # the user messages it was asked about

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        prompt = (await request.json())["messages"][-1]["content"]
        message = prompt.split('"""')[1]
        self.messages.append(message)
        return web.json_response(chat_reply(ANSWERS.get(message, "")))


def test_the_walkthrough_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_ambient_llm_settings: None
) -> None:
    assert len(commands()) >= 3
    project = tmp_path / "mybot"
    assert main(["init", str(project)]) == 0
    with served_in_a_thread(ScriptedLLM(free_port())) as llm:
        environment = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "OPENAI_API_KEY": "sk-walkthrough",
            "OPENAI_BASE_URL": llm.api_base,
        }
        for block in commands():
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", block],
                cwd=project,
                env=environment,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, f"{block}\n{done.stdout}\n{done.stderr}"
            assert ": warning:" not in done.stdout + done.stderr, done.stdout + done.stderr
        command, turns = conversation()
        assert command == "tandem train && tandem shell"
        typed = "".join(f"{message}\n" for message, _ in turns)
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=project,
            env=environment,
            input=typed,
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert done.returncode == 0, done.stderr
    replies = [chunk.splitlines() for chunk in done.stdout.split(PROMPT)[1:]]
    for (message, expected), said in zip(turns, replies, strict=False):
        assert said == expected, f"after {message!r}"
    assert len(replies) == len(turns) + 1
    # The LLM read only the answers to the flow's questions: the rule's question and the
    # booking request were the NLU's.
    assert llm.messages == list(ANSWERS)
