"""Model files of one component: JSON documents, NumPy arrays and CRFsuite models, nothing
executable.

Arrays are written with ``np.save`` and read with ``allow_pickle=False``, and a CRFsuite model is
CRFsuite's own binary format (dictionaries and weights, parsed by CRFsuite), so loading a model
never runs code from its files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

CRFSUITE_SUFFIX = ".crfsuite"


class Store:
    def __init__(self, directory: Path, prefix: str) -> None:
        self.directory = directory
        self.prefix = prefix  # keeps the files of two instances of one component apart

    def _path(self, name: str, suffix: str) -> Path:
        return self.directory / f"{self.prefix}.{name}{suffix}"

    def write_json(self, name: str, value: Any) -> None:
        self._path(name, ".json").write_text(
            json.dumps(value, ensure_ascii=False, sort_keys=True), encoding="utf-8"
        )

    def read_json(self, name: str) -> Any:
        return json.loads(self._path(name, ".json").read_text(encoding="utf-8"))

    def write_vocabulary(self, name: str, vocabulary: dict[str, int]) -> None:
        """A term -> column mapping, written as the list of terms in column order."""
        self.write_json(name, sorted(vocabulary, key=vocabulary.__getitem__))

    def read_vocabulary(self, name: str) -> dict[str, int]:
        return {term: column for column, term in enumerate(self.read_json(name))}

    def write_array(self, name: str, array: np.ndarray) -> None:
        np.save(self._path(name, ".npy"), np.ascontiguousarray(array), allow_pickle=False)

    def read_array(self, name: str) -> np.ndarray:
        return np.load(self._path(name, ".npy"), allow_pickle=False)

    def write_crfsuite(self, name: str, model: bytes) -> None:
        """A CRFsuite model file, as CRFsuite's trainer wrote it."""
        self._path(name, CRFSUITE_SUFFIX).write_bytes(model)

    def read_crfsuite(self, name: str) -> bytes:
        return self._path(name, CRFSUITE_SUFFIX).read_bytes()
