"""Near misses and calibrated confidences of the intent classifiers.

The classifiers learn a rejection label from near misses of the examples (a characteristic
word swapped for an unknown one) and divide their logits by a temperature fitted on held-out
folds: a message like an example but for the word that carries its intent gets a low
confidence, and confidences match accuracies.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from nlu_testkit import INTENT_PIPELINE, data, example, train

from shared_files import DATASETS, require
from tandem.nlu import NluPipeline, logistic
from tandem.nlu.message import Message
from tandem.nlu.near_misses import NEAR_MISS_OF, REJECTION_LABEL, near_miss_messages
from tandem.nlu.tokenizer import WhitespaceTokenizer
from tandem.project.training_data import NluData, NluExample

ORDERS = [
    example("I want to order a pizza", "order_pizza"),
    example("I'd like to order a pizza", "order_pizza"),
    example("I want to order a pepperoni pizza", "order_pizza", ("pepperoni", "topping")),
    example("can I order a pizza please", "order_pizza"),
    example("order a pizza for me", "order_pizza"),
    example("I want to add a card", "add_card"),
    example("please add a new card to my account", "add_card"),
    example("I need to add my credit card", "add_card"),
    example("add a card", "add_card"),
    example("can you add this card", "add_card"),
    example("hello", "greet"),
    example("hi there", "greet"),
    example("good morning", "greet"),
]


def tokenized(examples: list[NluExample]) -> list[Message]:
    tokenizer = WhitespaceTokenizer({}, language="en")
    messages = [Message(e.text, example=e) for e in examples]
    tokenizer.train(messages, data(examples))
    return messages


def test_near_misses_swap_a_characteristic_word_never_an_entity() -> None:
    near = near_miss_messages(tokenized(ORDERS))
    assert near == near_miss_messages(tokenized(ORDERS))  # deterministic
    assert all(m.example is not None and m.example.intent == REJECTION_LABEL for m in near)
    by_source: dict[str, list[str]] = {}
    for message in near:
        assert message.example is not None
        by_source.setdefault(message.example.metadata[NEAR_MISS_OF], []).append(message.text)
    # "i", "to", "order", "a" and "pizza" are in most pizza examples: each is swapped once;
    # "want" (in two of five) is incidental and stays, as does the entity "pepperoni".
    written = ["i", "want", "to", "order", "a", "pepperoni", "pizza"]
    variants = [text.split() for text in by_source["I want to order a pepperoni pizza"]]
    assert len(variants) == 5
    assert sorted(next(i for i, w in enumerate(v) if w != written[i]) for v in variants) == [
        0,
        2,
        3,
        4,
        6,
    ]
    assert all(sum(a != b for a, b in zip(v, written, strict=True)) == 1 for v in variants)
    assert "hello" not in by_source  # one word: nothing to keep once it is swapped


def test_blends_join_halves_of_two_intents_examples_only_when_asked() -> None:
    messages = tokenized(ORDERS * 4)  # 52 examples: 6 blends are attempted
    plain = near_miss_messages(messages)
    with_blends = near_miss_messages(messages, blends=True)
    assert with_blends[: len(plain)] == plain
    blends = with_blends[len(plain) :]
    assert blends and blends == near_miss_messages(messages, blends=True)[len(plain) :]

    def halves(message: Message) -> tuple[str, str]:
        middle = (message.tokens or [])[len(message.tokens or []) // 2].start
        return message.text[:middle].strip(), message.text[middle:]

    halves_of = {m.text: (halves(m), m.example.intent) for m in messages if m.example}
    for blend in blends:
        assert blend.example is not None and blend.example.intent == REJECTION_LABEL
        (head, _), intent = halves_of[blend.example.metadata[NEAR_MISS_OF]]
        assert blend.text.startswith(head + " ")
        tail = blend.text[len(head) + 1 :]
        assert any(t == tail and i != intent for (_, t), i in halves_of.values())


def test_the_rejection_label_is_never_ranked_and_takes_the_near_misses_share() -> None:
    pipeline = train(INTENT_PIPELINE, data(ORDERS))
    for text in ("I want to order a pizza", "I want to order a gift", "good morning"):
        ranking = pipeline.parse(text)["intent_ranking"]
        assert REJECTION_LABEL not in {r["name"] for r in ranking}
    assert (
        sum(r["confidence"] for r in pipeline.parse("I want to order a gift")["intent_ranking"])
        < 0.7
    )


def test_a_near_miss_is_unconfident_and_an_example_is_not(monkeypatch: pytest.MonkeyPatch) -> None:
    def confidences() -> tuple[float, float]:
        pipeline = train(INTENT_PIPELINE, data(ORDERS))
        gift = pipeline.parse("I want to order a gift")["intent"]
        assert gift["name"] == "order_pizza"
        return gift["confidence"], pipeline.parse("I want to order a pizza")["intent"]["confidence"]

    gift, pizza = confidences()
    assert gift < 0.4 and pizza > 0.5
    monkeypatch.setattr(logistic, "_REJECTION_WEIGHTS", {"counts": 0.0})  # weigh nothing
    unrejected_gift, _ = confidences()
    assert unrejected_gift > gift + 0.2


def test_the_fitted_temperature_is_kept_in_the_model(tmp_path: Path) -> None:
    pipeline = train(INTENT_PIPELINE, data(ORDERS))
    model = pipeline.components[-1].model  # type: ignore[attr-defined]
    assert model.temperature != 1.0
    pipeline.persist(tmp_path)
    loaded = NluPipeline.load(tmp_path)
    assert loaded.components[-1].model.temperature == model.temperature  # type: ignore[attr-defined]
    assert loaded.parse("I want to order a gift") == pipeline.parse("I want to order a gift")


def test_diet_fits_its_examples_and_is_never_softened() -> None:
    """Projects that name DIETClassifier write thresholds for a model that fits its training
    data: its own examples get a confident intent (the counts-only logistic regression,
    calibrated on held-out folds of 13 examples, softens them to about 0.5), while messages
    unlike every example still do not."""
    pipeline = train([*INTENT_PIPELINE[:-1], ("DIETClassifier", {})], data(ORDERS))
    assert pipeline.components[-1].intents.temperature <= 1.0  # type: ignore[attr-defined]
    assert min(pipeline.parse(e.text)["intent"]["confidence"] for e in ORDERS) > 0.8
    for unlike in ("I want to order a gift", "what is the weather"):
        assert pipeline.parse(unlike)["intent"]["confidence"] < 0.3


def test_too_few_examples_are_not_calibrated() -> None:
    few = [example("hello", "greet"), example("bye", "goodbye"), example("thanks", "thank")]
    model = train(INTENT_PIPELINE, data(few)).components[-1].model  # type: ignore[attr-defined]
    assert model.temperature == 1.0


def test_held_out_folds_stop_once_enough_examples_are_held_out() -> None:
    """Each held-out fold costs a fit: a small project tests all five, a larger one only as
    many as hold out 1,000 examples."""

    def fits(examples: int) -> int:
        x = sp.csr_matrix(np.random.default_rng(0).random((examples, 4), dtype=np.float32))
        sizes = []

        def fit(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            sizes.append(len(rows))
            return np.zeros((4, 2), np.float32), np.zeros(2, np.float32)

        folds = np.arange(examples) % 5
        logistic._held_out_temperature(x, folds % 2, folds, np.ones(examples, bool), fit)
        assert all(size == examples * 4 // 5 for size in sizes)
        return len(sizes)

    assert fits(400) == 5
    assert fits(3000) == 2  # 600 held out per fold
    assert fits(10000) == 1


def test_held_out_fits_never_start_from_a_model_that_saw_their_examples(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A held-out fit started from the model of all examples stops near it and predicts the
    held-out examples too well (a too sharp temperature); so the held-out fits start from
    zeros, and the model of all examples starts from one of them."""
    fits: list[tuple[int, bool]] = []  # rows, started from given parameters
    fit = logistic._fit

    def recorded(x, y, label_weight, sharing, c, max_iter, tol, start=None):  # type: ignore[no-untyped-def]
        fits.append((x.shape[0], start is not None))
        return fit(x, y, label_weight, sharing, c, max_iter, tol, start)

    monkeypatch.setattr(logistic, "_fit", recorded)
    train(INTENT_PIPELINE, data(ORDERS))
    *held_out, everything = fits
    assert len(held_out) == 5 and not any(started for _, started in held_out)
    assert everything[1] and all(rows < everything[0] for rows, _ in held_out)


