"""Tokenizers: the options every tokenizer shares, and WhitespaceTokenizer, which splits words
at whitespace and punctuation as the reference splits."""

from __future__ import annotations

import re
from typing import Any

from tandem.nlu.component import Component, NluError
from tandem.nlu.message import Message, Token, base_intent
from tandem.project.training_data import NluData

# Characters that become whitespace before splitting; each alternative is one of the
# reference's rules, and replacing a match with as many spaces keeps token offsets exact.
_SEPARATORS = re.compile(
    r"""
    [^\w\#@&]+ (?=\s|$)                   # punctuation ending a word: "Berlin?" -> "Berlin"
    | (?:(?<=\s)|^) [^\w\#@&]+ (?=[^\d\s])  # punctuation starting a word, unless a digit
                                          # follows: "'hello'" -> "hello", "-5" stays
    | (?<=[^\d\s]) [^\w.~:/?\#\[\]()@!$&*+,;=-]+ (?=[^\d\s])
                                          # inside a word, except characters of numbers,
                                          # e-mails and URLs: "what's" -> "what", "s"
    """,
    re.VERBOSE,
)


class Tokenizer(Component):
    """What every tokenizer shares: intent splitting and a ``token_pattern``; a subclass's
    process() sets the message's tokens."""

    defaults = {
        # Split intent labels like "greet+ask" into sub-intents the classifiers share.
        "intent_tokenization_flag": False,
        "intent_split_symbol": "_",
        # A regex whose matches are the tokens: matches in the text (WhitespaceTokenizer) or
        # in each of spaCy's tokens (SpacyTokenizer, as the reference applies it).
        "token_pattern": None,
    }
    # The reference splits action and intent names at it for end-to-end dialogue features.
    ignored = {"prefix_separator_symbol": "intent and action names are never split into tokens"}
    provides = frozenset({"tokens"})

    def __init__(self, options: dict[str, Any], *, language: str) -> None:
        super().__init__(options, language=language)
        pattern = self.options["token_pattern"]
        self._pattern = re.compile(pattern) if pattern else None

    @classmethod
    def check(cls, options: dict[str, Any]) -> None:
        if options["intent_tokenization_flag"] and not options["intent_split_symbol"]:
            raise NluError(f"{cls.name}: 'intent_split_symbol' must not be empty")
        if options["token_pattern"] is not None:
            try:
                re.compile(options["token_pattern"])
            except (re.error, TypeError) as error:
                raise NluError(f"{cls.name}: invalid 'token_pattern': {error}") from None

    def _pieces(self, token: Token) -> list[Token]:
        """The token_pattern's matches in one token of a model's segmentation (spaCy's, jieba's),
        or the token if it has none."""
        if self._pattern is None:
            return [token]
        pieces = [
            Token(m.group(), token.start + m.start(), token.start + m.end())
            for m in self._pattern.finditer(token.text)
            if m.group()
        ]
        return pieces or [token]

    def split_intent(self, intent: str) -> tuple[str, ...]:
        if not self.options["intent_tokenization_flag"]:
            return (intent,)
        return tuple(part for part in intent.split(self.options["intent_split_symbol"]) if part)

    def train(self, messages: list[Message], data: NluData) -> None:
        for message in messages:
            self.process(message)
            if message.example is not None and message.example.intent:
                message.intent_tokens = self.split_intent(base_intent(message.example.intent))


class WhitespaceTokenizer(Tokenizer):
    name = "WhitespaceTokenizer"

    def tokenize(self, text: str) -> list[Token]:
        if self._pattern is not None:
            return [
                Token(m.group(), m.start(), m.end())
                for m in self._pattern.finditer(text)
                if m.group()
            ]
        spaced = _SEPARATORS.sub(lambda match: " " * len(match.group()), text)
        tokens = [Token(m.group(), m.start(), m.end()) for m in re.finditer(r"\S+", spaced)]
        if not tokens and text.strip():
            # Only punctuation (":)", "???"): the whole text is the one token, so the
            # message still has features.
            start = len(text) - len(text.lstrip())
            tokens = [Token(text.strip(), start, start + len(text.strip()))]
        return tokens

    def process(self, message: Message) -> None:
        message.tokens = self.tokenize(message.text)
