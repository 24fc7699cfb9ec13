"""Run every benchmark and write bench/results.json and bench/results.md.

    .venv/bin/python bench/run.py            # the full run (a few minutes)
    .venv/bin/python bench/run.py --quick    # a short run (about a minute and a half)

Each benchmark runs in a fresh interpreter (see common.py); one that fails is reported
under ``errors`` and the others still run. Needs the datasets in ../shared/datasets, and
PostgreSQL (127.0.0.1:5432, user postgres) and Redis (127.0.0.1:6379) for the store costs
and the two-worker REST run (both are skipped with an error entry when not running).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import BENCH, PYTHON, REPO, machine

# (key, what, target, how the value is compared with the target)
TARGETS: list[tuple[str, str, float, str]] = [
    ("nlu_turn_ms_p50", "NLU-routed turn, in process, SQLite: p50 (ms)", 2, "<="),
    ("nlu_turn_ms_p99", "NLU-routed turn, in process, SQLite: p99 (ms)", 10, "<="),
    ("calm_overhead_ms_p50", "CALM turn framework overhead, instant LLM stub: p50 (ms)", 3, "<="),
    ("rest_msgs_per_s", "HTTP REST, 100 concurrent conversations (msgs/s)", 500, ">="),
    ("rest_lost_events", "HTTP REST: acknowledged messages not stored", 0, "<="),
    ("b77_train_s", "NLU training, BANKING77 full train split (s)", 30, "<="),
    ("train_20_intents_s", "NLU training, 20-intent assistant (s)", 3, "<="),
    ("load_s", "model load to first answer (s)", 2, "<="),
    ("rss_mb", "resident memory (MB)", 250, "<="),
    ("b77_accuracy", "intent accuracy, BANKING77 (%)", 90.5, ">="),
    ("clinc_accuracy", "intent accuracy, CLINC150 (%)", 92.5, ">="),
    ("turn_growth_10k_vs_10", "turn time at 10,000 vs 10 events (x; flat = not linear)", 2, "<="),
]

# Figures without a target, shown after the targets.
OTHERS: list[tuple[str, str]] = [
    ("nlu_turn_ms_p95", "NLU-routed turn: p95 (ms)"),
    ("calm_overhead_ms_p99", "CALM turn framework overhead: p99 (ms)"),
    ("calm_overhead_ms_p50_in_memory", "CALM turn framework overhead, in-memory store: p50 (ms)"),
    ("llm_calls_per_calm_turn", "LLM calls per CALM turn"),
    ("prompt_tokens_per_calm_turn", "prompt tokens per CALM turn (estimated at the stub)"),
    ("rest_workers", "HTTP REST: worker processes of the headline figure"),
    ("rest_msgs_per_s_1_worker", "HTTP REST, one worker process (msgs/s)"),
    ("rest_latency_ms_p50", "HTTP REST latency under that load: p50 (ms)"),
    ("rest_latency_ms_p99", "HTTP REST latency under that load: p99 (ms)"),
    ("rest_errors", "HTTP REST: failed requests"),
    ("starter_train_s", "training the starter assistant, `tandem train` (s)"),
    ("clinc_train_s", "NLU training, CLINC150 full train split (s)"),
    ("load_s_banking77", "load to first answer, BANKING77-sized assistant (s)"),
    ("rss_mb_banking77", "resident memory, BANKING77-sized assistant (MB)"),
    ("turn_ms_at_10_events", "turn at 10 events: p50 (ms)"),
    ("turn_ms_at_1k_events", "turn at 1,000 events: p50 (ms)"),
    ("turn_ms_at_10k_events", "turn at 10,000 events: p50 (ms)"),
    ("cold_turn_ms_at_10k_events", "first turn at 10,000 events written behind the server (ms)"),
]


def run_benchmark(script: str, extra: list[str], timeout: float) -> dict[str, Any]:
    started = time.perf_counter()
    print(f"== {script} {' '.join(extra)}", flush=True)
    done = subprocess.run(
        [PYTHON, str(BENCH / script), *extra],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=BENCH,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{script} failed ({done.returncode}): {done.stderr.strip()[-1500:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"   done in {time.perf_counter() - started:.1f} s", flush=True)
    return result


def collect(quick: bool) -> dict[str, Any]:
    flag = ["--quick"] if quick else []
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    runs = [
        ("turns", "turns.py", flag, 600),
        ("calm", "calm.py", flag, 600),
        ("rest_1_worker", "rest.py", [*flag, "--workers", "1"], 600),
        ("rest_2_workers", "rest.py", [*flag, "--workers", "2"], 600),
        ("training", "training.py", flag, 900),
        ("load", "load.py", flag, 600),
    ]
    for name, script, extra, timeout in runs:
        try:
            results[name] = run_benchmark(script, extra, timeout)
        except (RuntimeError, subprocess.TimeoutExpired, ValueError) as error:
            errors[name] = str(error)
            print(f"   {name} FAILED: {error}", file=sys.stderr, flush=True)
    summary: dict[str, Any] = {}
    for name in ("turns", "calm", "training", "load"):
        summary.update(
            {k: v for k, v in results.get(name, {}).items() if isinstance(v, (int, float))}
        )
    one, two = results.get("rest_1_worker"), results.get("rest_2_workers")
    best = two or one  # two workers use both cores: the configuration for this machine
    if best is not None:
        summary.update({k: v for k, v in best.items() if isinstance(v, (int, float))})
        summary["rest_workers"] = best["rest"]["workers"]
        summary["rest_lost_events"] = sum(r["rest_lost_events"] for r in (one, two) if r)
    if one is not None:
        summary["rest_msgs_per_s_1_worker"] = one["rest_msgs_per_s"]
    if "turn_ms_at_10k_events" in summary and summary.get("turn_ms_at_10_events"):
        summary["turn_growth_10k_vs_10"] = round(
            summary["turn_ms_at_10k_events"] / summary["turn_ms_at_10_events"], 2
        )
    return {
        "mode": "quick" if quick else "full",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "commit": _commit(),
        "machine": machine(),
        **summary,
        "targets": {
            key: {
                "target": target,
                "compare": compare,
                "met": _met(summary.get(key), target, compare),
            }
            for key, _, target, compare in TARGETS
        },
        "details": results,
        "errors": errors,
    }


def _met(value: Any, target: float, compare: str) -> bool | None:
    if not isinstance(value, (int, float)):
        return None
    return value <= target if compare == "<=" else value >= target


def _commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        )
        return done.stdout.strip()
    except OSError:
        return ""


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"# Benchmark results ({report['mode']} run)",
        "",
        f"{report['date']}, commit {report['commit'] or '?'}; {m['cores']} cores "
        f"({m['cpu']}), {m['memory_gib']} GiB, {m['os']}, Python {m['python']}, "
        f"NumPy {m['numpy']}. Reproduce with `.venv/bin/python bench/run.py`.",
        "",
        "| metric | measured | target | met |",
        "|---|---|---|---|",
    ]
    for key, what, target, compare in TARGETS:
        value = report.get(key)
        met = report["targets"][key]["met"]
        mark = "n/a" if met is None else ("yes" if met else "**no**")
        sign = "≤" if compare == "<=" else "≥"
        lines.append(f"| {what} `{key}` | {_fmt(value)} | {sign} {target:g} | {mark} |")
    lines += ["", "| other figures | measured |", "|---|---|"]
    for key, what in OTHERS:
        lines.append(f"| {what} `{key}` | {_fmt(report.get(key))} |")
    details = report["details"]
    costs = details.get("turns", {}).get("store_costs", {})
    if costs:
        lines += [
            "",
            "Tracker store cost per turn (NLU-routed turns, in process; check = asking whether "
            "the tracker kept from the previous turn is current, read = reading the "
            "conversation (a conversation's first turns), save = writing the turn's events):",
            "",
            "| store | turn p50 | check p50 | read p50 | save p50 | save p99 |",
            "|---|---|---|---|---|---|",
        ]
        for store, cost in costs.items():
            if "error" in cost:
                lines.append(f"| {store} | {cost['error']} | | | | |")
                continue
            lines.append(
                f"| {store} | {cost['turn_ms']['p50']} ms | {cost['check_ms']['p50']} ms | "
                f"{cost['read_ms']['p50']} ms | {cost['save_ms']['p50']} ms | "
                f"{cost['save_ms']['p99']} ms |"
            )
    growth = details.get("turns", {}).get("tracker_length_ms", {})
    if growth:
        lines += [
            "",
            "Turn latency by tracker length (events in the current session, SQLite):",
            "",
            "| events before the turn | p50 | p95 | max |",
            "|---|---|---|---|",
        ]
        for length, stats in growth.items():
            lines.append(
                f"| {int(length):,} | {stats['p50']} ms | {stats['p95']} ms | {stats['max']} ms |"
            )
    for name in ("rest_1_worker", "rest_2_workers"):
        rest = details.get(name, {}).get("rest")
        if rest:
            lines += [
                "",
                f"REST, {rest['workers']} worker(s): {rest['ok']} messages in {rest['seconds']} s "
                f"from {rest['concurrency']} concurrent conversations ({rest['conversations']} "
                f"conversations in all), {rest['msgs_per_s']} msgs/s, latency p50 "
                f"{rest['latency_ms']['p50']} ms / p99 {rest['latency_ms']['p99']} ms, "
                f"{rest['errors']} errors, {rest['lost_events']} lost events, "
                f"{rest['position_gaps']} conversations with gaps.",
            ]
    if report["errors"]:
        lines += ["", "Errors:", ""]
        lines += [f"- {name}: {error}" for name, error in report["errors"].items()]
    return "\n".join(lines) + "\n"


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.1f}"
    return f"{value:,}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--out", type=Path, default=BENCH / "results.json")
    parser.add_argument("--markdown", type=Path, default=BENCH / "results.md")
    args = parser.parse_args()
    started = time.perf_counter()
    report = collect(args.quick)
    report["run_s"] = round(time.perf_counter() - started, 1)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    text = markdown(report)
    args.markdown.write_text(text, encoding="utf-8")
    print(text)
    print(f"wrote {args.out} and {args.markdown} in {report['run_s']} s")


if __name__ == "__main__":
    main()
