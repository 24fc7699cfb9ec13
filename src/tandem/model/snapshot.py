"""The project snapshot in a model archive: the project files a loaded model reads again.

Training turns NLU examples, stories and rules into components. Everything else the runtime
takes from project files: the config, the domain, the flows (pattern overrides included),
responses written in data files, and the files components name (prompt templates,
documents). The snapshot keeps a copy of each at its path relative to the project, so the
loaded model reads the very files training read, in the same order, and relative references
between them still resolve. ``metadata.json`` records the paths the project was loaded with.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tandem.project.loader import Project, load_project
from tandem.project.yaml import yaml_files

SNAPSHOT_DIR = "project"
# Files outside the project folder are kept under external/<n>/<file name>.
_EXTERNAL_DIR = "external"


@dataclass(frozen=True, slots=True)
class SnapshotLayout:
    """Where the snapshot keeps the config, the domain and each data path (relative)."""

    config: str
    domain: str
    data: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"config": self.config, "domain": self.domain, "data": list(self.data)}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> SnapshotLayout:
        recorded = metadata.get("project")
        if not isinstance(recorded, Mapping):
            # Archives of Tandem 0.1 before the layout was recorded.
            return cls("config.yml", "domain", ("flows",))
        return cls(str(recorded["config"]), str(recorded["domain"]), tuple(recorded["data"]))


def write_snapshot(project: Project, referenced: Iterable[Path], target: Path) -> SnapshotLayout:
    """Copy what the runtime reads of ``project`` into ``target``; ``referenced`` are the
    project-relative paths of the files components name."""
    names = _SnapshotNames(project.root)
    paths = project.paths
    layout = SnapshotLayout(
        config=names.of(paths.config),
        domain=names.of(paths.domain),
        data=tuple(names.of(path) for path in paths.data),
    )
    _copy(paths.config, target / layout.config)
    # Every YAML file the domain loader reads (it picks the domain files among them).
    _copy_tree(paths.domain, yaml_files(paths.domain), target / layout.domain)
    runtime_files = set(project.data.runtime_files)
    for path, name in zip(paths.data, layout.data, strict=True):
        kept = [file for file in yaml_files(path) if file in runtime_files]
        _copy_tree(path, kept, target / name)
    for path in referenced:
        _copy(project.root / path, target / path)
    return layout


def load_snapshot(model_dir: Path, metadata: Mapping[str, Any]) -> Project:
    """The project as the snapshot in an unpacked archive gives it."""
    layout = SnapshotLayout.from_metadata(metadata)
    return load_project(
        model_dir / SNAPSHOT_DIR, config=layout.config, domain=layout.domain, data=layout.data
    )


class _SnapshotNames:
    """Snapshot-relative names: the path inside the project, or ``external/<n>/<name>``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.external = 0

    def of(self, path: Path) -> str:
        relative = Path(os.path.normpath(os.path.relpath(path, self.root)))
        if not relative.parts or relative.parts[0] != os.pardir:
            return relative.as_posix()
        self.external += 1
        return f"{_EXTERNAL_DIR}/{self.external}/{path.name}"


def _copy_tree(source: Path, files: Iterable[Path], target: Path) -> None:
    """Copy ``files`` (``source`` itself or files below it) to the same places below ``target``."""
    for file in files:
        _copy(file, target / file.relative_to(source))


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
