"""CALM turn framework overhead: a turn's time minus the time its LLM calls took.

A CALM assistant (bench/projects/calm: CompactLLMCommandGenerator + FlowPolicy, SQLite
store) talks to bench/llm_stub.py, an OpenAI-compatible server in another process that
answers at once. Each conversation orders a pizza and checks an order (4 turns, each with one
LLM call). The overhead of a turn is its wall time minus the wall time of its LLM calls as the
client saw them (HTTP round trip over loopback included in the latter); the LLM calls and
prompt tokens per turn are counted at the client. The same conversations run, interleaved,
on a second processor with the in-memory tracker store (the framework without persistence).
Figures are the median of 5 rounds' percentiles (3 with ``--quick``).

    .venv/bin/python bench/calm.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from common import (
    BENCH,
    PYTHON,
    emit,
    free_port,
    percentiles,
    quiet_logs,
    train_project,
    wait_for_port,
)

# (user message, the stub's answer, a text the bot must answer with)
CONVERSATION = (
    ("I'd like to order a pizza", "start flow order_pizza", "Which pizza"),
    (
        "a large pepperoni please",
        "set slot pizza_type pepperoni\nset slot pizza_size large",
        "is that right",
    ),
    ("yes, that's right", "set slot order_confirmed True", "in the oven"),
    ("where is my order 4711?", "start flow check_order\nset slot order_number 4711", "Order 4711"),
)


def endpoints(port: int, store: str = "sqlite") -> str:
    tracker_store = (
        "tracker_store:\n  type: sql\n  dialect: sqlite\n  db: conversations.db\n"
        if store == "sqlite"
        else ""
    )
    return (
        tracker_store + "model_groups:\n  - id: bench_llm\n    models:\n"
        f"      - provider: openai\n        model: stub\n        api_base: http://127.0.0.1:{port}/v1\n"
        "        api_key: sk-bench\n        timeout: 10\n        max_retries: 0\n"
    )


@contextlib.contextmanager
def llm_stub() -> Iterator[int]:
    """bench/llm_stub.py answering CONVERSATION's messages, in another process: its port."""
    port = free_port()
    rules = [[text, answer] for text, answer, _ in CONVERSATION]
    stub = subprocess.Popen(
        [PYTHON, str(BENCH / "llm_stub.py"), "--port", str(port), "--rules", json.dumps(rules)]
    )
    try:
        if not wait_for_port(port, 20):
            raise RuntimeError("the LLM stub did not start")
        yield port
    finally:
        stub.terminate()
        stub.wait(10)


