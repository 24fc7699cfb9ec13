"""Intent classifiers: LogisticRegressionClassifier (and SklearnIntentClassifier, which it
serves), KeywordIntentClassifier, FallbackClassifier."""

from __future__ import annotations

import pytest
from nlu_testkit import INTENT_PIPELINE, data, example, greetings, train

from tandem.nlu.fallback import FallbackClassifier
from tandem.nlu.message import Message

WITH_OPTIONS = INTENT_PIPELINE[:-1]


def classifier(**options: object) -> list[tuple[str, dict]]:
    return [*WITH_OPTIONS, ("LogisticRegressionClassifier", options)]


def test_logistic_regression_ranks_all_intents_with_probabilities() -> None:
    result = train(INTENT_PIPELINE, data(greetings())).parse("thanks a lot my friend")
    assert result["intent"]["name"] == "thank"
    ranking = result["intent_ranking"]
    assert ranking[0]["name"] == "thank" and len(ranking) == 3
    # The near-miss label's share is left out: a message unlike the examples sums to less.
    assert 0.5 < sum(r["confidence"] for r in ranking) < 1.0
    assert ranking == sorted(ranking, key=lambda r: -r["confidence"])
    assert result["intent"] == ranking[0]


def test_ranking_length_limits_the_ranking_and_zero_keeps_all() -> None:
    nlu = data(greetings())
    assert len(train(classifier(ranking_length=2), nlu).parse("hello")["intent_ranking"]) == 2
    assert len(train(classifier(ranking_length=0), nlu).parse("hello")["intent_ranking"]) == 3


def test_max_iter_and_tol_stop_training_early() -> None:
    nlu = data(greetings())
    confident = train(classifier(), nlu).parse("hello")["intent"]["confidence"]
    assert (
        train(classifier(max_iter=1), nlu).parse("hello")["intent"]["confidence"] < confident - 0.2
    )
    # Untrained: uniform over the three intents and the near-miss label.
    assert train(classifier(tol=10.0), nlu).parse("hello")["intent"]["confidence"] == pytest.approx(
        1 / 4
    )


def test_training_is_deterministic() -> None:
    nlu = data(greetings())
    first = train(classifier(random_state=42), nlu).parse("good bye my friend")
    assert train(classifier(random_state=42), nlu).parse("good bye my friend") == first


def test_intent_tokenization_shares_weights_between_sub_intents() -> None:
    # One example of the combination: with the flag it borrows what greet and goodbye learned.
    examples = [*greetings(), example("hello and goodbye", "greet+goodbye")]

    def combined(flag: bool, query: str) -> float:
        tokenizer = (
            "WhitespaceTokenizer",
            {"intent_tokenization_flag": flag, "intent_split_symbol": "+"},
        )
        result = train([tokenizer, *INTENT_PIPELINE[1:]], data(examples)).parse(query)
        return {r["name"]: r["confidence"] for r in result["intent_ranking"]}["greet+goodbye"]

    for query in ("good morning, see you later", "hello, see you later"):
        assert combined(True, query) > 1.5 * combined(False, query)


def test_retrieval_intents_are_classified_by_their_base_name() -> None:
    examples = [
        *greetings(),
        example("what is your name", "faq/ask_name"),
        example("how old are you", "faq/ask_age"),
    ]
    result = train(INTENT_PIPELINE, data(examples)).parse("what is your name")
    assert result["intent"]["name"] == "faq"
    assert "faq/ask_name" not in {r["name"] for r in result["intent_ranking"]}


def test_sklearn_intent_classifier_is_the_logistic_regression_with_its_options_accepted() -> None:
    nlu = data(greetings())
    svm_options = {"C": [1, 2, 5, 10, 20, 100], "kernels": ["linear"], "gamma": [0.1]}
    sklearn = train([*WITH_OPTIONS, ("SklearnIntentClassifier", svm_options)], nlu)
    logistic = train(classifier(), nlu)
    for text in ("thanks a lot my friend", "hello", "I want to order a gift"):
        assert sklearn.parse(text) == logistic.parse(text)


def keyword(options: dict) -> list[tuple[str, dict]]:
    return [("KeywordIntentClassifier", options)]


def test_keyword_classifier_matches_whole_words() -> None:
    nlu = data([example("hello", "greet"), example("bye", "goodbye")])
    pipeline = train(keyword({}), nlu)
    assert pipeline.parse("oh hello there")["intent"] == {"name": "greet", "confidence": 1.0}
    assert pipeline.parse("byebye")["intent"] == {"name": None, "confidence": 0.0}
    assert "intent_ranking" not in pipeline.parse("hello")


def test_keyword_classifier_case_sensitivity() -> None:
    nlu = data([example("hello", "greet")])
    assert train(keyword({}), nlu).parse("HELLO")["intent"]["name"] is None
    assert (
        train(keyword({"case_sensitive": False}), nlu).parse("HELLO")["intent"]["name"] == "greet"
    )


def test_keyword_claimed_by_two_intents_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    nlu = data([example("hi", "greet"), example("hi", "hello"), example("bye", "goodbye")])
    pipeline = train(keyword({}), nlu)
    assert pipeline.parse("hi")["intent"]["name"] is None
    assert pipeline.parse("bye")["intent"]["name"] == "goodbye"
    assert "keyword 'hi' belongs to several intents" in caplog.text


def fallback(
    intent: tuple[str, float] | None, *others: tuple[str, float], **options: float
) -> Message:
    ranking = [intent, *others] if intent else []
    message = Message(
        "text",
        intent={"name": intent[0], "confidence": intent[1]} if intent else None,
        intent_ranking=[{"name": n, "confidence": c} for n, c in ranking] or None,
    )
    FallbackClassifier(options, language="en").process(message)
    return message


def test_fallback_below_threshold_keeps_the_ranking_after_it() -> None:
    message = fallback(("greet", 0.29), ("goodbye", 0.1))
    assert message.intent == {"name": "nlu_fallback", "confidence": 0.3}
    assert message.intent_ranking == [
        {"name": "nlu_fallback", "confidence": 0.3},
        {"name": "greet", "confidence": 0.29},
        {"name": "goodbye", "confidence": 0.1},
    ]


def test_fallback_threshold_option() -> None:
    assert fallback(("greet", 0.5), ("goodbye", 0.1)).intent["name"] == "greet"
    message = fallback(("greet", 0.5), ("goodbye", 0.1), threshold=0.7)
    assert message.intent == {"name": "nlu_fallback", "confidence": 0.7}


def test_fallback_on_ambiguity() -> None:
    assert fallback(("greet", 0.5), ("goodbye", 0.41)).intent["name"] == "nlu_fallback"
    assert fallback(("greet", 0.5), ("goodbye", 0.39)).intent["name"] == "greet"
    assert (
        fallback(("greet", 0.5), ("goodbye", 0.45), ambiguity_threshold=0.01).intent["name"]
        == "greet"
    )
    assert fallback(("greet", 0.9)).intent["name"] == "greet"  # one item: nothing to compare


def test_fallback_without_any_intent() -> None:
    message = fallback(None)
    assert message.intent == {"name": "nlu_fallback", "confidence": 0.3}
    assert message.intent_ranking == [{"name": "nlu_fallback", "confidence": 0.3}]


def test_fallback_in_a_pipeline() -> None:
    nlu = data(greetings())
    pipeline = train([*INTENT_PIPELINE, ("FallbackClassifier", {"threshold": 0.999})], nlu)
    result = pipeline.parse("hello")
    assert result["intent"] == {"name": "nlu_fallback", "confidence": 0.999}
    assert result["intent_ranking"][1]["name"] == "greet"
