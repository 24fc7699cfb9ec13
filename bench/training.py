"""Training time and intent accuracy.

* the starter assistant (``tandem init``): ``tandem train`` end to end (project loading,
  NLU pipeline, policies, archive), forced;
* a typical 20-intent assistant: the default pipeline on the first 20 CLINC150 intents;
* BANKING77 and CLINC150 (in scope): the default pipeline on the full train split, test
  accuracy (bench/nlu_benchmark.py's ``run``, which also reports macro-F1, parse latency,
  model size and the fallback sweep).

    .venv/bin/python bench/training.py [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import nlu_benchmark
from common import DATASETS, emit, quiet_logs, train_project, write_starter


def starter_training(repeats: int) -> float:
    """Median seconds of a forced ``tandem train`` of the starter project."""
    timings = []
    with tempfile.TemporaryDirectory(prefix="tandem-bench-train-") as directory:
        root = write_starter(Path(directory) / "starter")
        train_project(root)  # warm: imports and first-use caches are not training
        for _ in range(repeats):
            timings.append(train_project(root))
    return sorted(timings)[len(timings) // 2]


def twenty_intents() -> dict[str, Any]:
    from tandem.nlu import NluPipeline

    train = nlu_benchmark.read_split(DATASETS / "CLINC150" / "train")
    intents = sorted({label for _, label in train})[: nlu_benchmark.SMALL_ASSISTANT_INTENTS]
    examples = [pair for pair in train if pair[1] in intents]
    started = time.perf_counter()
    NluPipeline.train(nlu_benchmark.PIPELINE, nlu_benchmark.as_nlu_data(examples))
    return {
        "intents": len(intents),
        "examples": len(examples),
        "train_s": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out")
    args = parser.parse_args()
    quiet_logs()
    starter_s = starter_training(1 if args.quick else 5)
    small = twenty_intents()
    banking = nlu_benchmark.run("BANKING77", DATASETS, "default")
    clinc = nlu_benchmark.run("CLINC150", DATASETS, "default")
    clinc.pop("fallback", None)
    emit(
        {
            "starter_train_s": round(starter_s, 2),
            "train_20_intents_s": round(small["train_s"], 2),
            "twenty_intents": small,
            "banking77": banking,
            "clinc150": clinc,
            "b77_train_s": banking["training_seconds"],
            "b77_accuracy": round(banking["accuracy"] * 100, 2),
            "clinc_train_s": clinc["training_seconds"],
            "clinc_accuracy": round(clinc["accuracy"] * 100, 2),
        },
        args.out,
    )


if __name__ == "__main__":
    main()
