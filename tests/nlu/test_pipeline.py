"""The pipeline as a whole: parse result JSON, persistence, determinism, response selection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nlu_testkit import INTENT_PIPELINE, data, example, flights, greetings, train

from tandem.nlu import NluError, NluPipeline

FULL = [
    ("WhitespaceTokenizer", {}),
    ("RegexFeaturizer", {}),
    ("LexicalSyntacticFeaturizer", {}),
    ("CountVectorsFeaturizer", {}),
    ("CountVectorsFeaturizer", {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4}),
    ("LogisticRegressionClassifier", {"random_state": 42, "ranking_length": 3}),
    ("CRFEntityExtractor", {}),
    ("RegexEntityExtractor", {}),
    ("EntitySynonymMapper", {}),
    ("ResponseSelector", {"epochs": 10}),
    ("FallbackClassifier", {"threshold": 0.3, "ambiguity_threshold": 0.1}),
]
FAQ = [
    example("what is your name", "faq/ask_name"),
    example("who are you", "faq/ask_name"),
    example("how old are you", "faq/ask_age"),
    example("what is your age", "faq/ask_age"),
]
QUERIES = [
    "fly from Hamburg to Tokyo",
    "hello there",
    "how old are you",
    "zip 12345 in NYC",
    "qwerty",
    "/greet",
]


@pytest.fixture(scope="module")
def nlu():
    return data(
        [*greetings(), *flights(), *FAQ, example("my zip is 10115", "inform", ("10115", "zip"))],
        synonyms={"nyc": "New York"},
        regexes=[("zip", r"\d{5}")],
        lookups={"city": ("NYC", "Berlin")},
    )


@pytest.fixture(scope="module")
def pipeline(nlu) -> NluPipeline:
    return NluPipeline.train(FULL, nlu)


def test_parse_result_shape(pipeline: NluPipeline) -> None:
    result = pipeline.parse("fly from Hamburg to Tokyo")
    assert list(result) == [
        "text",
        "intent",
        "entities",
        "text_tokens",
        "intent_ranking",
        "response_selector",
    ]
    assert result["text"] == "fly from Hamburg to Tokyo"
    assert result["intent"]["name"] == "book_flight"
    assert set(result["intent"]) == {"name", "confidence"}
    assert result["text_tokens"] == [[0, 3], [4, 8], [9, 16], [17, 19], [20, 25]]
    assert len(result["intent_ranking"]) == 3  # ranking_length
    for entity in result["entities"]:
        assert None not in entity.values()
        assert {"entity", "start", "end", "value", "extractor"} <= set(entity)
    json.dumps(result)  # plain JSON types only


def test_null_values_are_dropped(pipeline: NluPipeline) -> None:
    entity = pipeline.parse("zip 12345")["entities"][0]
    assert "role" not in entity and "group" not in entity and "processors" not in entity


def test_empty_text() -> None:
    pipeline = train(INTENT_PIPELINE, data(greetings()))
    assert pipeline.parse("") == {
        "text": "",
        "intent": {"name": None, "confidence": 0.0},
        "entities": [],
    }


def test_without_classifier_the_intent_is_null() -> None:
    result = train([("WhitespaceTokenizer", {})], data(greetings())).parse("hello")
    assert result == {
        "text": "hello",
        "intent": {"name": None, "confidence": 0.0},
        "entities": [],
        "text_tokens": [[0, 5]],
    }


def test_response_selector_output_and_full_retrieval_intent(pipeline: NluPipeline) -> None:
    result = pipeline.parse("how old are you")
    assert result["intent"]["name"] == "faq"
    assert result["intent"]["full_retrieval_intent_name"] == "faq/ask_age"
    selector = result["response_selector"]
    assert selector["all_retrieval_intents"] == ["faq"]
    response = selector["default"]["response"]
    assert response["intent_response_key"] == "faq/ask_age"
    assert response["utter_action"] == "utter_faq/ask_age"
    assert response["confidence"] == selector["default"]["ranking"][0]["confidence"]
    assert [r["intent_response_key"] for r in selector["default"]["ranking"]] == [
        "faq/ask_age",
        "faq/ask_name",
    ]
    assert "full_retrieval_intent_name" not in pipeline.parse("hello there")["intent"]


def test_response_selector_for_one_retrieval_intent_and_without_any(nlu) -> None:
    base = [*INTENT_PIPELINE]
    named = train([*base, ("ResponseSelector", {"retrieval_intent": "faq"})], nlu).parse(
        "who are you"
    )
    assert named["response_selector"]["faq"]["response"]["intent_response_key"] == "faq/ask_name"
    empty = train([*base, ("ResponseSelector", {})], data(greetings())).parse("hello")
    assert empty["response_selector"] == {
        "all_retrieval_intents": [],
        "default": {
            "response": {
                "responses": None,
                "confidence": 0.0,
                "intent_response_key": None,
                "utter_action": "utter_None",
            },
            "ranking": [],
        },
    }


def test_persistence_round_trip_gives_identical_parses(
    pipeline: NluPipeline, tmp_path: Path
) -> None:
    pipeline.persist(tmp_path)
    assert {p.suffix for p in tmp_path.iterdir()} <= {".json", ".npy", ".crfsuite"}
    loaded = NluPipeline.load(tmp_path)
    for query in QUERIES:
        assert loaded.parse(query) == pipeline.parse(query)


def test_loading_refuses_unknown_components_and_formats(
    pipeline: NluPipeline, tmp_path: Path
) -> None:
    pipeline.persist(tmp_path)
    manifest = json.loads((tmp_path / "pipeline.json").read_text())
    manifest["components"][0]["name"] = "os.system"
    (tmp_path / "pipeline.json").write_text(json.dumps(manifest))
    with pytest.raises(NluError, match=r"unknown component 'os\.system'"):
        NluPipeline.load(tmp_path)
    manifest["format"] = 99
    (tmp_path / "pipeline.json").write_text(json.dumps(manifest))
    with pytest.raises(NluError, match=r"NLU model format 99 is not 4; train the model again"):
        NluPipeline.load(tmp_path)


def test_arrays_are_loaded_without_pickle(pipeline: NluPipeline, tmp_path: Path) -> None:
    import numpy as np

    pipeline.persist(tmp_path)
    weights = next(tmp_path.glob("*LogisticRegressionClassifier.weights.npy"))
    np.save(weights, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="pickle"):
        NluPipeline.load(tmp_path)


def test_training_is_deterministic(nlu, pipeline: NluPipeline) -> None:
    again = NluPipeline.train(FULL, nlu)
    for query in QUERIES:
        assert again.parse(query) == pipeline.parse(query)


def test_aliases_select_featurizers() -> None:
    nlu = data(greetings())
    components = [
        ("WhitespaceTokenizer", {}),
        ("CountVectorsFeaturizer", {"alias": "words"}),
        (
            "CountVectorsFeaturizer",
            {"alias": "chars", "analyzer": "char_wb", "min_ngram": 2, "max_ngram": 3},
        ),
    ]
    words_only = train([*components, ("DIETClassifier", {"featurizers": ["words"]})], nlu)
    both = train([*components, ("DIETClassifier", {})], nlu)
    # "helo" is unknown as a word, but shares character n-grams with "hello".
    assert words_only.parse("helo")["intent"]["confidence"] < 0.5
    assert both.parse("helo")["intent"]["name"] == "greet"
    assert (
        both.parse("helo")["intent"]["confidence"]
        > words_only.parse("helo")["intent"]["confidence"]
    )


def test_sync_parse_is_refused_when_a_component_does_io() -> None:
    pipeline = train(
        [("DucklingEntityExtractor", {"url": "http://127.0.0.1:9"})], data(greetings())
    )
    assert pipeline.needs_io
    with pytest.raises(RuntimeError, match="parse_async"):
        pipeline.parse("tomorrow")
