"""HTTP REST throughput and latency: ``tandem run`` under 100 concurrent conversations.

Starts ``tandem run`` on the starter assistant (SQLite tracker store, in-memory lock store,
one worker process unless ``--workers``) as a subprocess on loopback, drives it with
bench/loadgen.py in another process for a bounded time, stops the server and then reads
the SQLite database: every message the server acknowledged must be stored as a user event
of its conversation, in order, at contiguous positions (``lost_events`` counts those that
are not).

    .venv/bin/python bench/rest.py [--quick] [--workers 1] [--concurrency 100]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

from common import BENCH, PYTHON, emit, free_port, stop, train_project, wait_for_port, write_starter

TANDEM = str(Path(PYTHON).parent / "tandem")
REDIS_LOCKS = (
    "lock_store:\n  type: redis\n  url: 127.0.0.1\n  port: 6379\n  db: 8\n"
    "  key_prefix: tandembench\n"
)


def warm_up(port: int) -> None:
    """A few conversations, so that the measured run starts with a warm server."""
    for index in range(10):
        for text in ("hi", "are you a bot?"):
            body = json.dumps({"sender": f"warm-{index}", "message": text}).encode()
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/webhooks/rest/webhook",
                data=body,
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=10) as reply:
                reply.read()


def stored_user_texts(database: Path) -> tuple[dict[str, list[str]], int]:
    """Each conversation's stored user messages, and how many conversations have a gap in
    their event positions."""
    texts: dict[str, list[str]] = defaultdict(list)
    positions: dict[str, list[int]] = defaultdict(list)
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT sender_id, event_index, type_name, data FROM events"
            " WHERE sender_id LIKE 'load-%' ORDER BY sender_id, event_index"
        )
        for sender, position, type_name, data in rows:
            positions[sender].append(int(position))
            if type_name == "user":
                texts[sender].append(json.loads(data)["text"])
    gaps = sum(1 for found in positions.values() if found != list(range(len(found))))
    return texts, gaps


def lost_events(acknowledged: dict[str, list[str]], stored: dict[str, list[str]]) -> int:
    """Acknowledged messages missing from (or out of order in) their stored conversation."""
    lost = 0
    for sender, sent in acknowledged.items():
        kept = stored.get(sender, [])
        matching = 0
        while matching < min(len(sent), len(kept)) and sent[matching] == kept[matching]:
            matching += 1
        lost += len(sent) - matching
    return lost


def measure(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    endpoints = root / "endpoints.yml"
    if args.workers > 1:
        endpoints.write_text(endpoints.read_text() + REDIS_LOCKS, encoding="utf-8")
    server = subprocess.Popen(
        [
            TANDEM,
            "run",
            "--model",
            "models",
            "--endpoints",
            "endpoints.yml",
            "--credentials",
            "credentials.yml",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        if not wait_for_port(port, 60):
            raise RuntimeError(f"tandem run did not start: {server.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        warm_up(port)
        generator = subprocess.run(
            [
                PYTHON,
                str(BENCH / "loadgen.py"),
                "--url",
                f"http://127.0.0.1:{port}",
                "--concurrency",
                str(args.concurrency),
                "--duration",
                str(args.duration),
            ],
            capture_output=True,
            text=True,
            timeout=args.duration + 120,
            check=True,
        )
        load = json.loads(generator.stdout.strip().splitlines()[-1])
    finally:
        stop(server)
    stored, gaps = stored_user_texts(root / "conversations.db")
    acknowledged = load.pop("acknowledged")
    lost = lost_events(acknowledged, stored)
    return {
        "rest": {**load, "workers": args.workers, "position_gaps": gaps, "lost_events": lost},
        "rest_msgs_per_s": load["msgs_per_s"],
        "rest_latency_ms_p50": load["latency_ms"]["p50"],
        "rest_latency_ms_p99": load["latency_ms"]["p99"],
        "rest_errors": load["errors"],
        "rest_lost_events": lost + gaps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--duration", type=float, help="seconds of load (20; 8 with --quick)")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.duration is None:
        args.duration = 8.0 if args.quick else 20.0
    with tempfile.TemporaryDirectory(prefix="tandem-bench-rest-") as directory:
        root = write_starter(Path(directory) / "starter")
        train_project(root)
        started = time.perf_counter()
        result = measure(root, args)
        result["rest"]["wall_s"] = round(time.perf_counter() - started, 1)
    emit(result, args.out)


if __name__ == "__main__":
    main()
