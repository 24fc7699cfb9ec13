"""WhitespaceTokenizer: words separated by whitespace, with surrounding punctuation removed."""

from __future__ import annotations

import re
from typing import Any

from tandem.nlu.component import Component, NluError
from tandem.nlu.message import Message, Token, base_intent
from tandem.project.training_data import NluData

# A token is a whitespace-separated chunk minus leading/trailing punctuation: "Berlin?" ->
# "Berlin", while inner punctuation stays ("don't", "3.5", "e-mail").
_EDGE_PUNCTUATION = re.compile(r"^[^\w]+|[^\w]+$")


class WhitespaceTokenizer(Component):
    name = "WhitespaceTokenizer"
    defaults = {
        # Split intent labels like "greet+ask" into sub-intents the classifiers share.
        "intent_tokenization_flag": False,
        "intent_split_symbol": "_",
        # A regex whose matches are the tokens, instead of whitespace splitting.
        "token_pattern": None,
    }
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

    def tokenize(self, text: str) -> list[Token]:
        if self._pattern is not None:
            return [
                Token(m.group(), m.start(), m.end())
                for m in self._pattern.finditer(text)
                if m.group()
            ]
        tokens = []
        for chunk in re.finditer(r"\S+", text):
            stripped = _EDGE_PUNCTUATION.sub("", chunk.group())
            if not stripped:
                continue  # punctuation only
            start = chunk.start() + chunk.group().index(stripped)
            tokens.append(Token(stripped, start, start + len(stripped)))
        return tokens

    def split_intent(self, intent: str) -> tuple[str, ...]:
        if not self.options["intent_tokenization_flag"]:
            return (intent,)
        return tuple(part for part in intent.split(self.options["intent_split_symbol"]) if part)

    def train(self, messages: list[Message], data: NluData) -> None:
        for message in messages:
            self.process(message)
            if message.example is not None and message.example.intent:
                message.intent_tokens = self.split_intent(base_intent(message.example.intent))

    def process(self, message: Message) -> None:
        message.tokens = self.tokenize(message.text)
