"""Small builders for NLU tests: examples with entities, data sets and trained pipelines."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tandem.cli.main import main
from tandem.nlu import NluPipeline
from tandem.project.training_data import EntityAnnotation, NluData, NluExample

INTENT_PIPELINE = [
    ("WhitespaceTokenizer", {}),
    ("CountVectorsFeaturizer", {}),
    ("CountVectorsFeaturizer", {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4}),
    ("LogisticRegressionClassifier", {}),
]


def example(text: str, intent: str | None, *entities: tuple[Any, ...]) -> NluExample:
    """An example whose entities are (substring, entity[, role[, group[, value]]]), located in
    order of appearance."""
    annotations = []
    cursor = 0
    for spec in entities:
        span, entity, role, group, value = (*spec, None, None, None)[:5]
        start = text.index(span, cursor)
        cursor = start + len(span)
        annotations.append(EntityAnnotation(entity, value or span, start, cursor, role, group))
    return NluExample(text, intent, tuple(annotations))


def greetings() -> list[NluExample]:
    return [
        *(
            example(t, "greet")
            for t in ("hello", "hi there", "good morning", "hey", "hello friend")
        ),
        *(
            example(t, "goodbye")
            for t in ("bye", "see you later", "goodbye", "good night", "bye bye")
        ),
        *(
            example(t, "thank")
            for t in ("thanks", "thank you", "thanks a lot", "many thanks", "thank you so much")
        ),
    ]


def flights() -> list[NluExample]:
    """Flight requests with departure/destination roles on city entities."""
    pairs = [
        ("Berlin", "Paris"),
        ("London", "Rome"),
        ("Madrid", "Oslo"),
        ("Vienna", "Prague"),
        ("Lisbon", "Dublin"),
        ("Athens", "Zurich"),
        ("Warsaw", "Milan"),
    ]
    result = []
    for a, b in pairs:
        result.append(
            example(
                f"fly from {a} to {b}",
                "book_flight",
                (a, "city", "departure"),
                (b, "city", "destination"),
            )
        )
        result.append(
            example(
                f"I need a flight to {b} from {a}",
                "book_flight",
                (b, "city", "destination"),
                (a, "city", "departure"),
            )
        )
    return result


def data(
    examples: Sequence[NluExample],
    *,
    synonyms: Mapping[str, str] | None = None,
    regexes: Sequence[tuple[str, str]] = (),
    lookups: Mapping[str, tuple[str, ...]] | None = None,
) -> NluData:
    return NluData(
        examples=tuple(examples),
        synonyms=synonyms or {},
        regexes=tuple(regexes),
        lookups=lookups or {},
    )


def train(components: Sequence[tuple[str, Mapping[str, Any]]], nlu: NluData) -> NluPipeline:
    return NluPipeline.train(components, nlu)


def validate_starter(folder: Path, tokenizer: str) -> tuple[int, str, list[str]]:
    """``tandem init`` a starter in ``folder`` with ``tokenizer`` (config lines) in place of
    its WhitespaceTokenizer, then ``tandem data validate`` it: the exit code, the output and
    the config's lines."""
    assert main(["init", str(folder)]) == 0
    config = folder / "config.yml"
    config.write_text(config.read_text().replace("  - name: WhitespaceTokenizer\n", tokenizer))
    out = io.StringIO()
    with contextlib.chdir(folder), contextlib.redirect_stdout(out):
        code = main(["data", "validate"])
    return code, out.getvalue(), config.read_text().splitlines()
