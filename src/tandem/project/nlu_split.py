"""Splitting NLU data into a training and a test part, stratified per intent."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from tandem.project.training_data import NluData, NluExample

Responses = Mapping[str, Sequence[Mapping[str, Any]]]


def split_nlu(
    nlu: NluData, training_fraction: float, seed: int | None = None
) -> tuple[NluData, NluData]:
    """(training part, test part) of ``nlu``.

    Each intent gives ``training_fraction`` of its examples (rounded down) to the training
    part, but an intent with two or more examples keeps at least one in each part and a
    single example goes to training. Which examples go where is random, the same for the
    same ``seed``; both parts keep the file order. Synonyms, regexes and lookup tables go
    with the training part, where the components that use them learn.
    """
    rng = random.Random(seed)
    chosen: set[int] = set()  # positions in ``nlu.examples`` that go to training
    by_intent: dict[str, list[int]] = {}
    for position, example in enumerate(nlu.examples):
        by_intent.setdefault(example.intent or "", []).append(position)
    for intent in sorted(by_intent):  # a fixed order, so the seed alone decides
        positions = by_intent[intent]
        rng.shuffle(positions)
        chosen.update(positions[: _training_count(len(positions), training_fraction)])
    train = [e for i, e in enumerate(nlu.examples) if i in chosen]
    test = [e for i, e in enumerate(nlu.examples) if i not in chosen]
    training = NluData(tuple(train), nlu.synonyms, nlu.regexes, nlu.lookups)
    return training, NluData(tuple(test))


def _training_count(count: int, fraction: float) -> int:
    if count < 2:
        return count
    return min(max(int(count * fraction), 1), count - 1)


def responses_for(examples: Sequence[NluExample], responses: Responses) -> dict[str, Any]:
    """The responses of the retrieval intents among ``examples`` (``utter_faq/ask_name``
    answers intent ``faq/ask_name``), so each part can be trained or scored on its own."""
    intents = {f"utter_{example.intent}" for example in examples}
    return {name: value for name, value in responses.items() if name in intents}