class LLMMeter:
    """Times and counts every ``LLMClient.complete`` call (wraps the class's method)."""

    def __init__(self) -> None:
        from tandem.llm.client import LLMClient

        self.calls = 0
        self.prompt_tokens = 0
        self.seconds = 0.0
        original = LLMClient.complete
        meter = self

        async def complete(client: Any, prompt: str, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                completion = await original(client, prompt, **kwargs)
            finally:
                meter.seconds += time.perf_counter() - started
                meter.calls += 1
            meter.prompt_tokens += completion.usage.prompt_tokens
            return completion

        LLMClient.complete = complete  # type: ignore[method-assign]

    def reset(self) -> tuple[int, int, float]:
        taken = (self.calls, self.prompt_tokens, self.seconds)
        self.calls, self.prompt_tokens, self.seconds = 0, 0, 0.0
        return taken


class Samples:
    """One store's measurements, kept per round."""

    def __init__(self) -> None:
        self.rounds: list[dict[str, list[float]]] = []

    def new_round(self) -> None:
        self.rounds.append({"overhead": [], "total": [], "llm": [], "calls": [], "tokens": []})

    def add(self, total: float, llm: float, calls: int, tokens: int) -> None:
        current = self.rounds[-1]
        current["total"].append(total)
        current["llm"].append(llm)
        current["overhead"].append(total - llm)
        current["calls"].append(calls)
        current["tokens"].append(tokens)

    def report(self) -> dict[str, Any]:
        every = {key: [x for r in self.rounds for x in r[key]] for key in self.rounds[0]}
        per_round = [percentiles(r["overhead"]) for r in self.rounds]
        overhead = percentiles(every["overhead"])
        # The median of the rounds' percentiles: the machine's speed drifts, and a round that
        # a noisy moment slowed down should not decide the figure.
        for key in ("p50", "p95", "p99", "mean"):
            overhead[key] = round(statistics.median(r[key] for r in per_round), 3)
        overhead["p50_of_each_round"] = [r["p50"] for r in per_round]
        return {
            "calm_overhead_ms": overhead,
            "calm_turn_ms": percentiles(every["total"]),
            "llm_roundtrip_ms": percentiles(every["llm"]),
            "llm_calls_per_calm_turn": round(statistics.fmean(every["calls"]), 3),
            "prompt_tokens_per_calm_turn": round(statistics.fmean(every["tokens"]), 1),
        }


async def measure(root: Path, rounds: int, conversations: int, meter: LLMMeter) -> dict[str, Any]:
    """The SQLite and the in-memory assistant take turns conversation by conversation, so
    the machine's drifting speed weighs on both alike."""
    from tandem.model.loading import open_processor
    from tandem.runtime.message import UserMessage

    processors = {
        "sqlite": await open_processor(root / "models", root / "endpoints.yml"),
        "in_memory": await open_processor(root / "models", root / "endpoints-memory.yml"),
    }
    samples = {name: Samples() for name in processors}

    async def conversation(name: str, sender: str, keep: bool) -> None:
        for text, _, expected in CONVERSATION:
            meter.reset()
            started = time.perf_counter()
            result = await processors[name].handle_message(UserMessage(text, sender))
            total = (time.perf_counter() - started) * 1000
            count, prompt_tokens, llm_seconds = meter.reset()
            answers = " ".join(m.text or "" for m in result.messages)
            if expected not in answers:
                raise RuntimeError(f"{text!r} was answered {answers!r}")
            if keep:
                samples[name].add(total, llm_seconds * 1000, count, prompt_tokens)

    try:
        for index in range(5):  # warm up
            for name in processors:
                await conversation(name, f"warm-{index}", keep=False)
        for round_index in range(rounds):
            for name in processors:
                samples[name].new_round()
            for index in range(conversations):
                order = list(processors) if index % 2 == 0 else list(reversed(processors))
                for name in order:
                    await conversation(name, f"calm-{round_index}-{index}-{time.time_ns()}", True)
    finally:
        for processor in processors.values():
            await processor.aclose()
    return {name: found.report() for name, found in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out")
    args = parser.parse_args()
    quiet_logs()
    with llm_stub() as port, tempfile.TemporaryDirectory(prefix="tandem-bench-calm-") as directory:
        root = Path(directory) / "calm"
        shutil.copytree(BENCH / "projects" / "calm", root)
        (root / "endpoints.yml").write_text(endpoints(port), encoding="utf-8")
        (root / "endpoints-memory.yml").write_text(endpoints(port, "memory"), "utf-8")
        train_project(root)
        meter = LLMMeter()
        rounds, count = (3, 15) if args.quick else (5, 50)
        measured = asyncio.run(measure(root, rounds, count, meter))
        result, memory = measured["sqlite"], measured["in_memory"]
    result["calm_overhead_ms_p50"] = result["calm_overhead_ms"]["p50"]
    result["calm_overhead_ms_p99"] = result["calm_overhead_ms"]["p99"]
    # The same turns with the in-memory tracker store: the framework without persistence.
    result["in_memory_store"] = memory
    result["calm_overhead_ms_p50_in_memory"] = memory["calm_overhead_ms"]["p50"]
    emit(result, args.out)


if __name__ == "__main__":
    main()
