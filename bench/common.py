"""Helpers shared by the benchmarks: projects, timing statistics, the machine, JSON output.

Every benchmark script is runnable on its own (``python bench/<name>.py [--quick]``) and
prints one JSON object on its last stdout line; ``bench/run.py`` runs them one after the
other, each in a fresh interpreter, so that one benchmark's memory or warm caches do not
colour another's figures.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
DATASETS = REPO.parent / "shared" / "datasets"
PYTHON = sys.executable

# NLU-routed conversations of the starter assistant: each message is handled by a rule of the
# NLU-based system (the router sends it there; no flow, no LLM). One conversation = one list.
NLU_CONVERSATION = ("hi", "when are you open?", "are you a bot?", "what time do you close?", "bye")


def percentiles(samples: Sequence[float], digits: int = 3) -> dict[str, float]:
    """p50/p95/p99 (nearest rank), mean and max of ``samples``."""
    ordered = sorted(samples)
    if not ordered:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "mean": 0.0, "max": 0.0, "n": 0}

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]

    return {
        "p50": round(rank(0.50), digits),
        "p95": round(rank(0.95), digits),
        "p99": round(rank(0.99), digits),
        "mean": round(statistics.fmean(ordered), digits),
        "max": round(ordered[-1], digits),
        "n": len(ordered),
    }


def write_starter(target: Path) -> Path:
    """The project ``tandem init`` writes, in ``target`` (replaced if it exists)."""
    if target.exists():
        shutil.rmtree(target)
    starter = resources.files("tandem.cli") / "starter"
    with resources.as_file(starter) as source:
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def train_project(root: Path, *, force: bool = True, config: str = "config.yml") -> float:
    """Train the project at ``root`` into ``root/models``; returns the seconds it took
    (loading and validating the project files included, as ``tandem train`` does)."""
    from tandem.model.training import train
    from tandem.project.loader import load_project

    started = time.perf_counter()
    project = load_project(root, config=config)
    train(project, root / "models", force=force)
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop(server: subprocess.Popen[Any]) -> None:
    """SIGTERM a server process and wait for it (60 s, then kill it)."""
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def wait_for_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


def rss_mb() -> dict[str, float]:
    """Resident memory of this process now and at its peak (Linux ``/proc``), in MB."""
    values: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = round(int(rest.split()[0]) / 1024, 1)
    return {"rss_mb": values.get("VmRSS", 0.0), "peak_rss_mb": values.get("VmHWM", 0.0)}


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.partition(":")[2].strip()
            break
    memory_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kb = int(line.split()[1])
    import numpy

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "numpy": numpy.__version__,
    }


def emit(result: dict[str, Any], out: str | None = None) -> None:
    """Print the benchmark's JSON as the last stdout line (and write it to ``out``)."""
    text = json.dumps(result)
    if out:
        Path(out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(text, flush=True)


def quiet_logs() -> None:
    """Keep the assistant's warnings (e.g. about the starter's slot mappings) off stdout."""
    import logging

    logging.basicConfig(level=logging.ERROR)
    logging.getLogger().setLevel(logging.ERROR)


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
