"""NLU evaluation: metrics, confusions, token-level entity scores and folds, checked by hand."""

from __future__ import annotations

import pytest
from nlu_testkit import INTENT_PIPELINE, data, example, greetings

from tandem.nlu import NluPipeline
from tandem.nlu.evaluation import (
    NO_ENTITY,
    Prediction,
    cross_validate,
    entity_extractors,
    entity_report,
    evaluate,
    format_report,
    intent_report,
    label_scores,
    mean_and_std,
    predict,
    stratified_folds,
    token_labels,
    whitespace_tokens,
)

GOLD = ["a", "a", "a", "b", "b", "c"]
PREDICTED = ["a", "a", "b", "b", "c", "c"]


def test_per_label_scores() -> None:
    scores = label_scores(GOLD, PREDICTED, ["a", "b", "c"])
    # a: 2 of 2 predictions right, 2 of 3 found; b: 1 of 2 and 1 of 2; c: 1 of 2 and 1 of 1.
    assert scores["a"] == pytest.approx(
        {"precision": 1.0, "recall": 2 / 3, "f1-score": 0.8, "support": 3}
    )
    assert scores["b"] == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "f1-score": 0.5, "support": 2}
    )
    assert scores["c"] == pytest.approx(
        {"precision": 0.5, "recall": 1.0, "f1-score": 2 / 3, "support": 1}
    )


def test_intent_report_accuracy_averages_and_confusions() -> None:
    report = intent_report(GOLD, PREDICTED)
    assert list(report) == ["a", "b", "c", "accuracy", "macro avg", "weighted avg"]
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["macro avg"] == pytest.approx(
        {
            "precision": (1.0 + 0.5 + 0.5) / 3,
            "recall": (2 / 3 + 0.5 + 1.0) / 3,
            "f1-score": (0.8 + 0.5 + 2 / 3) / 3,
            "support": 6,
        }
    )
    assert report["weighted avg"] == pytest.approx(
        {
            "precision": (3 * 1.0 + 2 * 0.5 + 1 * 0.5) / 6,
            "recall": 4 / 6,
            "f1-score": (3 * 0.8 + 2 * 0.5 + 1 * 2 / 3) / 6,
            "support": 6,
        }
    )
    assert report["a"]["confused_with"] == {"b": 1}
    assert report["b"]["confused_with"] == {"c": 1}
    assert report["c"]["confused_with"] == {}


def test_a_label_only_predicted_has_zero_scores_and_counts_in_the_macro_average() -> None:
    report = intent_report(["a", "b"], ["a", "x"])
    assert report["x"] == {
        "precision": 0.0,
        "recall": 0.0,
        "f1-score": 0.0,
        "support": 0,
        "confused_with": {},
    }
    assert report["b"]["recall"] == 0.0 and report["b"]["precision"] == 0.0
    assert report["macro avg"]["f1-score"] == pytest.approx(1 / 3)
    assert report["weighted avg"]["f1-score"] == pytest.approx(0.5)


def test_confused_with_keeps_the_most_frequent_first_ties_by_name() -> None:
    gold = ["a"] * 7
    predicted = ["b", "e", "d", "d", "b", "c", "a"]
    assert intent_report(gold, predicted, top=2)["a"]["confused_with"] == {"b": 2, "d": 2}
    assert list(intent_report(gold, predicted)["a"]["confused_with"]) == ["b", "d", "c", "e"]


def test_mismatched_lengths_are_an_error() -> None:
    with pytest.raises(ValueError):
        label_scores(["a"], [], ["a"])


def test_token_labels_from_overlapping_entity_spans() -> None:
    text = "fly from Berlin to New York"
    tokens = whitespace_tokens(text)
    assert tokens == [(0, 3), (4, 8), (9, 15), (16, 18), (19, 22), (23, 27)]
    entities = [
        {"entity": "city", "start": 9, "end": 15},
        {"entity": "city", "start": 19, "end": 27},
    ]
    assert token_labels(tokens, entities) == [
        NO_ENTITY,
        NO_ENTITY,
        "city",
        NO_ENTITY,
        "city",
        "city",
    ]
    # A predicted span covering only part of a token still labels it.
    assert token_labels(tokens, [{"entity": "x", "start": 20, "end": 21}])[4] == "x"
    # Spans that only touch a token (end == token start, start == token end) do not.
    assert token_labels(tokens, [{"entity": "x", "start": 15, "end": 19}]) == [
        NO_ENTITY,
        NO_ENTITY,
        NO_ENTITY,
        "x",
        NO_ENTITY,
        NO_ENTITY,
    ]


def test_entity_report_leaves_no_entity_out_of_the_averages() -> None:
    gold = [NO_ENTITY, "city", NO_ENTITY, "city", "city"]
    predicted = [NO_ENTITY, "city", NO_ENTITY, NO_ENTITY, "date"]
    report = entity_report(gold, predicted)
    # city: 1 of 1 prediction right, 1 of 3 found; date: 1 wrong prediction, no support.
    assert report["city"] == pytest.approx(
        {"precision": 1.0, "recall": 1 / 3, "f1-score": 0.5, "support": 3}
    )
    assert report["date"] == pytest.approx(
        {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0}
    )
    assert report[NO_ENTITY] == pytest.approx(
        {"precision": 2 / 3, "recall": 1.0, "f1-score": 0.8, "support": 2}
    )
    # micro: 1 right of 2 entity predictions, of 3 entity tokens.
    assert report["micro avg"] == pytest.approx(
        {"precision": 0.5, "recall": 1 / 3, "f1-score": 0.4, "support": 3}
    )
    assert report["macro avg"] == pytest.approx(
        {"precision": 0.5, "recall": 1 / 6, "f1-score": 0.25, "support": 3}
    )
    assert report["weighted avg"] == pytest.approx(
        {"precision": 1.0, "recall": 1 / 3, "f1-score": 0.5, "support": 3}
    )


