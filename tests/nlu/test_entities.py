"""Entity extraction: BILOU tags, the CRF, roles and groups, regexes, lookups and synonyms."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pycrfsuite
import pytest
import scipy.sparse as sp
from nlu_testkit import data, example, flights, train

from tandem.nlu import bilou
from tandem.nlu import crf as crf_module
from tandem.nlu.crf import LinearChainCrf, forward_backward, viterbi
from tandem.nlu.message import Token
from tandem.nlu.tokenizer import WhitespaceTokenizer
from tandem.project.errors import Source

TOKENIZER = ("WhitespaceTokenizer", {})


def tokens_of(text: str) -> list[Token]:
    return WhitespaceTokenizer({}, language="en").tokenize(text)


# -- BILOU ---------------------------------------------------------------------------------------


def test_bilou_round_trip() -> None:
    text = "fly from New York City to Paris and Rome"
    tokens = tokens_of(text)
    spans = [bilou.Span(2, 4, "city"), bilou.Span(6, 6, "city"), bilou.Span(8, 8, "city")]
    tags = bilou.encode(len(tokens), spans, bilou=True)
    assert tags == ["O", "O", "B-city", "I-city", "L-city", "O", "U-city", "O", "U-city"]
    assert bilou.decode(tags, tokens, text, True, lambda _: True) == spans


def test_bilou_separates_adjacent_entities_that_plain_tags_merge() -> None:
    text = "Berlin Paris"
    tokens = tokens_of(text)
    spans = [bilou.Span(0, 0, "city"), bilou.Span(1, 1, "city")]
    assert bilou.decode(bilou.encode(2, spans, True), tokens, text, True, lambda _: True) == spans
    plain = bilou.encode(2, spans, False)
    assert plain == ["city", "city"]
    assert bilou.decode(plain, tokens, text, False, lambda _: True) == [bilou.Span(0, 1, "city")]


def test_bilou_decoding_tolerates_broken_sequences() -> None:
    text = "a b c d"
    tokens = tokens_of(text)
    tags = ["I-x", "L-x", "B-y", "I-x"]
    assert bilou.decode(tags, tokens, text, True, lambda _: True) == [
        bilou.Span(0, 1, "x"),
        bilou.Span(2, 2, "y"),
        bilou.Span(3, 3, "x"),
    ]


def test_comma_splitting_while_decoding() -> None:
    text = "pizza, pasta"
    tokens = tokens_of(text)
    assert bilou.decode(["food", "food"], tokens, text, False, lambda _: True) == [
        bilou.Span(0, 0, "food"),
        bilou.Span(1, 1, "food"),
    ]
    assert bilou.decode(["food", "food"], tokens, text, False, lambda _: False) == [
        bilou.Span(0, 1, "food")
    ]


# -- CRF mathematics -----------------------------------------------------------------------------


def test_crf_tags_as_crfsuite_does_with_its_copied_weights(tmp_path: Path) -> None:
    """The weights CRFsuite learns, copied into our arrays, give CRFsuite's own tagging."""
    rng = np.random.default_rng(0)
    sequences = [
        sp.csr_matrix(rng.normal(size=(n, 6)) * (rng.random((n, 6)) > 0.4))
        for n in rng.integers(1, 8, 60)
    ]
    tags = [np.asarray(s[:, :3].todense()).argmax(axis=1) for s in sequences]
    crf = LinearChainCrf(6, 3)
    crf.fit(sequences, tags, l1=0.0, l2=0.01, max_iter=100)
    trainer = pycrfsuite.Trainer(verbose=False)
    for x, labels in zip(sequences, tags, strict=True):
        trainer.append(pycrfsuite.ItemSequence(crf_module._items(x)), [str(k) for k in labels])
    trainer.set_params(
        {"c1": 0.0, "c2": 0.01, "max_iterations": 100, "feature.possible_transitions": True}
    )
    trainer.train(str(tmp_path / "reference.crfsuite"))
    reference = pycrfsuite.Tagger()
    reference.open(str(tmp_path / "reference.crfsuite"))
    agree = [
        [str(k) for k in crf.predict(x)[0]] == reference.tag(crf_module._items(x))
        for x in sequences
    ]
    reference.close()
    assert all(agree)
    accuracy = np.mean(
        np.concatenate([crf.predict(x)[0] == t for x, t in zip(sequences, tags, strict=True)])
    )
    assert accuracy > 0.9


