"""The document folder ``EnterpriseSearchPolicy`` answers from, as a small in-process index.

Every ``.txt`` and ``.md`` file under the folder (subfolders included) is cut into passages of
about ``PASSAGE_CHARACTERS`` characters along paragraph boundaries: short enough that several
fit in a prompt, long enough to keep a paragraph's sentences together. Passages are ranked
against a question lexically (TF-IDF without English stop words) or, when the project configures
``embeddings``, by the embedding model. No vector database is involved.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from tandem.llm import LLMClient
from tandem.llm.text_index import TextIndex
from tandem.nlu.stop_words import ENGLISH

log = logging.getLogger(__name__)

DOCUMENT_SUFFIXES = (".txt", ".md")
PASSAGE_CHARACTERS = 1000

_BLANK_LINE = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class Passage:
    source: str  # the file it comes from, relative to the document folder
    text: str
    score: float = 0.0  # similarity to the question it was found for


class DocumentIndex:
    """The passages of the documents in ``folder``, read once when the index is made."""

    def __init__(self, folder: Path, *, embedder: LLMClient | None = None) -> None:
        self.folder = folder
        self.passages = read_passages(folder)
        self.index = TextIndex(
            [passage.text for passage in self.passages], embedder=embedder, stop_words=ENGLISH
        )

    async def search(self, question: str, limit: int, min_score: float) -> list[Passage]:
        """The ``limit`` passages most similar to ``question``, best first, among those scoring
        above ``min_score``. Raises ``LLMError`` if the embedding model cannot be reached."""
        if not self.passages:
            return []
        scores = await self.index.scores(question)
        ranked = sorted(range(len(scores)), key=lambda index: -scores[index])[:limit]
        return [
            replace(self.passages[index], score=scores[index])
            for index in ranked
            if scores[index] > min_score
        ]


def read_passages(folder: Path) -> list[Passage]:
    """The passages of every document under ``folder``, file by file in name order."""
    if not folder.is_dir():
        log.warning("The document folder %s does not exist: no documents to search.", folder)
        return []
    return [
        Passage(path.relative_to(folder).as_posix(), text)
        for path in document_files(folder)
        for text in split_passages(path.read_text(encoding="utf-8", errors="replace"))
    ]


def document_files(folder: Path) -> list[Path]:
    """The documents under ``folder`` (none if it does not exist), in name order."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in DOCUMENT_SUFFIXES)


def split_passages(text: str, limit: int = PASSAGE_CHARACTERS) -> list[str]:
    """``text`` as passages of at most ``limit`` characters: whole paragraphs joined while they
    fit; a paragraph longer than ``limit`` is cut between words (a longer word stays whole)."""
    paragraphs = [part.strip() for part in _BLANK_LINE.split(text) if part.strip()]
    pieces = [
        piece
        for paragraph in paragraphs
        for piece in (
            _pack(paragraph.split(), " ", limit) if len(paragraph) > limit else [paragraph]
        )
    ]
    return _pack(pieces, "\n\n", limit)


def _pack(parts: Sequence[str], separator: str, limit: int) -> list[str]:
    """``parts`` joined by ``separator`` into as few strings of at most ``limit`` characters as
    their order allows."""
    packed: list[str] = []
    current = ""
    for part in parts:
        if current and len(current) + len(separator) + len(part) > limit:
            packed.append(current)
            current = part
        else:
            current = f"{current}{separator}{part}" if current else part
    if current:
        packed.append(current)
    return packed
