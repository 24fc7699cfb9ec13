"""CountVectorsFeaturizer, LexicalSyntacticFeaturizer and RegexFeaturizer outputs."""

from __future__ import annotations

from typing import Any

from nlu_testkit import data, example

from tandem.nlu.count_vectors import CountVectorsFeaturizer, char_wb_ngrams
from tandem.nlu.lexical_syntactic import LexicalSyntacticFeaturizer
from tandem.nlu.message import Message
from tandem.nlu.regex_featurizer import RegexFeaturizer
from tandem.nlu.tokenizer import WhitespaceTokenizer
from tandem.project.training_data import NluData

TEXTS = ["Book a table", "book a flight", "cancel the table", "Thank you"]


def trained(component_options: dict[str, Any], texts: list[str] = TEXTS, **tokenizer_options: Any):
    nlu = data([example(t, f"intent{i % 2}") for i, t in enumerate(texts)])
    tokenizer = WhitespaceTokenizer(tokenizer_options, language="en")
    featurizer = CountVectorsFeaturizer(component_options, language="en")
    messages = [Message(e.text, example=e) for e in nlu.examples]
    tokenizer.train(messages, nlu)
    featurizer.train(messages, nlu)
    return tokenizer, featurizer


def sentence(tokenizer: WhitespaceTokenizer, featurizer, text: str) -> dict[str, float]:
    message = Message(text)
    tokenizer.process(message)
    featurizer.process(message)
    row = message.features[-1].sentence
    terms = {i: t for t, i in featurizer.vocabulary.items()}
    return {terms[i]: float(v) for i, v in zip(row.indices, row.data, strict=True)}


def test_word_counts_are_lowercased_by_default() -> None:
    tokenizer, featurizer = trained({})
    assert sentence(tokenizer, featurizer, "Book book TABLE zebra") == {"book": 2.0, "table": 1.0}
    tokenizer, featurizer = trained({"lowercase": False})
    assert sentence(tokenizer, featurizer, "Book book") == {"Book": 1.0, "book": 1.0}


def test_numbers_share_one_term_unseen_or_not() -> None:
    tokenizer, featurizer = trained({}, ["table for 4", "pay 3.50 at 7pm"])
    assert "__number__" in featurizer.vocabulary and "4" not in featurizer.vocabulary
    assert "7pm" in featurizer.vocabulary  # digits inside a word are not a number
    assert sentence(tokenizer, featurizer, "table for 12 or 3.5") == {
        "table": 1.0,
        "for": 1.0,
        "__number__": 1.0,  # "12", never seen
        "__number__.__number__": 1.0,  # "3.5", shaped like the "3.50" of training
    }
    tokenizer, featurizer = trained({"lowercase": False}, ["table for 4"])
    assert sentence(tokenizer, featurizer, "for 99") == {"for": 1.0, "__NUMBER__": 1.0}


def test_word_ngram_range() -> None:
    tokenizer, featurizer = trained({"min_ngram": 1, "max_ngram": 2})
    assert sentence(tokenizer, featurizer, "book a table") == {
        "book": 1.0,
        "a": 1.0,
        "table": 1.0,
        "book a": 1.0,
        "a table": 1.0,
    }
    _, featurizer = trained({"min_ngram": 2, "max_ngram": 2})
    assert "book" not in featurizer.vocabulary and "book a" in featurizer.vocabulary


def test_char_wb_ngrams_stay_inside_padded_words() -> None:
    assert list(char_wb_ngrams(["ab"], 2, 3)) == [" a", "ab", "b ", " ab", "ab "]
    assert list(char_wb_ngrams(["a"], 1, 4)) == [" ", "a", " ", " a", "a ", " a "]
    _, featurizer = trained({"analyzer": "char_wb", "min_ngram": 3, "max_ngram": 3})
    assert " bo" in featurizer.vocabulary and "k a" not in featurizer.vocabulary


def test_char_ngrams_cross_word_boundaries() -> None:
    _, featurizer = trained({"analyzer": "char", "min_ngram": 3, "max_ngram": 3})
    assert "k a" in featurizer.vocabulary and " bo" not in featurizer.vocabulary


def test_oov_token_stands_for_unknown_and_listed_words() -> None:
    texts = ["book a table", "order a pizza", "book a pizza"]
    tokenizer, featurizer = trained({"OOV_token": "oov", "OOV_words": ["PIZZA"]}, texts)
    assert "pizza" not in featurizer.vocabulary and "oov" in featurizer.vocabulary
    assert sentence(tokenizer, featurizer, "book a zebra pizza") == {
        "book": 1.0,
        "a": 1.0,
        "oov": 2.0,
    }
    tokenizer, featurizer = trained({}, texts)
    assert sentence(tokenizer, featurizer, "book a zebra") == {"book": 1.0, "a": 1.0}


