"""Near misses: training examples with a word that carries their intent swapped for a word
never seen.

A softmax classifier spreads all of its probability over the intents it knows, so a message
that shares an example's frame but not its point ("I want to order a gift" beside "I want to
order a pizza") takes that example's intent, confidently. Intent classifiers therefore also
learn a *rejection* label from near misses made out of the training data: each example with
one of its characteristic words (one found in most examples of its intent, as "pizza",
"order" and "want" are for a pizza order; never a word of an entity, whose values are open
classes) replaced by an unknown made-up word. The intent is the one the classifier learns:
for retrieval intents the whole ``faq``, not ``faq/vpn`` (whose "vpn" only tells the response
selector which answer to give; a question about something else is still a question). The
probability the classifier gives the rejection label is left out of its ranking, so the
intents of such a message get low confidences, and thresholds (``FallbackClassifier``,
``nlu_trigger``) can tell it apart.

The made-up words shuffle the letters of a training word: unknown to the word featurizers,
but with the character statistics of real words. A fixed seed keeps training deterministic."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence

from tandem.nlu.message import Message, base_intent
from tandem.project.training_data import NluExample

# An intent name no project uses (with spaces and brackets); never shown in a ranking.
REJECTION_LABEL = "<near miss>"
# Metadata key of a near miss: the text of the example it was made from.
NEAR_MISS_OF = "near_miss_of"
_SEED = 13
# A word in at least this share of an intent's examples carries the intent ("pizza" in
# "I want to order a pizza"); a word in fewer is incidental ("that" in "no, I don't want
# that"), and the message without it is still the intent. Chosen on the fixture projects
# and the validation splits (README, NLU benchmark).
_CHARACTERISTIC_SHARE = 0.5
# Near misses made at most: one per two examples, or this many for small data sets (where
# every characteristic word of every example gets one). One per example gained 0.2 points of
# accuracy and 2 of out-of-scope rejection on CLINC150's validation split, for 1.6 times the
# training time.
_MIN_BUDGET = 5000


def near_miss_messages(messages: Sequence[Message]) -> list[Message]:
    """Near misses of the training messages: for each message of more than one word, one per
    word that is characteristic of its intent; at most one per two messages or
    ``_MIN_BUDGET`` (else a sample).

    The returned messages are not featurized yet; their example carries REJECTION_LABEL.
    """
    rng = random.Random(_SEED)
    examples = [
        (
            base_intent(message.example.intent),
            message,
            [t.text.lower() for t in message.tokens or ()],
        )
        for message in messages
        if message.example is not None and message.example.intent
    ]
    characteristic = _characteristic_words([(intent, words) for intent, _, words in examples])
    swaps = [
        (message, words, i)
        for intent, message, words in examples
        if len(words) > 1
        for i, word in enumerate(words)
        if word in characteristic[intent] and word.isalpha() and not _in_entity(message, i)
    ]
    budget = max(len(messages) // 2, _MIN_BUDGET)
    if len(swaps) > budget:
        swaps = rng.sample(swaps, budget)
    vocabulary = sorted({w for *_, words in examples for w in words if len(w) > 2 and w.isalpha()})
    near: list[Message] = []
    for source, words, swapped in swaps:
        made_up = list(rng.choice(vocabulary))
        rng.shuffle(made_up)
        text = " ".join("".join(made_up) if i == swapped else w for i, w in enumerate(words))
        example = NluExample(text, REJECTION_LABEL, metadata={NEAR_MISS_OF: source.text})
        near.append(Message(text, example=example))
    return near


def _characteristic_words(examples: list[tuple[str, list[str]]]) -> dict[str, set[str]]:
    """Per intent, the words in at least ``_CHARACTERISTIC_SHARE`` of its examples."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for intent, words in examples:
        counts[intent].update(set(words))
    sizes = Counter(intent for intent, _ in examples)
    return {
        intent: {w for w, n in words.items() if n >= _CHARACTERISTIC_SHARE * sizes[intent]}
        for intent, words in counts.items()
    }


def _in_entity(message: Message, index: int) -> bool:
    """Entity values are open classes: an unseen city is still a city, not a near miss."""
    token = (message.tokens or [])[index]
    entities = message.example.entities if message.example is not None else ()
    return any(e.start < token.end and token.start < e.end for e in entities)


def is_near_miss(message: Message) -> bool:
    return message.example is not None and message.example.intent == REJECTION_LABEL
