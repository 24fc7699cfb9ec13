"""Evaluating an NLU pipeline on labelled examples: the numbers behind ``tandem test nlu``.

Intents are scored per example: precision, recall, F1 and support per intent, accuracy, and
macro (unweighted) and weighted (by support) averages over every intent that occurs as a
gold label or as a prediction. A retrieval intent ``faq/ask_name`` is scored as ``faq``, the
intent the classifiers predict.

Entities are scored **per token**, separately for each extractor: a token's label is the
entity whose character span overlaps it (``no_entity`` if none), in the gold annotations and
in the extractor's predictions. Per entity label we report precision, recall, F1 and support
(in tokens); the ``micro avg``, ``macro avg`` and ``weighted avg`` entries average over the
entity labels only, so the many ``no_entity`` tokens do not inflate them (``no_entity`` still
has its own row). Roles and groups are not part of the label.

Everything here except :func:`predict` is a pure function of (gold, predicted) lists.
"""

from __future__ import annotations

import asyncio
import random
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tandem.nlu.message import base_intent
from tandem.nlu.pipeline import NluPipeline
from tandem.project.training_data import NluData, NluExample

NO_ENTITY = "no_entity"
NO_INTENT = "None"  # the label of a prediction without an intent
CONFUSED_WITH_TOP = 5  # confusions listed per intent in the report
# Extractors that come with their own knowledge (no training data to compare with).
PRETRAINED_EXTRACTORS = frozenset({"DucklingEntityExtractor", "SpacyEntityExtractor"})
_AVERAGES = ("accuracy", "micro avg", "macro avg", "weighted avg")


# -- metrics ----------------------------------------------------------------------------------


def label_scores(
    gold: Sequence[str], predicted: Sequence[str], labels: Iterable[str]
) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of each label; 0.0 where a ratio is undefined."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    true_positives = Counter(g for g, p in zip(gold, predicted, strict=True) if g == p)
    gold_counts, predicted_counts = Counter(gold), Counter(predicted)
    scores = {}
    for label in labels:
        tp = true_positives[label]
        precision = tp / predicted_counts[label] if predicted_counts[label] else 0.0
        recall = tp / gold_counts[label] if gold_counts[label] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
        scores[label] = {
            "precision": precision,
            "recall": recall,
            "f1-score": f1,
            "support": gold_counts[label],
        }
    return scores


def averages(scores: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """``macro avg`` (mean over labels) and ``weighted avg`` (weighted by support)."""
    metrics = ("precision", "recall", "f1-score")
    support = sum(s["support"] for s in scores.values())
    macro = {m: statistics.fmean(s[m] for s in scores.values()) if scores else 0.0 for m in metrics}
    weighted = {
        m: sum(s[m] * s["support"] for s in scores.values()) / support if support else 0.0
        for m in metrics
    }
    return {
        "macro avg": {**macro, "support": support},
        "weighted avg": {**weighted, "support": support},
    }


def confusions(gold: Sequence[str], predicted: Sequence[str]) -> Counter[tuple[str, str]]:
    """How often each (gold, predicted) pair with gold != predicted occurs."""
    return Counter((g, p) for g, p in zip(gold, predicted, strict=True) if g != p)


def most_confused(
    pairs: Counter[tuple[str, str]], limit: int | None = None
) -> list[tuple[str, str, int]]:
    """Confused pairs, most frequent first (ties by name), as (gold, predicted, count)."""
    ordered = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))
    return [(g, p, n) for (g, p), n in ordered[:limit]]


def intent_report(
    gold: Sequence[str], predicted: Sequence[str], *, top: int = CONFUSED_WITH_TOP
) -> dict[str, Any]:
    """The intent report: a row per intent (with ``confused_with``), accuracy and averages."""
    labels = sorted(set(gold) | set(predicted))
    scores: dict[str, Any] = label_scores(gold, predicted, labels)
    pairs = most_confused(confusions(gold, predicted))
    for label, row in scores.items():
        row["confused_with"] = dict([(p, n) for g, p, n in pairs if g == label][:top])
    correct = sum(g == p for g, p in zip(gold, predicted, strict=True))
    report: dict[str, Any] = dict(scores)
    report["accuracy"] = correct / len(gold) if gold else 0.0
    report.update(averages(scores))
    return report


def entity_report(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """The token-level entity report; averages leave ``no_entity`` out (see module doc)."""
    entity_labels = sorted((set(gold) | set(predicted)) - {NO_ENTITY})
    scores = label_scores(gold, predicted, entity_labels)
    report: dict[str, Any] = dict(scores)
    report[NO_ENTITY] = label_scores(gold, predicted, [NO_ENTITY])[NO_ENTITY]
    # micro: every entity token decision pooled
    tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p and g != NO_ENTITY)
    n_predicted = sum(1 for p in predicted if p != NO_ENTITY)
    n_gold = sum(1 for g in gold if g != NO_ENTITY)
    precision = tp / n_predicted if n_predicted else 0.0
    recall = tp / n_gold if n_gold else 0.0
    report["micro avg"] = {
        "precision": precision,
        "recall": recall,
        "f1-score": 2 * precision * recall / (precision + recall) if tp else 0.0,
        "support": n_gold,
    }
    report.update(averages(scores))
    return report


