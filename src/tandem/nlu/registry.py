"""Component names as written in config.yml, and the classes Tandem builds for them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tandem.nlu.component import Component, NluError
from tandem.nlu.count_vectors import CountVectorsFeaturizer
from tandem.nlu.crf_extractor import CRFEntityExtractor
from tandem.nlu.diet import DIETClassifier
from tandem.nlu.duckling import DucklingEntityExtractor
from tandem.nlu.fallback import FallbackClassifier
from tandem.nlu.intent_classifier import LogisticRegressionClassifier, SklearnIntentClassifier
from tandem.nlu.jieba_tokenizer import JiebaTokenizer
from tandem.nlu.keyword import KeywordIntentClassifier
from tandem.nlu.language_model import ConveRTFeaturizer, LanguageModelFeaturizer
from tandem.nlu.lexical_syntactic import LexicalSyntacticFeaturizer
from tandem.nlu.regex_extractor import RegexEntityExtractor
from tandem.nlu.regex_featurizer import RegexFeaturizer
from tandem.nlu.response_selector import ResponseSelector
from tandem.nlu.spacy_components import (
    SpacyEntityExtractor,
    SpacyFeaturizer,
    SpacyNLP,
    SpacyTokenizer,
)
from tandem.nlu.synonyms import EntitySynonymMapper
from tandem.nlu.tokenizer import WhitespaceTokenizer
from tandem.project.errors import suggest

COMPONENTS: Mapping[str, type[Component]] = {
    cls.name: cls
    for cls in (
        WhitespaceTokenizer,
        JiebaTokenizer,
        SpacyNLP,
        SpacyTokenizer,
        SpacyFeaturizer,
        SpacyEntityExtractor,
        CountVectorsFeaturizer,
        LexicalSyntacticFeaturizer,
        RegexFeaturizer,
        LanguageModelFeaturizer,
        ConveRTFeaturizer,
        LogisticRegressionClassifier,
        SklearnIntentClassifier,
        KeywordIntentClassifier,
        DIETClassifier,
        FallbackClassifier,
        CRFEntityExtractor,
        RegexEntityExtractor,
        DucklingEntityExtractor,
        EntitySynonymMapper,
        ResponseSelector,
    )
}

# Reference NLU components Tandem does not provide: they need MITIE's models, which Tandem
# does not run.
UNSUPPORTED_COMPONENTS = frozenset(
    {
        "MitieNLP",
        "MitieTokenizer",
        "MitieFeaturizer",
        "MitieIntentClassifier",
        "MitieEntityExtractor",
    }
)


def create(name: str, options: Mapping[str, Any], *, language: str) -> Component:
    cls = COMPONENTS.get(name)
    if cls is not None:
        return cls(options, language=language)
    known = ", ".join(sorted(COMPONENTS))
    if name in UNSUPPORTED_COMPONENTS:
        raise NluError(f"component '{name}' is not supported by Tandem; supported: {known}")
    hint = suggest(name, COMPONENTS)
    raise NluError(
        f"unknown component '{name}'"
        + (f" ({hint})" if hint.startswith("did") else "")
        + f"; known: {known}"
    )
