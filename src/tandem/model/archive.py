"""Model archives: ``.tar.gz`` files holding only data (JSON, YAML, NumPy arrays, CRFsuite
models).

Loading an archive never executes code: members are extracted with the tarfile ``data``
filter (no links, devices or paths outside the target), and only files with data
extensions are accepted.
"""

from __future__ import annotations

import json
import random
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

METADATA_FILE = "metadata.json"
# Temporary folders an archive is unpacked into while a model loads.
UNPACK_PREFIX = "tandem-model-"
# Text, array and CRFsuite model formats only: loading a model never runs code from it. ``.md``
# and ``.txt`` also cover the documents EnterpriseSearchPolicy answers from; ``.crfsuite`` is
# CRFsuite's binary model (dictionaries and weights), which CRFsuite parses.
DATA_SUFFIXES = frozenset(
    {".json", ".yml", ".yaml", ".npy", ".npz", ".txt", ".md", ".jinja2", ".crfsuite"}
)

_ADJECTIVES = (
    "amber",
    "brisk",
    "calm",
    "deep",
    "eager",
    "fair",
    "gentle",
    "humble",
    "keen",
    "lively",
    "mellow",
    "nimble",
    "quiet",
    "rapid",
    "steady",
    "tidy",
    "vivid",
    "warm",
    "witty",
    "young",
)
_NOUNS = (
    "anchor",
    "beacon",
    "canyon",
    "delta",
    "ember",
    "falcon",
    "garden",
    "harbor",
    "island",
    "jetty",
    "lantern",
    "meadow",
    "orchard",
    "pebble",
    "river",
    "summit",
    "tandem",
    "valley",
    "willow",
    "zephyr",
)


class ArchiveError(Exception):
    pass


def archive_name(fixed_name: str | None = None, prefix: str = "") -> str:
    """``YYYYMMDD-HHMMSS-<adjective>-<noun>.tar.gz`` like the reference, or the fixed name."""
    if fixed_name:
        return fixed_name if fixed_name.endswith(".tar.gz") else f"{fixed_name}.tar.gz"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    words = f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}"
    return f"{prefix}{stamp}-{words}.tar.gz"


def write_archive(source_dir: Path, target: Path) -> Path:
    """Pack ``source_dir`` (which must contain ``metadata.json``) into ``target``."""
    if not (source_dir / METADATA_FILE).is_file():
        raise ArchiveError(f"{source_dir} has no {METADATA_FILE}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with tarfile.open(partial, "w:gz") as tar:
        for path in sorted(source_dir.rglob("*")):
            if path.is_file():
                _check_member_name(path.relative_to(source_dir).as_posix())
                tar.add(path, arcname=path.relative_to(source_dir).as_posix())
    partial.replace(target)  # a crash never leaves a half-written archive under the real name
    return target


@contextmanager
def unpacked_model(model_path: Path) -> Iterator[tuple[Path, Path]]:
    """The newest archive at ``model_path`` and a temporary folder holding its contents,
    removed when the block ends (whether it returns or raises)."""
    archive = newest_archive(model_path)
    if archive is None:
        raise ArchiveError(f"no model archive found at {model_path}; run `tandem train` first")
    with tempfile.TemporaryDirectory(prefix=UNPACK_PREFIX) as folder:
        yield archive, unpack_archive(archive, Path(folder))


def unpack_archive(archive: Path, target: Path) -> Path:
    """Extract a model archive into the folder ``target`` (the caller's to remove)."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                if not (member.isfile() or member.isdir()):
                    raise ArchiveError(f"{archive}: '{member.name}' is not a regular file")
                if member.isfile():
                    _check_member_name(member.name)
            tar.extractall(target, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise ArchiveError(f"{archive} is not a readable model archive: {exc}") from exc
    if not (target / METADATA_FILE).is_file():
        raise ArchiveError(f"{archive} is not a tandem model (no {METADATA_FILE})")
    return target


def _check_member_name(name: str) -> None:
    if Path(name).suffix not in DATA_SUFFIXES:
        raise ArchiveError(
            f"'{name}' is not a data file; model archives hold only {sorted(DATA_SUFFIXES)}"
        )


def read_metadata(model_dir: Path) -> dict[str, Any]:
    return json.loads((model_dir / METADATA_FILE).read_text(encoding="utf-8"))


def read_archive_metadata(archive: Path) -> dict[str, Any] | None:
    """The metadata of an archive without unpacking it (``None`` if unreadable)."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.extractfile(METADATA_FILE)
            return None if member is None else json.loads(member.read())
    except (tarfile.TarError, OSError, KeyError, ValueError):
        return None


def newest_archive(path: Path) -> Path | None:
    """``path`` itself if it is an archive, else the newest ``.tar.gz`` in the directory."""
    if path.is_file():
        return path
    if not path.is_dir():
        return None
    archives = sorted(path.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return archives[-1] if archives else None
