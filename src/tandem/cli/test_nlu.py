"""``tandem test nlu``: evaluate the NLU model (or cross-validate the config) on labelled data.

Writes, into ``--out``: ``intent_report.json``, ``intent_errors.json`` (``intent_successes.json``
with ``--successes``) and, per trained entity extractor, ``<Extractor>_report.json`` and
``<Extractor>_errors.json``; unless ``--no-plot`` (and with the ``plots`` extra installed,
else a warning), ``intent_confusion_matrix.png``, ``intent_histogram.png`` and per extractor
``<Extractor>_confusion_matrix.png``; prints the reports as tables and the most confused
intent pairs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tandem.nlu.evaluation import Evaluation, Prediction
    from tandem.project.training_data import NluData

CONFUSED_PAIRS_SHOWN = 10
INTENT_MATRIX = "intent_confusion_matrix.png"
INTENT_HISTOGRAM = "intent_histogram.png"


def add_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument(
        "--nlu",
        default="data",
        help="NLU test data: a YAML file or a folder of them (default: data)",
    )
    parser.add_argument(
        "-m", "--model", default="models", help="model archive or folder of them (default: models)"
    )
    parser.add_argument(
        "--out", default="results", help="folder for the reports (default: results)"
    )
    parser.add_argument(
        "-c",
        "--config",
        default="config.yml",
        help="config whose pipeline --cross-validation trains (default: config.yml)",
    )
    parser.add_argument(
        "--cross-validation",
        action="store_true",
        help="train the config's pipeline on folds of the --nlu data instead of using a model",
    )
    parser.add_argument(
        "-f", "--folds", type=int, default=5, help="number of cross-validation folds (default: 5)"
    )
    parser.add_argument("--successes", action="store_true", help="also write intent_successes.json")
    parser.add_argument(
        "--no-errors", action="store_true", help="do not write the *_errors.json files"
    )
    parser.add_argument(
        "--no-plot", action="store_true", help="do not write the confusion matrices and histogram"
    )


def run(args: argparse.Namespace) -> int:
    from tandem.model.archive import ArchiveError
    from tandem.nlu import NluError
    from tandem.project.errors import ProjectError

    try:
        data = _load_data(Path(args.nlu))
        if not data.examples:
            print(f"No NLU examples found in {args.nlu}.", file=sys.stderr)
            return 1
        if args.cross_validation:
            predictions, extractors = _cross_validate(args, data)
        else:
            predictions, extractors = _test_model(Path(args.model), data)
    except ProjectError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 1
    except (ArchiveError, NluError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    from tandem.nlu.evaluation import evaluate

    evaluation = evaluate(predictions, extractors)
    _write(evaluation, Path(args.out), successes=args.successes, errors=not args.no_errors)
    if not args.no_plot:
        _plot(predictions, extractors, Path(args.out))
    _print(evaluation)
    print(f"\nReports written to {args.out}/")
    return 0


def _load_data(path: Path) -> NluData:
    from tandem.project.data_files import load_training_data
    from tandem.project.errors import ProjectError, Source

    if not path.exists():
        raise ProjectError(Source(str(path)), "the NLU data path does not exist", "check --nlu")
    training_data, _flows = load_training_data([path], None, [])
    return training_data.nlu


def _test_model(model: Path, data: NluData) -> tuple[list[Prediction], list[str]]:
    from tandem.model.archive import unpacked_model
    from tandem.model.training import NLU_DIR
    from tandem.nlu import NluPipeline
    from tandem.nlu.evaluation import entity_extractors, predict

    with unpacked_model(model) as (archive, model_dir):
        pipeline = NluPipeline.load(model_dir / NLU_DIR)
    print(f"Testing {archive} on {len(data.examples)} examples")
    return predict(pipeline, data.examples), entity_extractors(pipeline)


def _cross_validate(args: argparse.Namespace, data: NluData) -> tuple[list[Prediction], list[str]]:
    from tandem.model.components import nlu_components
    from tandem.nlu.evaluation import cross_validate, mean_and_std
    from tandem.project.config import load_config

    config = load_config(args.config)
    components = nlu_components(config)
    print(f"Cross-validating {args.config} on {len(data.examples)} examples, {args.folds} folds")
    result = cross_validate(components, data, args.folds, language=config.language or "en")
    print("\nHeld-out scores over the folds (mean ± standard deviation):")
    for name, values in result.fold_metrics.items():
        mean, std = mean_and_std(values)
        print(f"  {name}: {mean:.3f} ± {std:.3f}")
    return result.predictions, result.extractors


def _write(evaluation: Evaluation, out: Path, *, successes: bool, errors: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {"intent_report.json": evaluation.intent_report}
    if errors:
        files["intent_errors.json"] = evaluation.intent_errors
    if successes:
        files["intent_successes.json"] = evaluation.intent_successes
    for extractor, report in evaluation.entity_reports.items():
        files[f"{extractor}_report.json"] = report
        if errors:
            files[f"{extractor}_errors.json"] = evaluation.entity_errors[extractor]
    for name, content in files.items():
        (out / name).write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", "utf-8")


def _plot(predictions: Sequence[Prediction], extractors: Sequence[str], out: Path) -> None:
    """The reference's intent plots, and an entity confusion matrix per extractor (over the
    tokens, as the entity report counts them)."""
    from tandem.nlu.evaluation import token_labels
    from tandem.testing import plots

    warning = plots.missing()
    if warning:
        print(warning, file=sys.stderr)
        return
    scored = [p for p in predictions if p.intent is not None]
    if scored:
        gold = [p.intent or "" for p in scored]
        plots.confusion_matrix(
            gold,
            [p.predicted_intent for p in scored],
            out / INTENT_MATRIX,
            title="Intents",
        )
        plots.confidence_histogram(
            [p.confidence for p in scored if p.intent == p.predicted_intent],
            [p.confidence for p in scored if p.intent != p.predicted_intent],
            out / INTENT_HISTOGRAM,
            title="Intent prediction confidence",
        )
    for extractor in extractors:
        gold_tokens: list[str] = []
        found_tokens: list[str] = []
        for p in predictions:
            mine = [e for e in p.predicted_entities if e.get("extractor") == extractor]
            gold_tokens += token_labels(p.tokens, p.entities)
            found_tokens += token_labels(p.tokens, mine)
        if gold_tokens:
            plots.confusion_matrix(
                gold_tokens,
                found_tokens,
                out / f"{extractor}_confusion_matrix.png",
                title=f"Entities ({extractor}, per token)",
            )


def _print(evaluation: Evaluation) -> None:
    from tandem.nlu.evaluation import format_report

    print("\nIntent evaluation")
    print(format_report(evaluation.intent_report, "intent"))
    pairs = evaluation.confused_pairs[:CONFUSED_PAIRS_SHOWN]
    if pairs:
        print("\nMost confused intent pairs (gold -> predicted: count)")
        for gold, predicted, count in pairs:
            print(f"  {gold} -> {predicted}: {count}")
    for extractor, report in evaluation.entity_reports.items():
        print(f"\nEntity evaluation: {extractor} (per token; averages without no_entity)")
        print(format_report(report, "entity"))