def is_label_row(key: str) -> bool:
    """True for a per-label row of a report, False for accuracy and the averages."""
    return key not in _AVERAGES


# -- entity alignment -------------------------------------------------------------------------


def token_labels(
    tokens: Sequence[tuple[int, int]], entities: Iterable[Mapping[str, Any]]
) -> list[str]:
    """Each token's entity label: the first entity whose span overlaps the token."""
    spans = [(e["start"], e["end"], e["entity"]) for e in entities]
    labels = []
    for start, end in tokens:
        label = next((name for s, e, name in spans if s < end and start < e), NO_ENTITY)
        labels.append(label)
    return labels


def whitespace_tokens(text: str) -> list[tuple[int, int]]:
    """Token offsets by whitespace, for pipelines whose parse result has no ``text_tokens``."""
    tokens = []
    start = None
    for i, char in enumerate(text):
        if char.isspace():
            if start is not None:
                tokens.append((start, i))
                start = None
        elif start is None:
            start = i
    if start is not None:
        tokens.append((start, len(text)))
    return tokens


# -- folds ------------------------------------------------------------------------------------


def stratified_folds(labels: Sequence[str], k: int, *, seed: int = 42) -> list[list[int]]:
    """Indices of ``k`` folds with each label's examples spread evenly over them.

    Each label's examples are shuffled with a fixed seed and dealt to the folds in turn; the
    dealing continues from label to label, so the folds also have (nearly) equal sizes. The
    result depends only on ``labels``, ``k`` and ``seed``.
    """
    if k < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {k}")
    if k > len(labels):
        raise ValueError(f"{k} folds but only {len(labels)} examples")
    by_label: dict[str, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        by_label[label].append(index)
    rng = random.Random(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    position = 0
    for label in sorted(by_label):
        members = by_label[label]
        rng.shuffle(members)
        for index in members:
            folds[position % k].append(index)
            position += 1
    return [sorted(fold) for fold in folds]


# -- running a pipeline -----------------------------------------------------------------------


@dataclass(frozen=True)
class Prediction:
    """One test example with what the pipeline made of it."""

    text: str
    intent: str | None  # gold (base intent), None for an example without intent
    predicted_intent: str
    confidence: float
    tokens: tuple[tuple[int, int], ...]
    entities: tuple[Mapping[str, Any], ...]  # gold
    predicted_entities: tuple[Mapping[str, Any], ...]


def entity_extractors(pipeline: NluPipeline) -> list[str]:
    """Names of the pipeline's trained entity extractors, in pipeline order."""
    names: list[str] = []
    for component in pipeline.components:
        if (
            "entities" in component.provides
            and component.name not in PRETRAINED_EXTRACTORS
            and component.options.get("entity_recognition", True)
            and component.name not in names
        ):
            names.append(component.name)
    return names


def predict(pipeline: NluPipeline, examples: Sequence[NluExample]) -> list[Prediction]:
    """Parse every example's text (awaiting the pipeline when it does I/O)."""
    if pipeline.needs_io:

        async def parse_all() -> list[dict[str, Any]]:
            return [await pipeline.parse_async(e.text) for e in examples]

        results = asyncio.run(parse_all())
    else:
        results = [pipeline.parse(e.text) for e in examples]
    return [_prediction(e, r) for e, r in zip(examples, results, strict=True)]


def _prediction(example: NluExample, result: Mapping[str, Any]) -> Prediction:
    intent = result.get("intent") or {}
    tokens = result.get("text_tokens")
    return Prediction(
        text=example.text,
        intent=base_intent(example.intent) if example.intent else None,
        predicted_intent=intent.get("name") or NO_INTENT,
        confidence=float(intent.get("confidence") or 0.0),
        tokens=tuple(
            (int(s), int(e))
            for s, e in (tokens if tokens is not None else whitespace_tokens(example.text))
        ),
        entities=tuple(a.as_dict() for a in example.entities),
        predicted_entities=tuple(result.get("entities") or ()),
    )


# -- reports from predictions -----------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    intent_report: dict[str, Any]
    intent_errors: list[dict[str, Any]]
    intent_successes: list[dict[str, Any]]
    confused_pairs: list[tuple[str, str, int]]
    entity_reports: dict[str, dict[str, Any]]  # extractor -> report
    entity_errors: dict[str, list[dict[str, Any]]]


def evaluate(predictions: Sequence[Prediction], extractors: Sequence[str]) -> Evaluation:
    """All reports for ``predictions``; ``extractors`` are the entity extractors to score."""
    with_intent = [p for p in predictions if p.intent is not None]
    gold = [p.intent or "" for p in with_intent]
    predicted = [p.predicted_intent for p in with_intent]
    errors: list[dict[str, Any]] = []
    successes: list[dict[str, Any]] = []
    for p in with_intent:
        row = {
            "text": p.text,
            "intent": p.intent,
            "intent_prediction": {"name": p.predicted_intent, "confidence": p.confidence},
        }
        (successes if p.intent == p.predicted_intent else errors).append(row)
    entity_reports: dict[str, dict[str, Any]] = {}
    entity_errors: dict[str, list[dict[str, Any]]] = {}
    for extractor in extractors:
        entity_reports[extractor], entity_errors[extractor] = _entity_evaluation(
            predictions, extractor
        )
    return Evaluation(
        intent_report=intent_report(gold, predicted),
        intent_errors=errors,
        intent_successes=successes,
        confused_pairs=most_confused(confusions(gold, predicted)),
        entity_reports=entity_reports,
        entity_errors=entity_errors,
    )


def _entity_evaluation(
    predictions: Sequence[Prediction], extractor: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    gold: list[str] = []
    predicted: list[str] = []
    errors = []
    for p in predictions:
        mine = [e for e in p.predicted_entities if e.get("extractor") == extractor]
        expected = token_labels(p.tokens, p.entities)
        found = token_labels(p.tokens, mine)
        gold += expected
        predicted += found
        if expected != found:
            errors.append(
                {
                    "text": p.text,
                    "entities": list(p.entities),
                    "predicted_entities": [dict(e) for e in mine],
                }
            )
    return entity_report(gold, predicted), errors


# -- cross-validation -------------------------------------------------------------------------


@dataclass(frozen=True)
class CrossValidation:
    predictions: list[Prediction]  # every example, predicted by the model that did not see it
    extractors: list[str]
    # Per metric (e.g. "intent accuracy"), its value on each fold's held-out examples.
    fold_metrics: dict[str, list[float]]


def cross_validate(
    components: Sequence[tuple[str, Mapping[str, Any]]],
    data: NluData,
    folds: int,
    *,
    language: str = "en",
) -> CrossValidation:
    """Train ``components`` on all folds but one and predict that one, for each fold.

    Folds are stratified by intent (:func:`stratified_folds`); synonyms, regexes and lookup
    tables are part of every training set.
    """
    examples = list(data.examples)
    labels = [base_intent(e.intent) if e.intent else "" for e in examples]
    by_index: dict[int, Prediction] = {}
    fold_metrics: dict[str, list[float]] = defaultdict(list)
    extractors: list[str] = []
    for held_out in stratified_folds(labels, folds):
        chosen = set(held_out)
        training = replace(
            data, examples=tuple(e for i, e in enumerate(examples) if i not in chosen)
        )
        pipeline = NluPipeline.train(components, training, language=language)
        extractors = entity_extractors(pipeline)
        predictions = predict(pipeline, [examples[i] for i in held_out])
        by_index.update(zip(held_out, predictions, strict=True))
        for name, value in fold_scores(evaluate(predictions, extractors)).items():
            fold_metrics[name].append(value)
    return CrossValidation(
        [by_index[i] for i in range(len(examples))], extractors, dict(fold_metrics)
    )


def fold_scores(evaluation: Evaluation) -> dict[str, float]:
    """The headline numbers of one fold: accuracy, weighted F1 and precision."""
    intents = evaluation.intent_report
    scores = {
        "intent accuracy": intents["accuracy"],
        "intent f1-score": intents["weighted avg"]["f1-score"],
        "intent precision": intents["weighted avg"]["precision"],
    }
    for extractor, report in evaluation.entity_reports.items():
        scores[f"{extractor} f1-score"] = report["weighted avg"]["f1-score"]
        scores[f"{extractor} precision"] = report["weighted avg"]["precision"]
    return scores


def mean_and_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and (population) standard deviation of per-fold values."""
    return statistics.fmean(values), statistics.pstdev(values)


# -- text output ------------------------------------------------------------------------------


def format_report(report: Mapping[str, Any], title: str) -> str:
    """A report as an aligned table: one row per label, then the averages."""
    rows = [key for key in report if is_label_row(key)]
    width = max([len(title), *(len(r) for r in rows), len("weighted avg")])
    lines = [f"{title:<{width}}  precision  recall  f1-score  support"]
    for key in [*rows, *(k for k in _AVERAGES if k in report)]:
        value = report[key]
        if key == "accuracy":
            lines.append(f"{key:<{width}}  {'':>9}  {'':>6}  {value:>8.3f}")
            continue
        lines.append(
            f"{key:<{width}}  {value['precision']:>9.3f}  {value['recall']:>6.3f}  "
            f"{value['f1-score']:>8.3f}  {value['support']:>7}"
        )
    return "\n".join(lines)
