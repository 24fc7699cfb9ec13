"""Profile the hot paths: an NLU-routed turn and a CALM turn, with pyinstrument.

Runs the same conversations as bench/turns.py and bench/calm.py under a sampling profiler
and writes the call trees to bench/profiles/{nlu_turn,calm_turn}.txt (the README's
performance section summarises them). Needs pyinstrument (``pip install -e '.[bench]'``).

    .venv/bin/python bench/profile_turns.py [--turns 400]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from common import (
    BENCH,
    NLU_CONVERSATION,
    quiet_logs,
    train_project,
    write_starter,
)
from pyinstrument import Profiler

from calm import CONVERSATION, endpoints, llm_stub

OUT = BENCH / "profiles"


async def profile(processor: Any, script: list[str], turns: int, name: str) -> float:
    from tandem.runtime.message import UserMessage

    async def conversation(tag: str) -> None:
        sender = f"{tag}-{time.time_ns()}"
        for text in script:
            await processor.handle_message(UserMessage(text, sender))

    for index in range(10):  # warm up
        await conversation(f"warm-{index}")
    profiler = Profiler(interval=0.0001, async_mode="enabled")
    conversations = max(1, turns // len(script))
    started = time.perf_counter()
    profiler.start()
    for index in range(conversations):
        await conversation(f"run-{index}")
    profiler.stop()
    per_turn = (time.perf_counter() - started) * 1000 / (conversations * len(script))
    OUT.mkdir(exist_ok=True)
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    turns_run = conversations * len(script)
    header = f"# {name}: {turns_run} turns, {per_turn:.2f} ms per turn under the profiler\n"
    (OUT / f"{name}.txt").write_text(header + text, encoding="utf-8")
    return per_turn


async def main_async(turns: int) -> dict[str, float]:
    from tandem.model.loading import open_processor

    report = {}
    with tempfile.TemporaryDirectory(prefix="tandem-profile-") as directory:
        root = write_starter(Path(directory) / "starter")
        train_project(root)
        processor = await open_processor(root / "models", root / "endpoints.yml")
        try:
            report["nlu_turn"] = await profile(processor, list(NLU_CONVERSATION), turns, "nlu_turn")
        finally:
            await processor.aclose()

        with llm_stub() as port:
            calm_root = Path(directory) / "calm"
            shutil.copytree(BENCH / "projects" / "calm", calm_root)
            (calm_root / "endpoints.yml").write_text(endpoints(port), encoding="utf-8")
            train_project(calm_root)
            processor = await open_processor(calm_root / "models", calm_root / "endpoints.yml")
            try:
                script = [text for text, _, _ in CONVERSATION]
                report["calm_turn"] = await profile(processor, script, turns, "calm_turn")
            finally:
                await processor.aclose()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=400)
    args = parser.parse_args()
    quiet_logs()
    report = asyncio.run(main_async(args.turns))
    print(json.dumps(report))
    print(f"profiles written to {OUT}")


if __name__ == "__main__":
    main()
