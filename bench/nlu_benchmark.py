"""NLU benchmark: intent accuracy, training time, latency and model size on BANKING77/CLINC150.

Trains the default intent pipeline - the tokenizer, featurizers and classifier of the
``config.yml`` that ``tandem init`` writes: WhitespaceTokenizer, word CountVectorsFeaturizer
(1-2 grams), char_wb 1-4 CountVectorsFeaturizer, LogisticRegressionClassifier - on each
dataset's train split and reports test accuracy, macro-F1, training time, parse latency
(p50/p99), model size on disk, the expected calibration error (15 bins) and, for CLINC150,
out-of-scope recall of the FallbackClassifier over a threshold sweep (the share of its `oos`
test messages whose top confidence is below the threshold, and the in-scope accuracy left
when messages under the threshold count as wrong). The same is reported for word unigrams
(the featurizers `rasa train` auto-configures for an empty pipeline).

    .venv/bin/python bench/nlu_benchmark.py [--datasets BANKING77 CLINC150] [--out result.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

from tandem.nlu import NluPipeline
from tandem.nlu.fallback import FallbackClassifier
from tandem.nlu.message import Message
from tandem.project.config import load_config
from tandem.project.training_data import NluData, NluExample

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
_INTENT_COMPONENTS = {
    "WhitespaceTokenizer",
    "CountVectorsFeaturizer",
    "LogisticRegressionClassifier",
}


Pipeline = list[tuple[str, dict[str, Any]]]


def starter_pipeline() -> Pipeline:
    """The intent-classification components of the starter's config.yml, in order."""
    with resources.as_file(resources.files("tandem.cli") / "starter" / "config.yml") as path:
        config = load_config(path)
    return [(c.name, dict(c.options)) for c in config.pipeline if c.name in _INTENT_COMPONENTS]


def with_word_ngrams(pipeline: Pipeline, high: int) -> Pipeline:
    """``pipeline`` with ``max_ngram: high`` for its word CountVectorsFeaturizer."""

    def is_word(name: str, options: dict[str, Any]) -> bool:
        return name == "CountVectorsFeaturizer" and options.get("analyzer", "word") == "word"

    return [
        (name, {**options, "max_ngram": high} if is_word(name, options) else options)
        for name, options in pipeline
    ]


def with_sentence_encoder(pipeline: Pipeline) -> Pipeline:
    """``pipeline`` with the LanguageModelFeaturizer (the embeddings extra) after the tokenizer."""
    return [pipeline[0], ("LanguageModelFeaturizer", {}), *pipeline[1:]]


PIPELINE = starter_pipeline()
VARIANTS = {
    "default": PIPELINE,
    "word_unigrams": with_word_ngrams(PIPELINE, 1),
    "dense": with_sentence_encoder(PIPELINE),
}
THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
LATENCY_SAMPLES = 1000
SMALL_ASSISTANT_INTENTS = 20


def read_split(folder: Path) -> list[tuple[str, str]]:
    texts = (folder / "seq.in").read_text(encoding="utf-8").splitlines()
    labels = (folder / "label").read_text(encoding="utf-8").splitlines()
    return list(zip(texts, labels, strict=True))


def as_nlu_data(pairs: list[tuple[str, str]]) -> NluData:
    return NluData(examples=tuple(NluExample(text, label) for text, label in pairs))


def macro_f1(gold: list[str], predicted: list[str]) -> float:
    true_positive = Counter(g for g, p in zip(gold, predicted, strict=True) if g == p)
    gold_count, predicted_count = Counter(gold), Counter(predicted)
    scores = []
    for label in gold_count:
        tp = true_positive[label]
        precision = tp / predicted_count[label] if predicted_count[label] else 0.0
        recall = tp / gold_count[label]
        scores.append(2 * precision * recall / (precision + recall) if tp else 0.0)
    return statistics.fmean(scores)


def expected_calibration_error(confidences: list[float], correct: list[bool]) -> float:
    """ECE over 15 equal-width confidence bins: how far confidence is from accuracy."""
    bins = 15
    error = 0.0
    for k in range(bins):
        low, high = k / bins, (k + 1) / bins
        chosen = [(c, ok) for c, ok in zip(confidences, correct, strict=True) if low < c <= high]
        if chosen:
            mean_confidence = statistics.fmean(c for c, _ in chosen)
            accuracy = statistics.fmean(ok for _, ok in chosen)
            error += len(chosen) / len(confidences) * abs(mean_confidence - accuracy)
    return error


