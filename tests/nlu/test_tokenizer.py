from __future__ import annotations

from tandem.nlu.message import Message
from tandem.nlu.tokenizer import WhitespaceTokenizer
from tandem.project.training_data import NluData, NluExample


def tokens(text: str, **options: object) -> list[tuple[str, int, int]]:
    tokenizer = WhitespaceTokenizer(options, language="en")
    return [(t.text, t.start, t.end) for t in tokenizer.tokenize(text)]


def test_splits_on_whitespace_and_strips_surrounding_punctuation() -> None:
    assert tokens("Hello, world! Book  a table?") == [
        ("Hello", 0, 5),
        ("world", 7, 12),
        ("Book", 14, 18),
        ("a", 20, 21),
        ("table", 22, 27),
    ]


def test_splits_inside_words_like_the_reference() -> None:
    assert [t for t, _, _ in tokens("don't pay 3.50 - e-mail me ... 'quoted' (x)")] == [
        "don",
        "t",
        "pay",
        "3.50",
        "e-mail",
        "me",
        "quoted",
        "x",
    ]
    assert tokens("what's up") == [("what", 0, 4), ("s", 5, 6), ("up", 7, 9)]


def test_keeps_numbers_emails_urls_and_signs_whole() -> None:
    text = "send -5 or $5 to a.b@c.com via http://x.org/a?b=1 #tag 10,000 10'000 50%"
    assert [t for t, _, _ in tokens(text)] == [
        "send",
        "-5",
        "or",
        "$5",
        "to",
        "a.b@c.com",
        "via",
        "http://x.org/a?b=1",
        "#tag",
        "10,000",
        "10'000",
        "50",
    ]


def test_punctuation_only_text_is_one_token() -> None:
    assert tokens(" :) ") == [(":)", 1, 3)]
    assert tokens("   ") == []


def test_token_pattern_replaces_whitespace_splitting() -> None:
    assert [t for t, _, _ in tokens("call 555-1234 now", token_pattern=r"\d+|[a-z]+")] == [
        "call",
        "555",
        "1234",
        "now",
    ]


def test_intent_tokenization_flag_splits_training_labels() -> None:
    examples = (NluExample("hi and bye", "greet+goodbye"), NluExample("faq", "faq/ask_name"))
    for flag, expected in ((True, ("greet", "goodbye")), (False, ("greet+goodbye",))):
        tokenizer = WhitespaceTokenizer(
            {"intent_tokenization_flag": flag, "intent_split_symbol": "+"}, language="en"
        )
        messages = [Message(e.text, example=e) for e in examples]
        tokenizer.train(messages, NluData(examples=examples))
        assert messages[0].intent_tokens == expected
        assert messages[1].intent_tokens == ("faq",)  # a retrieval intent is learned as its base
