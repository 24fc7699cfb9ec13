"""Soak: resident memory and open files of one ``tandem run`` process over 10,000 turns.

Starts ``tandem run --enable-api`` on the starter assistant (its SQLite tracker store, or with
``--store`` a PostgreSQL database or Redis key prefix of its own on the local servers; the
in-memory lock store, one process) on loopback and sends it ``--turns`` REST messages from
``--concurrency`` clients that each hold one conversation at a time (the starter's
NLU-routed conversation, then a new sender id), so the server meets thousands of
conversations, not a few long ones. Every ``--every`` turns it reads the serving process's
RSS (``/proc/<pid>/status``) and open file descriptors (``/proc/<pid>/fd``). Reported: start
(the first sample under load, after a warm-up), end, max, and the least-squares slope per
1,000 turns, of the whole run and of its second half (a leak keeps growing; caches fill and
stop). Afterwards every
acknowledged message must be stored, in order (read from the SQLite file, or through the HTTP
API's trackers for the other stores), and the model's unpacked folders in the temp directory
must be as many as before.

    .venv/bin/python bench/soak.py [--turns 10000] [--every 500] [--concurrency 20]
        [--store sqlite|postgresql|redis] [--out bench/results_soak.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
from common import (
    NLU_CONVERSATION,
    emit,
    free_port,
    machine,
    stop,
    train_project,
    wait_for_port,
    write_starter,
)
from rest import TANDEM, lost_events, stored_user_texts, warm_up

Sample = dict[str, float]  # turns done, rss_mb, fds


def process_sample(pid: int, turns: int) -> Sample:
    rss_kb = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
    fds = len(list(Path(f"/proc/{pid}/fd").iterdir()))
    return {"turns": turns, "rss_mb": round(rss_kb / 1024, 1), "fds": fds}


def slope_per_1000(samples: Sequence[Sample], key: str) -> float:
    """Least-squares growth of ``key`` per 1,000 turns."""
    if len(samples) < 2:
        return 0.0
    fit = statistics.linear_regression([s["turns"] for s in samples], [s[key] for s in samples])
    return round(fit.slope * 1000, 3)


def summary(samples: Sequence[Sample], key: str) -> dict[str, float]:
    values = [s[key] for s in samples]
    return {
        "start": values[0],
        "end": values[-1],
        "max": max(values),
        "slope_per_1000_turns": slope_per_1000(samples, key),
        "slope_per_1000_turns_second_half": slope_per_1000(samples[len(samples) // 2 :], key),
    }


def model_folders() -> int:
    """Unpacked model archives in the temp directory (each load makes one, must remove it)."""
    return len(list(Path(tempfile.gettempdir()).glob("tandem-model-*")))


async def drive(url: str, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    """Send ``args.turns`` messages, sampling the server every ``args.every`` of them."""
    acknowledged: dict[str, list[str]] = {}
    errors = 0
    turns = 0
    samples = [process_sample(pid, 0)]
    next_sample = args.every
    started = time.perf_counter()

    async def client(index: int, session: aiohttp.ClientSession) -> None:
        nonlocal turns, errors, next_sample
        conversation = 0
        while turns < args.turns:
            sender = f"load-soak-{index}-{conversation}"
            conversation += 1
            acknowledged[sender] = []
            for text in NLU_CONVERSATION:
                if turns >= args.turns:
                    return
                turns += 1  # counted when sent, so that exactly args.turns are sent
                try:
                    async with session.post(url, json={"sender": sender, "message": text}) as r:
                        await r.read()
                        ok = r.status == 200
                except (TimeoutError, aiohttp.ClientError):
                    ok = False
                if ok:
                    acknowledged[sender].append(text)
                else:
                    errors += 1
                if turns >= next_sample:  # one sample per every-th turn, whoever gets there
                    next_sample += args.every
                    samples.append(process_sample(pid, turns))

    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:  # keep-alive, as a proxy does
        await asyncio.gather(*(client(i, session) for i in range(args.concurrency)))
    elapsed = time.perf_counter() - started
    if samples[-1]["turns"] != turns:
        samples.append(process_sample(pid, turns))
    return {
        "turns": turns,
        "errors": errors,
        "seconds": round(elapsed, 1),
        "turns_per_s": round(turns / elapsed, 1),
        "samples": samples,
        "acknowledged": acknowledged,
    }


def worker_pid(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=10) as reply:
        return int(json.loads(reply.read())["worker_pid"])


# endpoints.yml tracker stores of --store, with {name}: a database / key prefix of the run's own.
STORES = {
    "postgresql": "tracker_store:\n  type: sql\n  dialect: postgresql\n  url: 127.0.0.1\n"
    "  port: 5432\n  username: postgres\n  db: {name}\n  login_db: test\n",
    "redis": "tracker_store:\n  type: redis\n  url: 127.0.0.1\n  port: 6379\n"
    "  key_prefix: {name}\n",
}


@contextmanager
def store_of_its_own(root: Path, store: str) -> Iterator[None]:
    """Point the project at a fresh PostgreSQL database or Redis prefix; remove it after."""
    if store == "sqlite":
        yield
        return
    name = f"tandemsoak{uuid.uuid4().hex[:10]}"
    (root / "endpoints.yml").write_text(STORES[store].format(name=name), encoding="utf-8")
    try:
        yield
    finally:
        asyncio.run(_drop(store, name))


async def _drop(store: str, name: str) -> None:
    if store == "postgresql":
        import asyncpg

        connection = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()
    else:
        import redis.asyncio as redis

        client = redis.Redis(host="127.0.0.1", port=6379)
        try:
            keys = [key async for key in client.scan_iter(f"{name}:*")]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()


def stored_through_api(port: int, senders: Sequence[str]) -> dict[str, list[str]]:
    """Each conversation's stored user messages, as ``GET /conversations/{id}/tracker`` gives
    them (the events in the store's order)."""
    texts = {}
    for sender in senders:
        url = f"http://127.0.0.1:{port}/conversations/{sender}/tracker"
        with urllib.request.urlopen(url, timeout=30) as reply:
            events = json.loads(reply.read())["events"]
        texts[sender] = [e["text"] for e in events if e["event"] == "user"]
    return texts


def measure(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    folders_before = model_folders()
    port = free_port()
    command = [TANDEM, "run", "--enable-api", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(
        command, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        if not wait_for_port(port, 60):
            raise RuntimeError(f"tandem run did not start: {server.stderr.read()[-2000:]}")  # type: ignore[union-attr]
        warm_up(port)
        pid = worker_pid(port)
        run = asyncio.run(drive(f"http://127.0.0.1:{port}/webhooks/rest/webhook", pid, args))
        acknowledged = run.pop("acknowledged")
        if args.store != "sqlite":
            stored, gaps = stored_through_api(port, list(acknowledged)), 0
    finally:
        stop(server)
    if args.store == "sqlite":
        stored, gaps = stored_user_texts(root / "conversations.db")
    samples = run["samples"]
    return {
        "soak": {
            **run,
            "store": f"{args.store}, in-memory lock store, 1 process",
            "concurrency": args.concurrency,
            "conversations": len(acknowledged),
            # From the first sample under load: the clients' connections are open by then.
            "before_load": samples[0],
            "rss_mb": summary(samples[1:], "rss_mb"),
            "fds": summary(samples[1:], "fds"),
            "lost_events": lost_events(acknowledged, stored) + gaps,
            "model_folders_left": model_folders() - folders_before,
            "exit_code": server.returncode,
        }
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--store", choices=["sqlite", *STORES], default="sqlite")
    parser.add_argument("--out")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tandem-bench-soak-") as directory:
        root = write_starter(Path(directory) / "starter")
        train_project(root)
        with store_of_its_own(root, args.store):
            result = measure(root, args)
    result["date"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    result["machine"] = machine()
    emit(result, args.out)


if __name__ == "__main__":
    main()
