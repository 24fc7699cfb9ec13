"""JiebaTokenizer: Chinese word segmentation by jieba (the ``chinese`` extra).

A project's own dictionaries (the files in ``dictionary_path``, one word per line with an
optional frequency and part of speech) change how jieba segments. Their text is kept in the
model, so the loaded model segments as the trained one did without the project's files.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tandem.nlu.component import NluError
from tandem.nlu.message import Message, Token
from tandem.nlu.storage import Store
from tandem.nlu.tokenizer import Tokenizer
from tandem.project.training_data import NluData

if TYPE_CHECKING:
    import jieba

INSTALL_COMMAND = "pip install 'tandem[chinese]'"


class JiebaTokenizer(Tokenizer):
    name = "JiebaTokenizer"
    defaults = {**Tokenizer.defaults, "dictionary_path": None}

    def __init__(self, options: dict[str, Any], *, language: str) -> None:
        super().__init__(options, language=language)
        if importlib.util.find_spec("jieba") is None:
            raise NluError(f"{self.name} needs jieba (not installed): {INSTALL_COMMAND}")
        self._use({})

    def train(self, messages: list[Message], data: NluData) -> None:
        folder = self.options["dictionary_path"]
        self._use(_read_dictionaries(Path(folder)) if folder else {})
        super().train(messages, data)

    def _use(self, dictionaries: dict[str, str]) -> None:
        self.dictionaries = dictionaries
        self._segmenter_key = tuple(sorted(dictionaries.items()))

    def process(self, message: Message) -> None:
        segmenter = _segmenter(self._segmenter_key)
        message.tokens = [
            piece
            for word, start, end in segmenter.tokenize(message.text)
            if word.strip()  # jieba keeps spaces as words
            for piece in self._pieces(Token(word, start, end))
        ]

    def persist(self, store: Store) -> None:
        store.write_json("dictionaries", self.dictionaries)

    def restore(self, store: Store) -> None:
        self._use(store.read_json("dictionaries"))


def _read_dictionaries(folder: Path) -> dict[str, str]:
    """File name -> text of each dictionary in the folder, as the reference loads every file."""
    if not folder.is_dir():
        raise NluError(f"JiebaTokenizer: dictionary_path '{folder}' is not a folder")
    return {
        path.name: path.read_text(encoding="utf-8").lstrip("\ufeff")
        for path in sorted(folder.iterdir())
        if path.is_file()
    }


@functools.lru_cache(maxsize=8)
def _segmenter(dictionaries: tuple[tuple[str, str], ...]) -> jieba.Tokenizer:
    """A jieba segmenter with the given dictionaries, made once per process and set of them
    (building jieba's prefix dictionary takes about a second)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)  # it announces the prefix dictionary on stderr
    segmenter = jieba.Tokenizer()
    for _, text in dictionaries:
        segmenter.load_userdict(io.StringIO(text))
    return segmenter