def test_an_l1_penalty_leaves_weights_at_zero() -> None:
    rng = np.random.default_rng(2)
    sequences = [sp.csr_matrix(rng.normal(size=(4, 30))) for _ in range(40)]
    tags = [np.array([int(row[0] > 0) for row in s.toarray()]) for s in sequences]
    dense, sparse = LinearChainCrf(30, 2), LinearChainCrf(30, 2)
    dense.fit(sequences, tags, l1=0.0, l2=0.1, max_iter=100)
    sparse.fit(sequences, tags, l1=5.0, l2=0.0, max_iter=100)
    assert np.count_nonzero(sparse.emissions) < np.count_nonzero(dense.emissions) / 2


def test_forward_backward_marginals_match_brute_force() -> None:
    rng = np.random.default_rng(1)
    scores, transitions = rng.normal(size=(3, 2)), rng.normal(size=(2, 2))
    paths = [(a, b, c) for a in range(2) for b in range(2) for c in range(2)]
    weight = {
        p: np.exp(
            sum(scores[t, p[t]] for t in range(3))
            + transitions[p[0], p[1]]
            + transitions[p[1], p[2]]
        )
        for p in paths
    }
    z = sum(weight.values())
    log_z, marginals, _ = forward_backward(scores[None], transitions)
    assert log_z[0] == pytest.approx(np.log(z))
    assert marginals[0, 1, 1] == pytest.approx(sum(w for p, w in weight.items() if p[1] == 1) / z)
    assert tuple(viterbi(scores, transitions)) == max(weight, key=weight.get)


# -- CRFEntityExtractor --------------------------------------------------------------------------


def crf(**options: object) -> list[tuple[str, dict]]:
    return [TOKENIZER, ("CRFEntityExtractor", options)]


def entities(result: dict) -> list[tuple]:
    return [(e["entity"], e["value"], e.get("role"), e.get("group")) for e in result["entities"]]


def test_crf_learns_entities_and_roles() -> None:
    result = train(crf(), data(flights())).parse("fly from Hamburg to Tokyo")
    assert entities(result) == [
        ("city", "Hamburg", "departure", None),
        ("city", "Tokyo", "destination", None),
    ]
    first = result["entities"][0]
    assert first["extractor"] == "CRFEntityExtractor"
    assert (first["start"], first["end"]) == (9, 16)
    assert 0.5 < first["confidence_entity"] <= 1.0 and 0.5 < first["confidence_role"] <= 1.0
    assert "group" not in first and "confidence_group" not in first


def test_crf_learns_groups() -> None:
    examples = [
        example(
            f"a {s1} {p1} and a {s2} {p2}",
            "order_pizza",
            (s1, "size", None, "1"),
            (p1, "pizza", None, "1"),
            (s2, "size", None, "2"),
            (p2, "pizza", None, "2"),
        )
        for s1, p1, s2, p2 in [
            ("large", "margherita", "small", "funghi"),
            ("small", "salami", "medium", "hawaii"),
            ("medium", "funghi", "large", "salami"),
            ("large", "hawaii", "small", "margherita"),
            ("small", "margherita", "large", "salami"),
        ]
    ]
    result = train(crf(), data(examples)).parse("a medium hawaii and a small salami")
    assert entities(result) == [
        ("size", "medium", None, "1"),
        ("pizza", "hawaii", None, "1"),
        ("size", "small", None, "2"),
        ("pizza", "salami", None, "2"),
    ]


def test_crf_finds_multi_token_entities() -> None:
    examples = [
        example(f"I live in {city}", "inform", (city, "city"))
        for city in ("New York", "San Francisco", "Berlin", "Los Angeles", "Rome", "Buenos Aires")
    ]
    result = train(crf(), data(examples)).parse("I live in New Orleans")
    assert entities(result) == [("city", "New Orleans", None, None)]


