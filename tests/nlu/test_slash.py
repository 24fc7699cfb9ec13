"""Slash messages (`/intent@confidence{entities}`), as the RegexMessageHandler parses them."""

from __future__ import annotations

import pytest
from nlu_testkit import INTENT_PIPELINE, data, greetings, train

from tandem.nlu import parse_slash_message

INTENTS = {"greet", "inform", "goodbye"}
ENTITIES = {"location", "cuisine"}


def slash(text: str) -> dict | None:
    return parse_slash_message(text, INTENTS, ENTITIES)


def test_plain_intent() -> None:
    assert slash("/greet") == {
        "text": "/greet",
        "intent": {"name": "greet", "confidence": 1.0},
        "intent_ranking": [{"name": "greet", "confidence": 1.0}],
        "entities": [],
    }


def test_entities_get_the_span_of_the_json_block() -> None:
    result = slash('/inform{"location": "berlin"}')
    assert result["entities"] == [
        {
            "entity": "location",
            "value": "berlin",
            "start": 7,
            "end": 29,
            "extractor": "RegexMessageHandler",
        }
    ]


def test_confidence_and_list_values() -> None:
    result = slash('/inform@0.75{"cuisine": ["thai", "indian"]}')
    assert result["intent"] == {"name": "inform", "confidence": 0.75}
    assert [(e["entity"], e["value"]) for e in result["entities"]] == [
        ("cuisine", "thai"),
        ("cuisine", "indian"),
    ]
    assert {(e["start"], e["end"]) for e in result["entities"]} == {(12, 43)}


@pytest.mark.parametrize(
    ("text", "confidence"), [("/greet@1.5", 1.0), ("/greet@0.1.2", 0.0), ("/greet@0", 0.0)]
)
def test_confidence_is_clamped_or_zero_when_unreadable(text: str, confidence: float) -> None:
    assert slash(text)["intent"]["confidence"] == confidence


def test_unknown_entities_are_dropped_and_invalid_json_gives_none(
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = slash('/inform{"location": "rome", "weather": "sunny"}')
    assert [e["entity"] for e in result["entities"]] == ["location"]
    assert "entity 'weather' is not in the domain" in caplog.text
    assert slash("/inform{location: rome}")["entities"] == []
    assert slash('/inform{"a"}')["entities"] == []
    assert "not a JSON object" in caplog.text


def test_unknown_intent_and_non_slash_text_are_not_handled() -> None:
    assert slash("/order_pizza") is None
    assert slash("greet") is None
    assert slash("/") is None


def test_without_a_domain_every_name_is_accepted() -> None:
    result = parse_slash_message('/order{"size": "large"}', None, None)
    assert result["intent"]["name"] == "order"
    assert result["entities"][0]["entity"] == "size"


def test_surrounding_whitespace_and_trailing_text(caplog: pytest.LogCaptureFixture) -> None:
    result = slash('  /inform{"location": "oslo"} please')
    assert result["text"] == '  /inform{"location": "oslo"} please'
    assert (result["entities"][0]["start"], result["entities"][0]["end"]) == (9, 29)
    assert "ignoring trailing text" in caplog.text


def test_pipeline_runs_the_handler_after_its_components() -> None:
    pipeline = train(
        [*INTENT_PIPELINE, ("FallbackClassifier", {"threshold": 0.99})], data(greetings())
    )
    result = pipeline.parse("/goodbye@0.5", intents=INTENTS, entities=ENTITIES)
    assert result["intent"] == {"name": "goodbye", "confidence": 0.5}  # not nlu_fallback
    assert result["intent_ranking"] == [{"name": "goodbye", "confidence": 0.5}]
    assert result["text_tokens"] == [[1, 12]]  # the pipeline's other output stays
    assert pipeline.parse("/order_pizza", intents=INTENTS)["intent"]["name"] == "nlu_fallback"
