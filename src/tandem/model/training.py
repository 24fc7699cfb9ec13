"""``tandem train``: turn a project into a model archive.

The archive holds a snapshot of the project files the runtime reads again
(``tandem.model.snapshot``), each trained component's data under ``components/``, and
``metadata.json``. Training is
skipped when the newest archive was trained from identical inputs.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tandem import __version__
from tandem.calm.knowledge import document_files
from tandem.calm.search import EnterpriseSearchPolicy, document_folder
from tandem.model.archive import (
    METADATA_FILE,
    archive_name,
    newest_archive,
    read_archive_metadata,
    write_archive,
)
from tandem.model.components import nlu_components, project_folders
from tandem.model.fingerprint import fingerprint
from tandem.model.snapshot import SNAPSHOT_DIR, write_snapshot
from tandem.nlu import NluPipeline
from tandem.policies.registry import persist_policies, train_policies
from tandem.project.loader import Project

log = logging.getLogger(__name__)

NLU_DIR = "components/nlu"
POLICIES_DIR = "components/policies"

# ``training_type`` values of the reference's metadata.
TRAINING_TYPE_NLU = 1
TRAINING_TYPE_BOTH = 3


@dataclass(frozen=True)
class TrainResult:
    archive: Path
    skipped: bool  # nothing changed since ``archive`` was trained


def train(
    project: Project,
    out: Path,
    *,
    fixed_model_name: str | None = None,
    force: bool = False,
    nlu_only: bool = False,
    report: StepReporter | None = None,
) -> TrainResult:
    """Train ``project`` into an archive in ``out``; ``report`` hears about each long step."""
    step = report or _silent
    paths = project.paths
    referenced = _referenced_paths(project)
    inputs = [paths.config, paths.domain, *paths.data, *(project.root / p for p in referenced)]
    digest = fingerprint(inputs, "nlu-only" if nlu_only else "full")
    if not force:
        previous = _previous_archive(out, fixed_model_name)
        if (
            previous is not None
            and (read_archive_metadata(previous) or {}).get("fingerprint") == digest
        ):
            return TrainResult(previous, skipped=True)

    with tempfile.TemporaryDirectory(prefix="tandem-train-") as staging_name:
        staging = Path(staging_name)
        layout = write_snapshot(project, referenced, staging / SNAPSHOT_DIR)
        nlu_items = nlu_components(project.config, project.root)
        language = project.config.language or "en"
        with step(f"Training the NLU pipeline ({len(project.data.nlu.examples)} examples)") as now:
            if nlu_items:
                pipeline = NluPipeline.train(
                    nlu_items, project.data.nlu, language=language, on_component=now
                )
            else:
                # Only routers and command generators (a CALM assistant): no NLU component
                # runs. The default pipeline stands in only for an empty ``pipeline``, which
                # the config loader has filled in already.
                pipeline = NluPipeline([], language=language)
            pipeline.persist(staging / NLU_DIR)
        if not nlu_only:
            data = project.data
            with step(
                f"Training the dialogue policies ({len(data.stories)} stories, "
                f"{len(data.rules)} rules)"
            ) as now:
                policies = train_policies(project.config.policies, data, project.domain, now)
                persist_policies(policies, staging / POLICIES_DIR)
        metadata = {**_metadata(project, digest, nlu_only), "project": layout.as_dict()}
        (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=2), encoding="utf-8")
        prefix = "nlu-" if nlu_only else ""
        target = out / archive_name(fixed_model_name, prefix)
        with step("Writing the model archive"):
            write_archive(staging, target)
    return TrainResult(target, skipped=False)


# Wraps one training step: called with the step's name, used as a context manager that
# gives a function to call with what the step is doing now (the component it trains).
StepReporter = Callable[[str], AbstractContextManager[Callable[[str], None]]]


@contextmanager
def _silent(name: str) -> Iterator[Callable[[str], None]]:
    started = time.perf_counter()
    yield lambda doing: log.debug("%s: %s", name, doing)
    log.info("%s: %.2f s", name, time.perf_counter() - started)


def _previous_archive(out: Path, fixed_model_name: str | None) -> Path | None:
    if fixed_model_name:
        candidate = out / archive_name(fixed_model_name)
        return candidate if candidate.is_file() else None
    return newest_archive(out)


def _metadata(project: Project, digest: str, nlu_only: bool) -> dict[str, Any]:
    config = project.config
    return {
        "model_id": uuid.uuid4().hex,
        "assistant_id": config.assistant_id or "",
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "tandem_version": __version__,
        "fingerprint": digest,
        "training_type": TRAINING_TYPE_NLU if nlu_only else TRAINING_TYPE_BOTH,
        "language": config.language,
        "pipeline": [{"name": c.name, **dict(c.options)} for c in config.pipeline],
        "policies": []
        if nlu_only
        else [{"name": c.name, **dict(c.options)} for c in config.policies],
        "domain": project.domain.as_dict(),
    }


def _referenced_paths(project: Project) -> list[Path]:
    """Relative paths of the files that components and policies name: prompt templates, the
    documents in ``EnterpriseSearchPolicy`` document folders and the files in folders that NLU
    components name (``JiebaTokenizer``'s dictionaries). A changed one retrains the model
    like a changed YAML file. Absolute paths are read from where they are at run time."""
    named: list[Path] = []
    for component in (*project.config.pipeline, *project.config.policies):
        options = component.options
        prompt = options.get("prompt_template") or options.get("prompt")
        if isinstance(prompt, str):
            named.append(Path(prompt))
        if component.name == EnterpriseSearchPolicy.name:
            named.extend(_files_in(project.root, document_folder(options), document_files))
    for _, _, folder in project_folders(project.config):
        named.extend(_files_in(project.root, folder, _every_file))
    return [path for path in named if not path.is_absolute() and _inside(project.root, path)]


def _files_in(root: Path, folder: Path, listed: Callable[[Path], list[Path]]) -> list[Path]:
    """The files ``listed`` in a folder the project names, relative to its root (none for an
    absolute folder: it is read where it is)."""
    if folder.is_absolute():
        return []
    return [path.relative_to(root) for path in listed(root / folder)]


def _every_file(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def _inside(root: Path, path: Path) -> bool:
    if (root / path).resolve().is_relative_to(root.resolve()):
        return True
    log.warning("%s lies outside the project, so the model does not include it.", path)
    return False
