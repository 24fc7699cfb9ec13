"""Fingerprints of training inputs, so that unchanged projects are not trained again."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from tandem import __version__


def project_files(paths: Iterable[Path]) -> list[Path]:
    """Every YAML file under the given files/folders, in a stable order."""
    found: set[Path] = set()
    for path in paths:
        if path.is_file():
            found.add(path)
        elif path.is_dir():
            found.update(
                p for p in path.rglob("*") if p.is_file() and p.suffix in (".yml", ".yaml")
            )
    return sorted(found)


def fingerprint(paths: Iterable[Path], *extra: str) -> str:
    """A hash of the files' contents, the engine version and any extra settings."""
    digest = hashlib.sha256(f"tandem {__version__}".encode())
    for item in extra:
        digest.update(b"\0" + item.encode())
    for path in project_files(paths):
        digest.update(b"\0" + path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
