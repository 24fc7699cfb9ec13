"""The README's conversations with the starter are what ``tandem shell`` really says.

Every ``$ tandem shell`` block of the README is replayed on a freshly initialised and trained
starter: the messages after ``Your input ->`` are typed in, and the bot's lines must be the
ones the README shows, in order.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tandem.cli.main import main

README = Path(__file__).resolve().parents[2] / "README.md"
PROMPT = "Your input -> "


def transcripts() -> list[list[tuple[str, list[str]]]]:
    """Each shell block of the README as (message, the bot's lines) pairs."""
    blocks = re.findall(r"```\n\$ tandem shell\n(.*?)```", README.read_text(), flags=re.S)
    conversations = []
    for block in blocks:
        turns: list[tuple[str, list[str]]] = []
        for line in block.splitlines():
            if line.startswith(PROMPT):
                turns.append((line[len(PROMPT) :], []))
            elif turns:
                turns[-1][1].append(line)
        conversations.append(turns)
    return conversations


@pytest.fixture(scope="module")
def starter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("readme") / "mybot"
    assert main(["init", str(project)]) == 0
    with contextlib.chdir(project):
        assert main(["train"]) == 0
    return project


def test_the_readme_has_shell_transcripts() -> None:
    assert len(transcripts()) >= 2
    assert all(len(turns) >= 3 for turns in transcripts())


@pytest.mark.parametrize("index", range(len(transcripts())))
def test_a_readme_transcript_is_what_the_shell_says(starter: Path, index: int) -> None:
    turns = transcripts()[index]
    typed = "".join(f"{message}\n" for message, _ in turns)
    shell = [sys.executable, "-m", "tandem.cli.main", "shell"]
    done = subprocess.run(
        shell, cwd=starter, input=typed, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    # Piped input is not echoed: after each prompt come the bot's lines for that message.
    replies = [chunk.splitlines() for chunk in done.stdout.split(PROMPT)[1:]]
    for (message, expected), said in zip(turns, replies, strict=False):
        assert said == expected, f"after {message!r}"
    assert len(replies) == len(turns) + 1  # and the last prompt, answered by end of input
