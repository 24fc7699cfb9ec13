"""In-process turn benchmarks of the starter assistant (NLU-routed messages, no LLM).

* latency of a whole turn (lock, load, parse, route, policies, actions, save) with the
  default SQLite tracker store: p50/p95/p99 over short conversations;
* the tracker store's cost per turn (load + save) for SQLite, PostgreSQL and Redis;
* how the latency of one more turn grows with the tracker's length (10, 1,000 and 10,000
  events in the current session; the events are real turns' events, written through the
  store).

    .venv/bin/python bench/turns.py [--quick] [--stores sqlite postgresql redis]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from common import NLU_CONVERSATION, emit, percentiles, quiet_logs, train_project, write_starter

POSTGRES_URL = os.environ.get("TANDEM_BENCH_POSTGRES", "127.0.0.1")
REDIS_HOST = os.environ.get("TANDEM_BENCH_REDIS", "127.0.0.1")
LENGTHS = (10, 1_000, 10_000)

STORE_ENDPOINTS = {
    "sqlite": "tracker_store:\n  type: sql\n  dialect: sqlite\n  db: conversations.db\n",
    # Own database (created from `test` on first use) and Redis db/prefix, so the benchmark
    # never touches what the test suite keeps in those servers.
    "postgresql": (
        "tracker_store:\n  type: sql\n  dialect: postgresql\n"
        f"  url: {POSTGRES_URL}\n  port: 5432\n  username: postgres\n"
        "  db: tandem_bench\n  login_db: test\n"
    ),
    "redis": (
        f"tracker_store:\n  type: redis\n  url: {REDIS_HOST}\n  port: 6379\n  db: 7\n"
        "  key_prefix: tandembench\n"
    ),
    "in_memory": "",
}


async def open_with(root: Path, store: str, tag: str) -> Any:
    from tandem.model.loading import open_processor

    endpoints = root / f"endpoints-{store}-{tag}.yml"
    text = STORE_ENDPOINTS[store]
    if store == "sqlite":
        text = text.replace("conversations.db", f"conversations-{tag}.db")
    endpoints.write_text(text or "{}\n", encoding="utf-8")
    return await open_processor(root / "models", endpoints)


def timed(
    samples: list[float], call: Callable[..., Awaitable[Any]]
) -> Callable[..., Awaitable[Any]]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await call(*args, **kwargs)
        finally:
            samples.append((time.perf_counter() - started) * 1000)

    return wrapper


async def run_conversations(
    processor: Any, conversations: int, prefix: str, warmup: int = 0
) -> list[float]:
    """Latency (ms) of every turn of ``conversations`` NLU-routed conversations."""
    from tandem.runtime.message import UserMessage

    timings: list[float] = []
    for index in range(conversations):
        sender = f"{prefix}-{index}-{time.time_ns()}"
        for text in NLU_CONVERSATION:
            started = time.perf_counter()
            result = await processor.handle_message(UserMessage(text, sender))
            elapsed = (time.perf_counter() - started) * 1000
            if not result.messages:
                raise RuntimeError(f"no answer to {text!r}")
            if index >= warmup:
                timings.append(elapsed)
    return timings


async def turn_latency(root: Path, conversations: int) -> dict[str, Any]:
    processor = await open_with(root, "sqlite", "latency")
    try:
        timings = await run_conversations(processor, conversations, "latency", warmup=20)
    finally:
        await processor.aclose()
    return percentiles(timings)


async def store_costs(root: Path, stores: list[str], conversations: int) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for store in stores:
        processor = await open_with(root, store, "cost")
        loads: list[float] = []
        saves: list[float] = []
        try:
            tracker_store = processor.tracker_store
            await run_conversations(processor, 10, f"{store}-warm")  # connect, create tables
            tracker_store.retrieve = timed(loads, tracker_store.retrieve)
            tracker_store.save = timed(saves, tracker_store.save)
            turns = await run_conversations(processor, conversations, f"{store}-cost")
        except Exception as error:  # a server that is not running: say so, measure the rest
            report[store] = {"error": f"{type(error).__name__}: {error}"}
            continue
        finally:
            await processor.aclose()
        report[store] = {
            "turn_ms": percentiles(turns),
            "load_ms": percentiles(loads),
            "save_ms": percentiles(saves),
        }
    return report


async def growth(root: Path, turns: int) -> dict[str, Any]:
    """p50 latency of ``turns`` more turns in a conversation already ``length`` events long."""
    from tandem.runtime.message import UserMessage

    processor = await open_with(root, "sqlite", "growth")
    report: dict[str, Any] = {}
    try:
        # One real NLU-routed turn's events, to repeat (it ends the routing session, so the
        # copies leave the conversation in the state a real conversation would be in).
        sample = await processor.handle_message(UserMessage("when are you open?", "template"))
        template = [event for event in sample.new_events if event.type_name != "session_started"]
        template = template[next(i for i, e in enumerate(template) if e.type_name == "user") :]
        for length in LENGTHS:
            sender = f"long-{length}-{time.time_ns()}"
            await processor.handle_message(UserMessage("hi", sender))
            tracker = await processor.fetch_tracker(sender)
            position = len(tracker.events)
            batch: list[Any] = []
            while position + len(batch) < length:
                now = time.time()
                batch.extend(event.with_timestamp(now) for event in template)
                if len(batch) >= 2_000 or position + len(batch) >= length:
                    await processor.tracker_store.append_events(sender, batch, position=position)
                    position += len(batch)
                    batch = []
            timings = []
            cold = 0.0
            for index in range(turns):
                text = NLU_CONVERSATION[1 + index % (len(NLU_CONVERSATION) - 2)]
                started = time.perf_counter()
                result = await processor.handle_message(UserMessage(text, sender))
                timings.append((time.perf_counter() - started) * 1000)
                if not result.messages:
                    raise RuntimeError(f"no answer to {text!r} at {length} events")
                if index == 0:
                    cold = timings[0]
            # The first turn reads the conversation the store was given behind the processor's
            # back (all of it: ``cold_ms``); the later ones start from the tracker it kept.
            stats = percentiles(timings[2:])
            stats["cold_ms"] = round(cold, 3)
            stats["events"] = len(result.tracker.events)
            report[str(length)] = stats
    finally:
        await processor.aclose()
    return report


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tandem-bench-turns-") as directory:
        root = write_starter(Path(directory) / "starter")
        train_project(root)
        latency = await turn_latency(root, 120 if args.quick else 600)
        costs = await store_costs(root, args.stores, 30 if args.quick else 150)
        lengths = await growth(root, 12 if args.quick else 42)
    return {
        "nlu_turn_ms": latency,
        "store_costs": costs,
        "tracker_length_ms": lengths,
        "nlu_turn_ms_p50": latency["p50"],
        "nlu_turn_ms_p95": latency["p95"],
        "nlu_turn_ms_p99": latency["p99"],
        "turn_ms_at_10_events": lengths["10"]["p50"],
        "turn_ms_at_1k_events": lengths["1000"]["p50"],
        "turn_ms_at_10k_events": lengths["10000"]["p50"],
        "cold_turn_ms_at_10k_events": lengths["10000"]["cold_ms"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgresql", "redis"])
    parser.add_argument("--out")
    args = parser.parse_args()
    quiet_logs()
    emit(asyncio.run(main_async(args)), args.out)


if __name__ == "__main__":
    main()