def test_stratified_folds_spread_every_intent_and_are_deterministic() -> None:
    labels = ["a"] * 6 + ["b"] * 3 + ["c"]
    folds = stratified_folds(labels, 3)
    assert sorted(i for fold in folds for i in fold) == list(range(10))
    for fold in folds:
        assert sum(labels[i] == "a" for i in fold) == 2
        assert sum(labels[i] == "b" for i in fold) == 1
    assert sorted(len(fold) for fold in folds) == [3, 3, 4]
    assert stratified_folds(labels, 3) == folds
    assert stratified_folds(labels, 3, seed=1) != folds
    with pytest.raises(ValueError):
        stratified_folds(labels, 1)
    with pytest.raises(ValueError):
        stratified_folds(labels, 11)


def _prediction(text: str, intent: str, predicted: str, **entities: list) -> Prediction:
    return Prediction(
        text=text,
        intent=intent,
        predicted_intent=predicted,
        confidence=0.75,
        tokens=tuple(whitespace_tokens(text)),
        entities=tuple(entities.get("gold", ())),
        predicted_entities=tuple(entities.get("found", ())),
    )


def test_evaluate_collects_errors_successes_and_entity_reports() -> None:
    city = {"entity": "city", "start": 7, "end": 13, "value": "Berlin"}
    predictions = [
        _prediction("fly to Berlin", "fly", "fly", gold=[city], found=[]),
        _prediction("to Berlin!", "fly", "greet"),
        _prediction(
            "fly to Berlin",
            "fly",
            "fly",
            gold=[city],
            found=[
                {"entity": "city", "start": 7, "end": 13, "extractor": "CRFEntityExtractor"},
                {"entity": "date", "start": 0, "end": 3, "extractor": "RegexEntityExtractor"},
            ],
        ),
    ]
    evaluation = evaluate(predictions, ["CRFEntityExtractor"])
    assert evaluation.intent_errors == [
        {
            "text": "to Berlin!",
            "intent": "fly",
            "intent_prediction": {"name": "greet", "confidence": 0.75},
        }
    ]
    assert [s["text"] for s in evaluation.intent_successes] == ["fly to Berlin"] * 2
    assert evaluation.confused_pairs == [("fly", "greet", 1)]
    # Only the CRF's own entities count: 1 of 2 city tokens found, no wrong one.
    crf = evaluation.entity_reports["CRFEntityExtractor"]
    assert crf["city"] == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "f1-score": 2 / 3, "support": 2}
    )
    assert [e["text"] for e in evaluation.entity_errors["CRFEntityExtractor"]] == ["fly to Berlin"]
    assert "RegexEntityExtractor" not in evaluation.entity_reports


def test_format_report_is_a_table() -> None:
    table = format_report(intent_report(GOLD, PREDICTED), "intent")
    lines = table.splitlines()
    assert lines[0].split() == ["intent", "precision", "recall", "f1-score", "support"]
    assert lines[1].split() == ["a", "1.000", "0.667", "0.800", "3"]
    assert lines[4].split() == ["accuracy", "0.667"]
    assert lines[-1].split() == ["weighted", "avg", "0.750", "0.667", "0.678", "6"]


def test_predict_scores_retrieval_intents_by_their_base_intent() -> None:
    examples = [
        *greetings(),
        example("what is your name", "faq/ask_name"),
        example("who are you", "faq/ask_name"),
    ]
    pipeline = NluPipeline.train(INTENT_PIPELINE, data(examples))
    predictions = predict(pipeline, [example("what is your name", "faq/ask_name")])
    assert predictions[0].intent == "faq"
    assert predictions[0].predicted_intent == "faq"
    assert predictions[0].tokens == ((0, 4), (5, 7), (8, 12), (13, 17))
    assert entity_extractors(pipeline) == []


def test_cross_validation_predicts_every_example_once_with_an_unseen_model() -> None:
    examples = greetings()
    result = cross_validate(INTENT_PIPELINE, data(examples), 5)
    assert [p.text for p in result.predictions] == [e.text for e in examples]
    assert [p.intent for p in result.predictions] == [e.intent for e in examples]
    assert set(result.fold_metrics) == {"intent accuracy", "intent f1-score", "intent precision"}
    assert all(len(values) == 5 for values in result.fold_metrics.values())
    # Trained on everything, "thank you" is certainly "thank"; the fold models never saw the
    # text they predict, so they are not all right.
    assert sum(p.intent == p.predicted_intent for p in result.predictions) < len(examples)
    assert cross_validate(INTENT_PIPELINE, data(examples), 5) == result


def test_mean_and_std() -> None:
    assert mean_and_std([0.5, 1.0]) == pytest.approx((0.75, 0.25))