def _split(name: str, split: str) -> list[tuple[str, str]]:
    folder = require(DATASETS / name / split)
    texts = (folder / "seq.in").read_text(encoding="utf-8").splitlines()
    return list(zip(texts, (folder / "label").read_text().splitlines(), strict=True))


def _expected_calibration_error(confidence: np.ndarray, correct: np.ndarray) -> float:
    edges = np.linspace(0.0, 1.0, 16)
    error = 0.0
    for low, high in itertools.pairwise(edges):
        chosen = (confidence > low) & (confidence <= high)
        if chosen.any():
            error += chosen.mean() * abs(confidence[chosen].mean() - correct[chosen].mean())
    return error


def test_calibration_lowers_the_expected_calibration_error() -> None:
    """BANKING77 with ten examples per intent, scored on its validation split: the fitted
    temperature gives a lower ECE (15 bins) than the same model without it."""
    train_pairs = _split("BANKING77", "train_10")
    pipeline = NluPipeline.train(
        INTENT_PIPELINE,
        NluData(examples=tuple(NluExample(text, label) for text, label in train_pairs)),
    )
    model = pipeline.components[-1].model  # type: ignore[attr-defined]
    valid = _split("BANKING77", "valid")[:600]

    def ece() -> float:
        results = [pipeline.parse(text)["intent"] for text, _ in valid]
        confidence = np.array([r["confidence"] for r in results])
        correct = np.array(
            [r["name"] == label for r, (_, label) in zip(results, valid, strict=True)]
        )
        return _expected_calibration_error(confidence, correct)

    calibrated = ece()
    fitted, model.temperature = model.temperature, 1.0
    uncalibrated = ece()
    assert fitted < 1.0  # the uncalibrated model is underconfident here
    assert calibrated < uncalibrated - 0.03


def test_retrieval_intents_make_near_misses_as_the_intent_the_classifier_learns() -> None:
    # The classifier learns `faq`; "vpn" only tells the response selector which answer to give,
    # so a question about something else is not a near miss of `faq`.
    faqs = [
        example("how do I set up the vpn", "faq/vpn"),
        example("how can I use the vpn", "faq/vpn"),
        example("how do I add a printer", "faq/printer"),
        example("how can I find the printer", "faq/printer"),
        example("how do I get on the wifi", "faq/wifi"),
        example("how can I reach the wifi", "faq/wifi"),
        example("hello", "greet"),
        example("hi there", "greet"),
    ]
    near = near_miss_messages(tokenized(faqs))
    swapped = {
        original
        for message in near
        for original, word in zip(
            message.example.metadata[NEAR_MISS_OF].lower().split(),  # type: ignore[union-attr]
            message.text.split(),
            strict=True,
        )
        if original != word
    }
    assert {"how", "i", "the"} <= swapped  # in most `faq` examples
    assert not swapped & {"vpn", "printer", "wifi"}  # each in a third of them
