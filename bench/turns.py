"""In-process turn benchmarks of the starter assistant (NLU-routed messages, no LLM).

* latency of a whole turn (lock, load, parse, route, policies, actions, save) with the
  default SQLite tracker store: p50/p95/p99 over short conversations, the median of 5
  rounds' percentiles (3 with ``--quick``);
* the tracker store's cost per turn (freshness check or read, and save) for SQLite,
  PostgreSQL and Redis;
* how the latency of one more turn grows with the tracker's length (10, 1,000 and 10,000
  events in the current session; the events are real turns' events, written through the
  store; the three conversations take turns).

    .venv/bin/python bench/turns.py [--quick] [--stores sqlite postgresql redis]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
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


async def turn_latency(root: Path, rounds: int, conversations: int) -> dict[str, Any]:
    """Percentiles of each round of ``conversations`` conversations, and their medians over
    the rounds: the machine's speed drifts, and a round that a noisy moment slowed down
    should not decide the figure."""
    processor = await open_with(root, "sqlite", "latency")
    per_round = []
    try:
        await run_conversations(processor, 20, "latency-warm")
        for index in range(rounds):
            per_round.append(
                percentiles(await run_conversations(processor, conversations, f"latency{index}"))
            )
    finally:
        await processor.aclose()
    return median_of_rounds(per_round)


def median_of_rounds(per_round: list[dict[str, float]]) -> dict[str, Any]:
    summary: dict[str, Any] = {
        key: round(statistics.median(r[key] for r in per_round), 3)
        for key in ("p50", "p95", "p99", "mean")
    }
    summary["max"] = max(r["max"] for r in per_round)
    summary["n"] = sum(r["n"] for r in per_round)
    summary["rounds"] = len(per_round)
    summary["p50_of_each_round"] = [r["p50"] for r in per_round]
    return summary


async def store_costs(root: Path, stores: list[str], conversations: int) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for store in stores:
        processor = await open_with(root, store, "cost")
        checks: list[float] = []
        reads: list[float] = []
        saves: list[float] = []
        try:
            tracker_store = processor.tracker_store
            await run_conversations(processor, 10, f"{store}-warm")  # connect, create tables
            tracker_store.count_events = timed(checks, tracker_store.count_events)
            tracker_store.retrieve = timed(reads, tracker_store.retrieve)
            tracker_store.save = timed(saves, tracker_store.save)
            turns = await run_conversations(processor, conversations, f"{store}-cost")
        except Exception as error:  # a server that is not running: say so, measure the rest
            report[store] = {"error": f"{type(error).__name__}: {error}"}
            continue
        finally:
            await processor.aclose()
        report[store] = {
            "turn_ms": percentiles(turns),
            # A turn either checks that the tracker kept from the conversation's previous
            # turn is current (``count_events``) or reads the conversation (its first turns).
            "check_ms": percentiles(checks),
            "read_ms": percentiles(reads),
            "save_ms": percentiles(saves),
        }
    return report


async def growth(root: Path, turns: int) -> dict[str, Any]:
    """p50 latency of ``turns`` more turns in conversations already 10, 1,000 and 10,000
    events long. The conversations take turns one after the other, so that the machine's
    drifting speed weighs on each length alike."""
    from tandem.runtime.message import UserMessage

    processor = await open_with(root, "sqlite", "growth")
    report: dict[str, Any] = {}
    try:
        # One real NLU-routed turn's events, to repeat (it ends the routing session, so the
        # copies leave the conversation in the state a real conversation would be in).
        sample = await processor.handle_message(UserMessage("when are you open?", "template"))
        template = [event for event in sample.new_events if event.type_name != "session_started"]
        template = template[next(i for i, e in enumerate(template) if e.type_name == "user") :]
        senders = {}
        for length in LENGTHS:
            sender = senders[length] = f"long-{length}-{time.time_ns()}"
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
        timings: dict[int, list[float]] = {length: [] for length in LENGTHS}
        events: dict[int, int] = {}
        for index in range(turns):
            text = NLU_CONVERSATION[1 + index % (len(NLU_CONVERSATION) - 2)]
            for length in LENGTHS:
                started = time.perf_counter()
                result = await processor.handle_message(UserMessage(text, senders[length]))
                timings[length].append((time.perf_counter() - started) * 1000)
                if not result.messages:
                    raise RuntimeError(f"no answer to {text!r} at {length} events")
                events[length] = len(result.tracker.events)
        for length in LENGTHS:
            # The first turn reads the conversation the store was given behind the
            # processor's back (all of it: ``cold_ms``); later ones start from the kept one.
            stats = percentiles(timings[length][2:])
            stats["cold_ms"] = round(timings[length][0], 3)
            stats["events"] = events[length]
            report[str(length)] = stats
    finally:
        await processor.aclose()
    return report


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tandem-bench-turns-") as directory:
        root = write_starter(Path(directory) / "starter")
        train_project(root)
        latency = await turn_latency(root, 3 if args.quick else 5, 40 if args.quick else 120)
        costs = await store_costs(root, args.stores, 30 if args.quick else 150)
        lengths = await growth(root, 22 if args.quick else 82)
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
