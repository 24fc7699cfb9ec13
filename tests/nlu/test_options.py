"""Building a pipeline: component names, options and order fail early with clear messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from nlu_testkit import INTENT_PIPELINE, data, greetings

from tandem.model.components import PIPELINE, Kind, nlu_components
from tandem.nlu import COMPONENTS, NluError, NluPipeline
from tandem.nlu.pipeline import build
from tandem.project.config import load_config


def test_unknown_component_lists_the_known_ones() -> None:
    with pytest.raises(NluError) as error:
        build([("WhitespaceTokeniser", {})], language="en")
    message = str(error.value)
    assert "unknown component 'WhitespaceTokeniser'" in message
    assert "did you mean 'WhitespaceTokenizer'" in message
    for name in COMPONENTS:
        assert name in message


def test_unsupported_reference_component_is_named_as_such() -> None:
    with pytest.raises(NluError, match="'MitieNLP' is not supported"):
        build([("MitieNLP", {})], language="en")


def test_routers_and_generators_are_left_to_calm(tmp_path: Path) -> None:
    (tmp_path / "config.yml").write_text(
        "pipeline:\n  - name: WhitespaceTokenizer\n  - name: IntentBasedRouter\n"
        "  - name: NLUCommandAdapter\n  - name: CompactLLMCommandGenerator\n"
        "  - name: LogisticRegressionClassifier\n  - name: NoSuchComponent\n"
    )
    config = load_config(tmp_path / "config.yml")
    # The unknown name stays, for the NLU pipeline to refuse.
    names = [name for name, _ in nlu_components(config)]
    assert names == ["WhitespaceTokenizer", "LogisticRegressionClassifier", "NoSuchComponent"]
    assert PIPELINE["NLUCommandAdapter"] is Kind.COMMAND_GENERATOR
    assert not {"NLUCommandAdapter", "IntentBasedRouter"} & set(COMPONENTS)
    with pytest.raises(NluError, match="unknown component 'NLUCommandAdapter'"):
        build([("NLUCommandAdapter", {})], language="en")


def test_unknown_options_are_left_out_like_the_reference_does() -> None:
    """`tandem data validate` refuses them (tests/project); a model trained without
    validation still builds."""
    _, featurizer = build(
        [("WhitespaceTokenizer", {}), ("CountVectorsFeaturizer", {"max_ngrams": 2})],
        language="en",
    )
    assert "max_ngrams" not in featurizer.options and featurizer.options["max_ngram"] == 1


@pytest.mark.parametrize(
    ("name", "options", "fragment"),
    [
        ("CountVectorsFeaturizer", {"analyzer": "chars"}, "option 'analyzer' is 'chars'"),
        ("CountVectorsFeaturizer", {"min_ngram": 3, "max_ngram": 2}, "smaller than 'min_ngram'"),
        ("CountVectorsFeaturizer", {"min_ngram": 0}, "'min_ngram' must be at least 1"),
        ("CountVectorsFeaturizer", {"max_df": 1.5}, "'max_df' must be"),
        ("CountVectorsFeaturizer", {"stop_words": "german"}, "'stop_words' must be"),
        ("CountVectorsFeaturizer", {"analyzer": "char", "OOV_token": "oov"}, "only applies"),
        ("CountVectorsFeaturizer", {"lowercase": "yes"}, "'lowercase' must be bool"),
        ("LogisticRegressionClassifier", {"max_iter": True}, "'max_iter' must be int"),
        ("LogisticRegressionClassifier", {"solver": "adam"}, "option 'solver' is 'adam'"),
        ("LogisticRegressionClassifier", {"ranking_length": -1}, "'ranking_length' must not"),
        ("FallbackClassifier", {"threshold": 1.5}, "'threshold' must be between 0 and 1"),
        ("LexicalSyntacticFeaturizer", {"features": [["low"], ["pos"], ["low"]]}, "needs spaCy"),
        ("LexicalSyntacticFeaturizer", {"features": [["lowr"]]}, "did you mean 'low'"),
        ("LexicalSyntacticFeaturizer", {"features": [["low"], ["low"]]}, "odd-length"),
        ("CRFEntityExtractor", {"features": [["bias", "suffix4"]]}, "unknown feature 'suffix4'"),
        (
            "CRFEntityExtractor",
            {"split_entities_by_comma": {"food": "no"}},
            "split_entities_by_comma",
        ),
        ("CRFEntityExtractor", {"L1_c": -1}, "'L1_c' must not be negative"),
        ("WhitespaceTokenizer", {"token_pattern": "("}, "invalid 'token_pattern'"),
        (
            "DucklingEntityExtractor",
            {"timeout": 0, "url": "http://x"},
            "'timeout' must be positive",
        ),
    ],
)
def test_bad_options_fail_at_build_time(name: str, options: dict, fragment: str) -> None:
    # A valid pipeline before the component, so only its own options can be wrong.
    components = INTENT_PIPELINE if name != "WhitespaceTokenizer" else []
    with pytest.raises(NluError) as error:
        build([*components, (name, options)], language="en")
    assert fragment in str(error.value)
    assert name in str(error.value)


def test_duckling_needs_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RASA_DUCKLING_HTTP_URL", raising=False)
    with pytest.raises(NluError, match="set 'url'"):
        build([("DucklingEntityExtractor", {})], language="en")


@pytest.mark.parametrize(
    ("components", "fragment"),
    [
        ([("CountVectorsFeaturizer", {})], "needs a tokenizer"),
        ([("WhitespaceTokenizer", {}), ("LogisticRegressionClassifier", {})], "needs a featurizer"),
        ([("FallbackClassifier", {})], "needs an intent classifier"),
        ([("RegexFeaturizer", {}), ("CRFEntityExtractor", {})], "needs a tokenizer"),
    ],
)
def test_components_need_their_inputs_earlier_in_the_pipeline(
    components: list, fragment: str
) -> None:
    with pytest.raises(NluError, match=fragment):
        build(components, language="en")


def test_featurizers_option_must_name_an_earlier_featurizer() -> None:
    base = [("WhitespaceTokenizer", {}), ("CountVectorsFeaturizer", {"alias": "words"})]
    build([*base, ("DIETClassifier", {"featurizers": ["words"]})], language="en")
    with pytest.raises(NluError, match="featurizer 'chars' is not the name or alias"):
        build([*base, ("DIETClassifier", {"featurizers": ["chars"]})], language="en")


def test_reference_neural_options_are_accepted() -> None:
    options = {
        "epochs": 300,
        "constrain_similarities": True,
        "random_seed": 1,
        "batch_size": [64, 256],
    }
    build(
        [
            ("WhitespaceTokenizer", {}),
            ("CountVectorsFeaturizer", {"additional_vocabulary_size": {"text": 100}}),
            ("DIETClassifier", options),
            ("ResponseSelector", {**options, "retrieval_intent": "faq"}),
        ],
        language="en",
    )


def test_empty_pipeline_trains_the_reference_default() -> None:
    pipeline = NluPipeline.train([], data(greetings()))
    assert [c.name for c in pipeline.components][:2] == ["WhitespaceTokenizer", "RegexFeaturizer"]
    assert pipeline.parse("hello there")["intent"]["name"] == "greet"
    assert "response_selector" in pipeline.parse("hello")


def test_intent_pipeline_helper_is_valid() -> None:
    assert len(build(INTENT_PIPELINE, language="en")) == 4
