"""``tandem test nlu``: reports of a trained model on held-out data, and cross-validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tandem.cli.main import main

CONFIG = """\
recipe: default.v1
language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 4
  - name: LogisticRegressionClassifier
  - name: RegexEntityExtractor
policies: []
"""

DOMAIN = """\
version: "3.1"
intents: [greet, goodbye, check_order]
entities: [order_number]
"""

TRAINING = r"""
version: "3.1"
nlu:
  - intent: greet
    examples: |
      - hello
      - hi
      - hey there
      - good morning
  - intent: goodbye
    examples: |
      - bye
      - goodbye
      - see you later
      - good night
  - intent: check_order
    examples: |
      - check order [4711](order_number)
      - where is order [1234](order_number)
      - where is my order [5555](order_number)
      - status of my order [8080](order_number)
  - regex: order_number
    examples: |
      - \d{4}
"""

# Texts the model was trained on (so its intents are certain), one of them mislabelled, and
# entity annotations the regex cannot all reproduce.
HELD_OUT = """
version: "3.1"
nlu:
  - intent: greet
    examples: |
      - hello
      - hi
  - intent: goodbye
    examples: |
      - bye
      - hey there
  - intent: check_order
    examples: |
      - check order [4711](order_number)
      - where is order [abc](order_number)
      - where is order 1234
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "config.yml").write_text(CONFIG)
    (tmp_path / "domain.yml").write_text(DOMAIN)
    (tmp_path / "data" / "nlu.yml").write_text(TRAINING)
    (tmp_path / "test_nlu.yml").write_text(HELD_OUT)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def read(path: Path) -> object:
    return json.loads(path.read_text(encoding="utf-8"))


def test_reports_of_the_trained_model(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train"]) == 0
    capsys.readouterr()
    assert main(["test", "nlu", "--nlu", "test_nlu.yml"]) == 0
    out = capsys.readouterr().out

    report = read(project / "results" / "intent_report.json")
    assert isinstance(report, dict)
    # gold:      greet greet goodbye goodbye check check check
    # predicted: greet greet goodbye greet   check check check
    assert report["greet"].pop("confused_with") == {}
    assert report["greet"] == pytest.approx(
        {"precision": 2 / 3, "recall": 1.0, "f1-score": 0.8, "support": 2}
    )
    assert report["goodbye"].pop("confused_with") == {"greet": 1}
    assert report["goodbye"] == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "f1-score": 2 / 3, "support": 2}
    )
    assert report["check_order"]["f1-score"] == 1.0
    assert report["accuracy"] == pytest.approx(6 / 7)
    assert report["macro avg"]["f1-score"] == pytest.approx((0.8 + 2 / 3 + 1.0) / 3)
    assert report["weighted avg"]["precision"] == pytest.approx((2 * 2 / 3 + 2 * 1 + 3 * 1) / 7)

    errors = read(project / "results" / "intent_errors.json")
    assert isinstance(errors, list) and len(errors) == 1
    assert errors[0]["text"] == "hey there"
    assert errors[0]["intent"] == "goodbye"
    assert errors[0]["intent_prediction"]["name"] == "greet"
    assert 0.0 < errors[0]["intent_prediction"]["confidence"] <= 1.0

    # Tokens: 5 in the greet/goodbye texts, "check order 4711" (entity found), "where is order
    # abc" (missed), "where is order 1234" (found although not annotated): of 14 gold
    # no_entity tokens and 14 predicted ones, 13 agree.
    entities = read(project / "results" / "RegexEntityExtractor_report.json")
    assert isinstance(entities, dict)
    assert entities["order_number"] == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "f1-score": 0.5, "support": 2}
    )
    assert entities["no_entity"] == pytest.approx(
        {"precision": 13 / 14, "recall": 13 / 14, "f1-score": 13 / 14, "support": 14}
    )
    assert entities["micro avg"]["f1-score"] == pytest.approx(0.5)
    entity_errors = read(project / "results" / "RegexEntityExtractor_errors.json")
    assert [e["text"] for e in entity_errors] == ["where is order abc", "where is order 1234"]

    assert "goodbye -> greet: 1" in out
    assert "accuracy" in out and "0.857" in out
    assert not (project / "results" / "intent_successes.json").exists()


def test_no_model_is_an_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", "nlu", "--nlu", "test_nlu.yml"]) == 1
    assert "no model archive found" in capsys.readouterr().err


def test_missing_data_is_an_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", "nlu", "--nlu", "nothing.yml", "--cross-validation"]) == 1
    assert "nothing.yml" in capsys.readouterr().err


def test_cross_validation_trains_the_config_on_folds(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["test", "nlu", "--nlu", "data", "--cross-validation", "-f", "2", "--out", "cv"]
    assert main([*args, "--successes", "--no-errors"]) == 0
    out = capsys.readouterr().out
    assert "12 examples, 2 folds" in out
    assert "intent accuracy:" in out and "RegexEntityExtractor f1-score:" in out
    report = read(project / "cv" / "intent_report.json")
    assert isinstance(report, dict)
    assert sum(report[i]["support"] for i in ("greet", "goodbye", "check_order")) == 12
    successes = read(project / "cv" / "intent_successes.json")
    assert isinstance(successes, list)
    assert len(successes) == round(report["accuracy"] * 12)
    assert not (project / "cv" / "intent_errors.json").exists()
    # Every training fold has order numbers, so the regex finds all four held-out ones.
    entities = read(project / "cv" / "RegexEntityExtractor_report.json")
    assert isinstance(entities, dict)
    assert entities["order_number"]["f1-score"] == 1.0
