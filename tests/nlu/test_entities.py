"""Entity extraction: BILOU tags, the CRF, roles and groups, regexes, lookups and synonyms."""

from __future__ import annotations

import itertools
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pycrfsuite
import pytest
from nlu_testkit import data, example, flights, train

from tandem.nlu import NluError, NluPipeline, bilou
from tandem.nlu.crf import Crf, CrfError
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


# -- the CRF (CRFsuite) ---------------------------------------------------------------------------


def random_sequences(seed: int, width: int = 6) -> tuple[list[list[dict[str, float]]], list]:
    """Sequences of real-valued items and labels that follow the first three columns."""
    rng = np.random.default_rng(seed)
    items, tags = [], []
    for n in rng.integers(1, 8, 60):
        values = rng.normal(size=(n, width)) * (rng.random((n, width)) > 0.4)
        items.append([{f"a{c}": float(v) for c, v in enumerate(row) if v} for row in values])
        tags.append([f"y{k}" for k in values[:, :3].argmax(axis=1)])
    return items, tags


def test_the_crf_is_crfsuite_with_its_marginals(tmp_path: Path) -> None:
    """Tags and marginals are CRFsuite's own for the model it trained, and the model is
    CRFsuite's model file (data, not a pickle)."""
    items, tags = random_sequences(0)
    model = Crf.train(items, tags, l1=0.0, l2=0.01, max_iter=100)
    assert model.model.startswith(b"lCRF") and model.labels == ["y0", "y1", "y2"]
    (tmp_path / "model.crfsuite").write_bytes(model.model)
    reference = pycrfsuite.Tagger()
    reference.open(str(tmp_path / "model.crfsuite"))
    for x in items:
        path, confidences = model.tag(x)
        assert path == reference.tag(x)
        assert confidences == pytest.approx([reference.marginal(y, t) for t, y in enumerate(path)])
        marginals = model.marginals(x, range(len(x)))
        assert all(sum(row) == pytest.approx(1.0) for row in marginals.values())
    reference.close()
    accuracy = np.mean(
        [
            y == t
            for x, seq in zip(items, tags, strict=True)
            for y, t in zip(model.tag(x)[0], seq, strict=True)
        ]
    )
    assert accuracy > 0.9


def test_marginals_match_brute_force_over_the_learned_weights() -> None:
    items, tags = random_sequences(1, width=3)
    model = Crf.train(items, tags, l1=0.0, l2=0.1, max_iter=50)
    tagger = pycrfsuite.Tagger()
    tagger.open_inmemory(model.model)
    learned = tagger.info()
    tagger.close()
    x = [{"a0": 0.5, "a1": -1.0}, {"a2": 2.0}, {"a0": -0.3, "a2": 0.7}]
    labels = model.labels

    def weight(path: tuple[str, ...]) -> float:
        score = sum(
            value * learned.state_features.get((name, path[t]), 0.0)
            for t, item in enumerate(x)
            for name, value in item.items()
        )
        score += sum(learned.transitions.get((a, b), 0.0) for a, b in itertools.pairwise(path))
        return float(np.exp(score))

    paths = list(itertools.product(labels, repeat=len(x)))
    weights = {path: weight(path) for path in paths}
    z = sum(weights.values())
    marginals = model.marginals(x, [1])
    for k, label in enumerate(labels):
        expected = sum(w for path, w in weights.items() if path[1] == label) / z
        # info() reads the weights from CRFsuite's text dump, rounded to six decimals.
        assert marginals[1][k] == pytest.approx(expected, rel=1e-4, abs=1e-6)
    assert tuple(model.tag(x)[0]) == max(weights, key=weights.__getitem__)


def test_an_l1_penalty_leaves_features_out_of_the_model() -> None:
    rng = np.random.default_rng(2)
    rows = [rng.normal(size=(4, 30)) for _ in range(40)]
    items = [[{f"a{c}": float(v) for c, v in enumerate(row)} for row in x] for x in rows]
    tags = [[str(int(row[0] > 0)) for row in x] for x in rows]

    def features(l1: float, l2: float) -> int:
        model = Crf.train(items, tags, l1=l1, l2=l2, max_iter=100).model
        tagger = pycrfsuite.Tagger()
        tagger.open_inmemory(model)  # CRFsuite reads from these bytes: they must stay alive
        count = len(tagger.info().state_features)
        tagger.close()
        return count

    assert features(5.0, 0.0) < features(0.0, 0.1) / 2


def test_training_leaves_no_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    items, tags = random_sequences(3)
    Crf.train(items, tags, l1=0.1, l2=0.1, max_iter=10)
    assert list(tmp_path.iterdir()) == []


def test_a_broken_model_file_is_a_clear_error() -> None:
    with pytest.raises(CrfError, match="not a CRFsuite model"):
        Crf(b"\x80\x04\x95 a pickle, say")


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


def test_a_crf_model_is_stored_as_crfsuite_files_and_read_into_memory(tmp_path: Path) -> None:
    pipeline = train(crf(), data(flights()))
    folder = tmp_path / "nlu"
    pipeline.persist(folder)
    models = sorted(p.name for p in folder.glob("*.crfsuite"))
    assert models == [
        "01_CRFEntityExtractor.entity.crfsuite",
        "01_CRFEntityExtractor.role.crfsuite",
    ]
    assert {p.suffix for p in folder.iterdir()} == {".json", ".crfsuite"}
    # CRFsuite's model format (its magic, then dictionaries and weights), not a pickle.
    assert all((folder / name).read_bytes().startswith(b"lCRF") for name in models)
    loaded = NluPipeline.load(folder)
    for path in folder.iterdir():
        path.unlink()  # the taggers read their models from memory once loaded
    for query in ("fly from Hamburg to Tokyo", "I want to go to Paris", "hello"):
        assert loaded.parse(query) == pipeline.parse(query)


def test_a_damaged_crf_model_file_is_refused_when_loading(tmp_path: Path) -> None:
    train(crf(), data(flights())).persist(tmp_path)
    (tmp_path / "01_CRFEntityExtractor.role.crfsuite").write_bytes(b"\x80\x04\x95 not a model")
    with pytest.raises(NluError, match=r"role model of '01_CRFEntityExtractor' is not a CRFsuite"):
        NluPipeline.load(tmp_path)


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
