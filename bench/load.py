"""Model load time to the first answer, and resident memory.

For each assistant (the starter, and a BANKING77-sized one: 77 intents, 8,622 examples, a
rule per intent), a fresh Python process is started that imports Tandem, opens the newest
model (``open_processor``: unpack, restore the pipeline and policies, build the stores) and
answers one message; the time is counted from just before the process is spawned to that
first answer (interpreter start-up and imports included), and resident memory is read
from ``/proc`` after the first answer and after 200 more turns.

    .venv/bin/python bench/load.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nlu_benchmark
from common import DATASETS, PYTHON, emit, quiet_logs, rss_mb, train_project, write_starter

TURNS_AFTER = 200


def child(root: Path, text: str) -> None:
    """Runs in the measured process: prints the times (UNIX seconds) of its milestones."""
    imported = time.time()
    from tandem.model.loading import open_processor
    from tandem.runtime.message import UserMessage

    async def main() -> dict[str, Any]:
        marks: dict[str, Any] = {"start": imported}
        processor = await open_processor(root / "models", root / "endpoints.yml")
        marks["loaded"] = time.time()
        result = await processor.handle_message(UserMessage(text, "first"))
        marks["answered"] = time.time()
        marks["answer"] = [m.text for m in result.messages]
        marks["first_turn"] = rss_mb()
        for index in range(TURNS_AFTER):
            await processor.handle_message(UserMessage(text, f"after-{index % 20}"))
        marks["after_turns"] = rss_mb()
        await processor.aclose()
        return marks

    quiet_logs()
    print(json.dumps(asyncio.run(main())), flush=True)


def measure(root: Path, text: str) -> dict[str, Any]:
    spawned = time.time()
    done = subprocess.run(
        [PYTHON, __file__, "--child", str(root), "--text", text],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    marks = json.loads(done.stdout.strip().splitlines()[-1])
    if not marks["answer"]:
        raise RuntimeError(f"{root.name} did not answer {text!r}")
    return {
        "load_to_first_answer_s": round(marks["answered"] - spawned, 3),
        "process_start_s": round(marks["start"] - spawned, 3),
        "imports_and_load_s": round(marks["loaded"] - marks["start"], 3),
        "first_turn_ms": round((marks["answered"] - marks["loaded"]) * 1000, 1),
        "rss_mb_first_answer": marks["first_turn"]["rss_mb"],
        "rss_mb_after_turns": marks["after_turns"]["rss_mb"],
        "peak_rss_mb": marks["after_turns"]["peak_rss_mb"],
    }


def banking77_project(root: Path) -> Path:
    """A project with BANKING77's train split as NLU data and a rule answering each intent."""
    lines = (DATASETS / "BANKING77" / "train" / "seq.in").read_text(encoding="utf-8").splitlines()
    labels = (DATASETS / "BANKING77" / "train" / "label").read_text(encoding="utf-8").splitlines()
    by_intent: dict[str, list[str]] = {}
    for text, label in zip(lines, labels, strict=True):
        by_intent.setdefault(label, []).append(text)
    (root / "data").mkdir(parents=True)
    nlu = ['version: "3.1"', "nlu:"]
    for intent, texts in by_intent.items():
        nlu += [f"  - intent: {intent}", "    examples: |"]
        nlu += [f"      - {text}" for text in texts]
    (root / "data" / "nlu.yml").write_text("\n".join(nlu) + "\n", encoding="utf-8")
    rules = ['version: "3.1"', "rules:"]
    for intent in by_intent:
        rules += [f"  - rule: answer {intent}", "    steps:", f"      - intent: {intent}"]
        rules += [f"      - action: utter_{intent}"]
    (root / "data" / "rules.yml").write_text("\n".join(rules) + "\n", encoding="utf-8")
    domain = ['version: "3.1"', "intents:"] + [f"  - {intent}" for intent in by_intent]
    domain += ["responses:"]
    for intent in by_intent:
        domain += [f"  utter_{intent}:", f'    - text: "About {intent}."']
    (root / "domain.yml").write_text("\n".join(domain) + "\n", encoding="utf-8")
    config = {
        "recipe": "default.v1",
        "language": "en",
        "pipeline": [{"name": name, **options} for name, options in nlu_benchmark.PIPELINE],
        "policies": [{"name": "RulePolicy"}],
    }
    (root / "config.yml").write_text(json.dumps(config, indent=2), encoding="utf-8")
    (root / "endpoints.yml").write_text(
        "tracker_store:\n  type: sql\n  dialect: sqlite\n  db: conversations.db\n",
        encoding="utf-8",
    )
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--text", default="hi", help=argparse.SUPPRESS)
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.text)
        return
    quiet_logs()
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tandem-bench-load-") as directory:
        starter = write_starter(Path(directory) / "starter")
        train_project(starter)
        report["starter"] = measure(starter, "hi")
        banking = banking77_project(Path(directory) / "banking77")
        report["banking77_project_train_s"] = round(train_project(banking), 2)
        report["banking77"] = measure(banking, "I still have not received my new card")
    report["load_s"] = report["starter"]["load_to_first_answer_s"]
    report["rss_mb"] = report["starter"]["rss_mb_after_turns"]
    report["load_s_banking77"] = report["banking77"]["load_to_first_answer_s"]
    report["rss_mb_banking77"] = report["banking77"]["rss_mb_after_turns"]
    emit(report, args.out)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