def latency_ms(pipeline: NluPipeline, texts: list[str]) -> dict[str, float]:
    for text in texts[:50]:  # warm-up
        pipeline.parse(text)
    timings = []
    for text in texts[:LATENCY_SAMPLES]:
        start = time.perf_counter()
        pipeline.parse(text)
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    return {
        "p50": round(timings[len(timings) // 2], 3),
        "p99": round(timings[int(len(timings) * 0.99)], 3),
    }


def resident_mb() -> float:
    """This process's resident memory now (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def model_size_mb(pipeline: NluPipeline) -> float:
    with tempfile.TemporaryDirectory() as directory:
        pipeline.persist(Path(directory))
        size = sum(f.stat().st_size for f in Path(directory).iterdir())
    return round(size / 1e6, 2)


def fallback_sweep(
    in_scope: list[tuple[dict[str, Any], str]], out_of_scope: list[dict[str, Any]]
) -> list[dict[str, float]]:
    """Out-of-scope recall and in-scope accuracy when a FallbackClassifier follows."""
    rows = []
    for threshold in THRESHOLDS:
        fallback = FallbackClassifier({"threshold": threshold}, language="en")

        def decide(result: dict[str, Any], fallback: FallbackClassifier = fallback) -> str:
            message = Message(
                result["text"],
                intent=dict(result["intent"]),
                intent_ranking=[dict(r) for r in result["intent_ranking"]],
            )
            fallback.process(message)
            return message.intent["name"]  # type: ignore[index]

        rejected = sum(decide(r) == "nlu_fallback" for r in out_of_scope)
        correct = sum(decide(r) == gold for r, gold in in_scope)
        rows.append(
            {
                "threshold": threshold,
                "oos_recall": round(rejected / len(out_of_scope), 4),
                "in_scope_accuracy": round(correct / len(in_scope), 4),
            }
        )
    return rows


def run(name: str, root: Path, variant: str) -> dict[str, Any]:
    train, test = read_split(root / name / "train"), read_split(root / name / "test")
    start = time.perf_counter()
    pipeline = NluPipeline.train(VARIANTS[variant], as_nlu_data(train))
    training_seconds = time.perf_counter() - start
    results = [pipeline.parse(text) for text, _ in test]
    gold = [label for _, label in test]
    predicted = [r["intent"]["name"] for r in results]
    confidences = [r["intent"]["confidence"] for r in results]
    correct = [g == p for g, p in zip(gold, predicted, strict=True)]
    report: dict[str, Any] = {
        "dataset": name,
        "pipeline": variant,
        "train_examples": len(train),
        "test_examples": len(test),
        "intents": len({label for _, label in train}),
        "accuracy": round(sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold), 4),
        "macro_f1": round(macro_f1(gold, predicted), 4),
        "ece": round(expected_calibration_error(confidences, correct), 4),
        "mean_confidence": round(statistics.fmean(confidences), 4),
        "training_seconds": round(training_seconds, 2),
        "latency_ms": latency_ms(pipeline, [text for text, _ in test]),
        "model_mb": model_size_mb(pipeline),
        "rss_mb": resident_mb(),
    }
    oos_folder = root / name / "oos" / "test"
    if oos_folder.exists():
        out_of_scope = [pipeline.parse(text) for text, _ in read_split(oos_folder)]
        report["fallback"] = fallback_sweep(list(zip(results, gold, strict=True)), out_of_scope)
    return report


def small_assistant(root: Path) -> dict[str, Any]:
    """Latency of a typical assistant: the first 20 CLINC150 intents."""
    train = read_split(root / "CLINC150" / "train")
    intents = sorted({label for _, label in train})[:SMALL_ASSISTANT_INTENTS]
    pipeline = NluPipeline.train(PIPELINE, as_nlu_data([p for p in train if p[1] in intents]))
    texts = [text for text, label in read_split(root / "CLINC150" / "test") if label in intents]
    return {"intents": len(intents), "latency_ms": latency_ms(pipeline, texts * 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["BANKING77", "CLINC150"])
    parser.add_argument(
        "--variants", nargs="+", default=["default", "word_unigrams"], choices=list(VARIANTS)
    )
    parser.add_argument("--data-dir", type=Path, default=DATASETS)
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    args = parser.parse_args()
    report = {
        "pipelines": {
            variant: [{"name": name, **options} for name, options in components]
            for variant, components in VARIANTS.items()
        },
        "results": [
            run(name, args.data_dir, variant) for name in args.datasets for variant in args.variants
        ],
        "small_assistant": small_assistant(args.data_dir),
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