def test_misaligned_annotations_are_reported_with_their_place(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = Source("data/nlu.yml", 12)
    examples = [
        replace(example("I live in New York", "inform", ("New Yo", "city")), source=source),
        example("I live in Berlin", "inform", ("erl", "city")),
        example("I live in Rome", "inform", ("Rome", "city")),
    ]
    train(crf(), data(examples))
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2  # the aligned "Rome" is not reported
    assert warnings[0].startswith("data/nlu.yml:12: CRFEntityExtractor: entity 'city' at 10-16")
    assert "only 'New' is learned" in warnings[0]
    assert warnings[1].startswith("CRFEntityExtractor: entity 'city' at 11-14 ('erl')")
    assert "it is not learned" in warnings[1]


def adjacent() -> list:
    # Two cities next to each other: BILOU tells them apart, plain tags run them together.
    return [
        example(f"compare {a} {b}", "compare", (a, "city"), (b, "city"))
        for a, b in [
            ("Berlin", "Paris"),
            ("Rome", "Oslo"),
            ("Madrid", "Vienna"),
            ("Prague", "Lisbon"),
        ]
    ] + [example(f"weather in {c}", "weather", (c, "city")) for c in ("Dublin", "Athens", "Milan")]


def test_bilou_flag() -> None:
    query = "compare Dublin Athens"
    assert [e[1] for e in entities(train(crf(), data(adjacent())).parse(query))] == [
        "Dublin",
        "Athens",
    ]
    merged = entities(train(crf(BILOU_flag=False), data(adjacent())).parse(query))
    assert [e[1] for e in merged] == ["Dublin Athens"]


def test_split_entities_by_comma() -> None:
    examples = [
        example(f"I want {f}", "order", (f, "food"))
        for f in ("pizza, pasta", "salad, soup", "fries, burger", "rice, curry", "steak")
    ]
    options = {"BILOU_flag": False}
    query = "I want pasta, salad"
    assert [e[1] for e in entities(train(crf(**options), data(examples)).parse(query))] == [
        "pasta",
        "salad",
    ]
    joined = crf(**options, split_entities_by_comma=False)
    assert [e[1] for e in entities(train(joined, data(examples)).parse(query))] == ["pasta, salad"]
    per_entity = crf(**options, split_entities_by_comma={"food": False})
    assert [e[1] for e in entities(train(per_entity, data(examples)).parse(query))] == [
        "pasta, salad"
    ]


def test_features_option_decides_what_the_crf_sees() -> None:
    # Only a bias feature: every token looks the same, so the tags depend on the length only.
    nlu = data(flights())
    blind = train(crf(features=[["bias"]]), nlu)

    def tagged_positions(text: str) -> list[int]:
        return [text[: e["start"]].count(" ") for e in blind.parse(text)["entities"]]

    assert tagged_positions("the of xyz zz qq") == tagged_positions("fly from Hamburg to Tokyo")
    assert tagged_positions("Tokyo Hamburg fly to from") == tagged_positions(
        "fly from Hamburg to Tokyo"
    )
    # Title case of the token alone is enough here.
    found = entities(train(crf(features=[["title"]]), nlu).parse("fly from Hamburg to Tokyo"))
    assert [e[1] for e in found] == ["Hamburg", "Tokyo"]


def test_regularisation_and_iterations() -> None:
    nlu = data(flights())
    query = "fly from Hamburg to Tokyo"
    assert entities(train(crf(L1_c=50.0), nlu).parse(query)) == []
    # One L-BFGS iteration learns nothing yet (0 is CRFsuite's "no limit", as in the reference).
    assert entities(train(crf(max_iterations=1), nlu).parse(query)) == []
    weak = train(crf(L2_c=1.0), nlu).parse(query)["entities"][0]["confidence_entity"]
    strong = train(crf(), nlu).parse(query)["entities"][0]["confidence_entity"]
    assert weak < strong


def test_pattern_feature_uses_regex_featurizer_matches() -> None:
    examples = [
        example(f"my code is {c}", "inform", (c, "code"))
        for c in ("AB-123", "QX-998", "ZZ-001", "KL-554")
    ] + [example(f"my name is {n}", "inform") for n in ("Anna", "Bob", "Carl", "Dora")]
    nlu = data(examples, regexes=[("code", r"[A-Z]{2}-\d{3}")])
    pipeline = train(
        [TOKENIZER, ("RegexFeaturizer", {}), ("CRFEntityExtractor", {"features": [["pattern"]]})],
        nlu,
    )
    assert entities(pipeline.parse("my code is MN-777")) == [("code", "MN-777", None, None)]
    assert entities(pipeline.parse("my code is Emil")) == []


def test_diet_is_mapped_to_the_crf_tagger(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    pipeline = train(
        [
            TOKENIZER,
            ("CountVectorsFeaturizer", {}),
            ("DIETClassifier", {"epochs": 5, "constrain_similarities": True}),
        ],
        data(flights()),
    )
    result = pipeline.parse("fly from Hamburg to Tokyo")
    assert result["intent"]["name"] == "book_flight"
    assert [(e["value"], e["role"], e["extractor"]) for e in result["entities"]] == [
        ("Hamburg", "departure", "DIETClassifier"),
        ("Tokyo", "destination", "DIETClassifier"),
    ]
    assert "DIETClassifier: trained as Tandem's logistic-regression" in caplog.text


def test_diet_can_skip_entities_or_intents() -> None:
    base = [TOKENIZER, ("CountVectorsFeaturizer", {})]
    no_entities = train([*base, ("DIETClassifier", {"entity_recognition": False})], data(flights()))
    assert no_entities.parse("fly from Hamburg to Tokyo")["entities"] == []
    no_intents = train(
        [*base, ("DIETClassifier", {"intent_classification": False})], data(flights())
    )
    assert no_intents.parse("fly from Hamburg to Tokyo")["intent"] == {
        "name": None,
        "confidence": 0.0,
    }


# -- RegexEntityExtractor ------------------------------------------------------------------------


def regex_data() -> object:
    return data(
        [
            example("I live in Berlin", "inform", ("Berlin", "city")),
            example("zip 12345", "inform", ("12345", "zip")),
        ],
        regexes=[("zip", r"\d{5}"), ("phone", r"\d{3}-\d{4}")],
        lookups={"city": ("Berlin", "New York"), "color": ("red",)},
    )


def regex_entities(options: dict, text: str) -> list[tuple]:
    result = train([("RegexEntityExtractor", options)], regex_data()).parse(text)
    return [
        (e["entity"], e["value"], e["start"], e["end"], e["extractor"]) for e in result["entities"]
    ]


def test_regex_extractor_uses_entity_named_patterns_only() -> None:
    found = regex_entities({}, "call 555-1234 from new york, zip 10115, color red")
    assert found == [
        ("zip", "10115", 33, 38, "RegexEntityExtractor"),
        ("city", "new york", 19, 27, "RegexEntityExtractor"),
    ]


def test_regex_extractor_case_sensitivity() -> None:
    assert regex_entities({"case_sensitive": True}, "new york") == []
    assert [e[1] for e in regex_entities({"case_sensitive": True}, "New York")] == ["New York"]


def test_regex_extractor_word_boundaries() -> None:
    assert regex_entities({}, "Berliner") == []
    assert [e[1] for e in regex_entities({"use_word_boundaries": False}, "Berliner")] == ["Berlin"]


def test_regex_extractor_pattern_sources() -> None:
    assert [e[0] for e in regex_entities({"use_lookup_tables": False}, "Berlin 12345")] == ["zip"]
    assert [e[0] for e in regex_entities({"use_regexes": False}, "Berlin 12345")] == ["city"]


def test_regex_extractor_without_patterns_warns(caplog: pytest.LogCaptureFixture) -> None:
    pipeline = train(
        [("RegexEntityExtractor", {})], data([example("hi", "greet")], regexes=[("zip", r"\d+")])
    )
    assert pipeline.parse("12345")["entities"] == []
    assert "will extract nothing" in caplog.text


def test_invalid_regex_is_a_training_error() -> None:
    from tandem.nlu import NluError

    with pytest.raises(NluError, match="invalid regex 'zip'"):
        train(
            [("RegexEntityExtractor", {})],
            data([example("1", "i", ("1", "zip"))], regexes=[("zip", "(")]),
        )


# -- EntitySynonymMapper -------------------------------------------------------------------------


def test_synonyms_rewrite_values_of_earlier_extractors_and_record_processors() -> None:
    nlu = data(
        [example("I live in NYC", "inform", ("NYC", "city"))],
        synonyms={"nyc": "New York", "big apple": "New York"},
        lookups={"city": ("NYC", "big apple", "Berlin")},
    )
    pipeline = train([("RegexEntityExtractor", {}), ("EntitySynonymMapper", {})], nlu)
    found = pipeline.parse("from Big Apple via nyc to Berlin")["entities"]
    assert [(e["value"], e.get("processors")) for e in found] == [
        ("New York", ["EntitySynonymMapper"]),
        ("New York", ["EntitySynonymMapper"]),
        ("Berlin", None),
    ]
    assert (found[0]["start"], found[0]["end"]) == (5, 14)


def test_synonym_mapper_only_sees_entities_of_earlier_components() -> None:
    nlu = data(
        [example("nyc", "inform", ("nyc", "city"))],
        synonyms={"nyc": "New York"},
        lookups={"city": ("nyc",)},
    )
    pipeline = train([("EntitySynonymMapper", {}), ("RegexEntityExtractor", {})], nlu)
    assert pipeline.parse("nyc")["entities"][0]["value"] == "nyc"
