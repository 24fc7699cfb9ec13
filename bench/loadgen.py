"""Load generator for the REST channel: N concurrent conversations over loopback, time-bounded.

Each of ``--concurrency`` virtual users holds one conversation at a time: it sends the
messages of a short NLU-routed conversation one after the other (each waits for the reply of
the one before, as a chat user does), then starts a new conversation under a new sender id,
until ``--duration`` seconds have passed. Prints one JSON object: throughput, latency
percentiles, errors, and per conversation the messages the server acknowledged (so the caller
can check that the tracker store holds every one of them).

    .venv/bin/python bench/loadgen.py --url http://127.0.0.1:5005 [--concurrency 100]
        [--duration 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from typing import Any

import aiohttp
from common import NLU_CONVERSATION, percentiles

REQUEST_TIMEOUT = 30.0  # seconds; a request taking longer counts as an error


async def user(
    session: aiohttp.ClientSession,
    url: str,
    index: int,
    deadline: float,
    latencies: list[float],
    statuses: Counter[str],
    acknowledged: dict[str, list[str]],
) -> None:
    conversation = 0
    while time.monotonic() < deadline:
        sender = f"load-{index}-{conversation}"
        conversation += 1
        acknowledged[sender] = []
        for text in NLU_CONVERSATION:
            if time.monotonic() >= deadline:
                break
            started = time.perf_counter()
            try:
                async with session.post(url, json={"sender": sender, "message": text}) as reply:
                    body = await reply.json(content_type=None)
                    status = str(reply.status)
            except (TimeoutError, aiohttp.ClientError) as error:
                status = type(error).__name__
                body = None
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[status] += 1
            if status == "200" and isinstance(body, list) and body:
                acknowledged[sender].append(text)
            else:
                break  # the conversation is broken; start another


async def run(url: str, concurrency: int, duration: float) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    acknowledged: dict[str, list[str]] = {}
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        started = time.monotonic()
        deadline = started + duration
        await asyncio.gather(
            *(
                user(session, url, i, deadline, latencies, statuses, acknowledged)
                for i in range(concurrency)
            )
        )
        elapsed = time.monotonic() - started
    ok = statuses.get("200", 0)
    return {
        "concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "requests": sum(statuses.values()),
        "ok": ok,
        "errors": sum(statuses.values()) - ok,
        "statuses": dict(statuses),
        "msgs_per_s": round(ok / elapsed, 1),
        "latency_ms": percentiles(latencies, 2),
        "conversations": len(acknowledged),
        "acknowledged": acknowledged,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="server base URL, e.g. http://127.0.0.1:5005")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--duration", type=float, default=20.0)
    args = parser.parse_args()
    url = args.url.rstrip("/") + "/webhooks/rest/webhook"
    print(json.dumps(asyncio.run(run(url, args.concurrency, args.duration))), flush=True)


if __name__ == "__main__":
    main()
