"""Entity benchmark: the CRF (CRFEntityExtractor with its defaults) on generated travel requests.

Requests are built from templates with departure/destination cities (entity `city` with roles
`from`/`to`), dates and passenger counts; a fixed seed makes them the same on every run. A third
of the test requests name cities the training data never shows, and three of the ten phrasings
are only tested, so the tagger has to go by the words around the entities. Reported: training
time, micro-F1 of exact (start, end, entity, role) spans, and the latency of tagging one
message. Beside it, as the reference runs it: CRFsuite's own trainer and tagger
(python-crfsuite, which sklearn-crfsuite wraps) on the same token attributes and tags, with the
same options, for the `entity` layer alone and for the `entity` and `role` layers (Viterbi tags
only: no marginals, so no confidences); all are scored on (start, end, entity) spans too.

    python bench/entities.py [--out result.json]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from common import emit, percentiles, quiet_logs

SEED = 7
SEEN = """berlin paris london madrid rome vienna prague warsaw lisbon dublin oslo athens zurich
munich hamburg milan naples porto seville lyon nice geneva basel bern turin""".split()  # noqa: SIM905
UNSEEN = "tokyo delhi lima quito cairo dakar hanoi perth".split()  # noqa: SIM905
TEMPLATES = [
    "fly from {from} to {to} on {date}",
    "I need a flight to {to} from {from}",
    "book {count} seats from {from} to {to}",
    "is there a train from {from} to {to} {date}",
    "I want to go to {to}",
    "leaving {from} {date}, heading to {to}",
    "tickets for {count} people to {to} please",
    "what does a trip from {from} cost",
    "get me from {from} to {to}",
    "{count} adults travelling to {to} on {date}",
]
DATES = ["tomorrow", "on monday", "next friday", "tonight", "on the 3rd of may"]
COUNTS = ["two", "3", "four", "5", "one"]


def requests(
    n: int, cities: list[str], templates: list[str], rng: random.Random
) -> list[tuple[str, list[tuple]]]:
    """``n`` (text, [(start, end, entity, role)]) pairs."""
    made = []
    for _ in range(n):
        template = rng.choice(templates)
        origin, destination = rng.sample(cities, 2)
        values = {"from": origin, "to": destination, "date": rng.choice(DATES)}
        values["count"] = rng.choice(COUNTS)
        text, spans, rest = "", [], template
        while "{" in rest:
            head, _, tail = rest.partition("{")
            key, _, rest = tail.partition("}")
            text += head
            value = values[key]
            if key in ("from", "to"):
                spans.append((len(text), len(text) + len(value), "city", key))
            elif key == "count":
                spans.append((len(text), len(text) + len(value), "count", None))
            text += value
        made.append((text + rest, spans))
    return made


Request = tuple[str, list[tuple]]


def scored(pairs: list[tuple[set, set]]) -> float:
    """Micro-F1 over (predicted, gold) span sets."""
    found = sum(len(p) for p, _ in pairs)
    expected = sum(len(g) for _, g in pairs)
    correct = sum(len(p & g) for p, g in pairs)
    precision, recall = correct / max(found, 1), correct / max(expected, 1)
    return round(2 * precision * recall / max(precision + recall, 1e-9), 4)


def measure(train: list[Request], test: list[Request]) -> dict[str, Any]:
    from tandem.nlu import NluPipeline
    from tandem.project.training_data import EntityAnnotation, NluData, NluExample

    def example(text: str, spans: list[tuple]) -> NluExample:
        entities = tuple(
            EntityAnnotation(entity, text[start:end], start, end, role=role)
            for start, end, entity, role in spans
        )
        return NluExample(text, "travel", entities=entities)

    data = NluData(examples=tuple(example(text, spans) for text, spans in train))
    started = time.perf_counter()
    pipeline = NluPipeline.train([("WhitespaceTokenizer", {}), ("CRFEntityExtractor", {})], data)
    training = time.perf_counter() - started
    with_roles, without_roles, latencies = [], [], []
    for text, spans in test:
        started = time.perf_counter()
        parsed = pipeline.parse(text)
        latencies.append((time.perf_counter() - started) * 1000)
        found = [(e["start"], e["end"], e["entity"], e.get("role")) for e in parsed["entities"]]
        with_roles.append((set(found), set(spans)))
        without_roles.append(({f[:3] for f in found}, {g[:3] for g in spans}))
    return {
        "tandem": {
            "training_seconds": round(training, 2),
            "micro_f1": scored(with_roles),
            "micro_f1_entities_only": scored(without_roles),
            "parse_ms": percentiles(latencies),
        },
        "crfsuite_tagger": crfsuite_baseline(pipeline, data, test, with_roles=False),
        "crfsuite_tagger_with_roles": crfsuite_baseline(pipeline, data, test, with_roles=True),
    }


def crfsuite_baseline(
    pipeline: Any, data: Any, test: list[Request], with_roles: bool
) -> dict[str, Any]:
    """CRFsuite's own trainer and tagger (pycrfsuite.Trainer, as sklearn-crfsuite runs it) on
    the attribute strings and tags of Tandem's tagger, so only the code around CRFsuite
    differs: the entity layer alone, or (``with_roles``) the entity layer and the role layer,
    which sees each token's entity tag, as the reference's CRFEntityExtractor trains them."""
    import pycrfsuite

    from tandem.nlu import bilou
    from tandem.nlu.message import Message

    tokenizer, extractor = pipeline.components
    tagger = extractor.tagger
    layers = ("entity", "role") if with_roles else ("entity",)

    def tokenized(text: str, example: Any = None) -> Message:
        message = Message(text, example=example)
        tokenizer.process(message)
        return message

    def with_entities(attributes: list[list[str]], tags: list[str]) -> list[list[str]]:
        return [[*a, f"entity:{t}"] for a, t in zip(attributes, tags, strict=True)]

    started = time.perf_counter()
    trainers = {layer: pycrfsuite.Trainer(verbose=False) for layer in layers}
    for example in data.examples:
        message = tokenized(example.text, example)
        attributes = tagger._attributes(message)
        n = len(message.tokens)
        entities = tagger._spans(message, example.entities, "entity")
        trainers["entity"].append(attributes, bilou.encode(n, entities, True))
        if with_roles:
            roles = bilou.encode(n, tagger._spans(message, example.entities, "role"), False)
            plain = bilou.encode(n, entities, False)
            trainers["role"].append(with_entities(attributes, plain), roles)
    taggers = {}
    with tempfile.TemporaryDirectory() as folder:
        for layer, trainer in trainers.items():
            trainer.set_params(
                {
                    "c1": tagger.l1,
                    "c2": tagger.l2,
                    "max_iterations": tagger.max_iter,
                    "feature.possible_transitions": True,
                }
            )
            trainer.train(str(Path(folder) / f"{layer}.crfsuite"))
            taggers[layer] = pycrfsuite.Tagger()
            taggers[layer].open(str(Path(folder) / f"{layer}.crfsuite"))
        training = time.perf_counter() - started
        pairs, pairs_with_roles, latencies = [], [], []
        for text, spans in test:
            started = time.perf_counter()
            message = tokenized(text)
            attributes = tagger._attributes(message)
            tags = taggers["entity"].tag(attributes)
            found = bilou.decode(tags, message.tokens, text, True, lambda _: True)
            roles: list[str | None] = [None] * len(found)
            if with_roles:
                plain = bilou.encode(len(tags), found, False)
                role_tags = taggers["role"].tag(with_entities(attributes, plain))
                roles = [role_tags[f.first] if role_tags[f.first] != "O" else None for f in found]
            latencies.append((time.perf_counter() - started) * 1000)
            tokens = message.tokens
            predicted = [(tokens[f.first].start, tokens[f.last].end, f.label) for f in found]
            pairs.append((set(predicted), {g[:3] for g in spans}))
            with_role = {(*p, r) for p, r in zip(predicted, roles, strict=True)}
            pairs_with_roles.append((with_role, set(spans)))
        for crfsuite in taggers.values():
            crfsuite.close()
    return {
        "training_seconds": round(training, 2),
        **({"micro_f1": scored(pairs_with_roles)} if with_roles else {}),
        "micro_f1_entities_only": scored(pairs),
        "parse_ms": percentiles(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    quiet_logs()
    rng = random.Random(SEED)
    # The last three templates are only tested: phrasings the training data never shows.
    train = requests(2000, SEEN, TEMPLATES[:-3], rng)
    test = requests(600, SEEN, TEMPLATES, rng) + requests(300, UNSEEN, TEMPLATES, rng)
    emit(
        {"train_requests": len(train), "test_requests": len(test), **measure(train, test)}, args.out
    )


if __name__ == "__main__":
    main()