def test_shared_vocabulary_includes_words_of_intent_names() -> None:
    _, alone = trained({})
    _, shared = trained({"use_shared_vocab": True})
    assert "intent0" not in alone.vocabulary
    assert "intent0" in shared.vocabulary and "book" in shared.vocabulary


def test_document_frequency_limits_and_max_features() -> None:
    _, featurizer = trained({"min_df": 2})
    assert set(featurizer.vocabulary) == {"book", "a", "table"}
    _, featurizer = trained({"max_df": 0.4})  # words in at most 1 of 4 texts
    assert "a" not in featurizer.vocabulary and "flight" in featurizer.vocabulary
    _, featurizer = trained({"max_features": 2})
    assert set(featurizer.vocabulary) == {"a", "book"}


def test_stop_words() -> None:
    _, featurizer = trained({"stop_words": "english"})
    assert "a" not in featurizer.vocabulary and "the" not in featurizer.vocabulary
    _, featurizer = trained({"stop_words": ["table"]})
    assert "table" not in featurizer.vocabulary and "a" in featurizer.vocabulary


def test_sequence_features_have_one_row_per_token() -> None:
    tokenizer, featurizer = trained({})
    message = Message("book the zebra")
    tokenizer.process(message)
    featurizer.process(message)
    sequence = message.features[0].sequence
    assert sequence.shape == (3, len(featurizer.vocabulary))
    assert sequence[0, featurizer.vocabulary["book"]] == 1.0
    assert sequence[2].nnz == 0


def lexical(options: dict[str, Any], text: str) -> list[set[str]]:
    tokenizer = WhitespaceTokenizer({}, language="en")
    featurizer = LexicalSyntacticFeaturizer(options, language="en")
    messages = [Message(text)]
    tokenizer.train(messages, NluData())
    featurizer.train(messages, NluData())
    terms = {i: t for t, i in featurizer.vocabulary.items()}
    sequence = messages[0].features[0].sequence
    assert messages[0].features[0].sentence is None  # token features only
    return [{terms[i] for i in sequence[row].indices} for row in range(sequence.shape[0])]


def test_lexical_syntactic_default_window() -> None:
    rows = lexical({}, "Hello NEW york")
    assert "0:BOS:True" in rows[0] and "0:EOS:False" in rows[0] and "0:title:True" in rows[0]
    assert "-1:title:True" in rows[1] and "1:low:True" in rows[1] and "0:upper:True" in rows[1]
    assert "0:EOS:True" in rows[2] and "1:low:True" not in rows[2]


def test_lexical_syntactic_features_option() -> None:
    rows = lexical({"features": [["suffix2", "prefix5", "digit"]]}, "booking 42")
    assert rows == [
        {"0:suffix2:ng", "0:prefix5:booki", "0:digit:False"},
        {"0:suffix2:42", "0:prefix5:42", "0:digit:True"},
    ]


def regex_features(options: dict[str, Any], text: str) -> tuple[list[frozenset[str]], list[float]]:
    nlu = data(
        [example("my zip is 12345", "inform")],
        regexes=[("zipcode", r"\d{5}")],
        lookups={"city": ("Berlin", "New York")},
    )
    tokenizer = WhitespaceTokenizer({}, language="en")
    featurizer = RegexFeaturizer(options, language="en")
    featurizer.train([], nlu)
    message = Message(text)
    tokenizer.process(message)
    featurizer.process(message)
    return message.patterns or [], message.features[0].sentence.toarray().ravel().tolist()


def test_regex_featurizer_marks_matching_tokens() -> None:
    patterns, sentence = regex_features({}, "from New York to 10115")
    assert patterns == [
        frozenset(),
        frozenset({"city"}),
        frozenset({"city"}),
        frozenset(),
        frozenset({"zipcode"}),
    ]
    assert sentence == [1.0, 1.0]


def test_regex_featurizer_is_case_sensitive_by_default() -> None:
    assert regex_features({}, "new york")[1] == [0.0, 0.0]
    assert regex_features({"case_sensitive": False}, "new york")[1] == [0.0, 1.0]


def test_regex_featurizer_pattern_sources() -> None:
    assert regex_features({"use_regexes": False}, "Berlin 12345")[1] == [1.0]
    assert regex_features({"use_lookup_tables": False}, "Berlin 12345")[1] == [1.0]
    assert regex_features({"use_lookup_tables": False}, "Berlin")[1] == [0.0]
    assert regex_features({}, "Berliner")[1] == [0.0, 0.0]
    assert regex_features({"use_word_boundaries": False}, "Berliner")[1] == [0.0, 1.0]
