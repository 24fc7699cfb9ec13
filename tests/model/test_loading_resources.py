"""Loading a model leaves nothing behind: no unpacked folders, no open files, loaded or not."""

from __future__ import annotations

import os
import tarfile
import tempfile
from pathlib import Path

import pytest

from tandem.cli.main import main
from tandem.model.archive import UNPACK_PREFIX, ArchiveError, unpacked_model
from tandem.model.loading import load_assistant, open_processor
from tandem.model.training import NLU_DIR
from tandem.nlu import NluPipeline
from tandem.project.errors import ProjectError


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary-files folder of this test's own, so that counting in it is exact."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


@pytest.fixture
def model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    assert main(["init", str(tmp_path / "bot")]) == 0
    monkeypatch.chdir(tmp_path / "bot")
    assert main(["train", "--fixed-model-name", "m"]) == 0
    return tmp_path / "bot" / "models" / "m.tar.gz"


def unpacked(root: Path) -> list[str]:
    return [name for name in os.listdir(root) if name.startswith(UNPACK_PREFIX)]


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_loads_leave_no_folder_and_no_open_file(model: Path, temp_root: Path) -> None:
    load_assistant(model)  # warm-up: imports and caches open what they keep
    files = open_files()
    for _ in range(5):
        assistant = load_assistant(model)
        assert assistant.domain.intents
    processor = await open_processor(model)
    await processor.aclose()
    assert unpacked(temp_root) == []
    assert open_files() == files


def test_a_failed_load_leaves_no_folder(model: Path, temp_root: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not a tar archive")
    with pytest.raises(ArchiveError):
        load_assistant(broken)
    # An archive whose project snapshot no longer loads (its config edited by hand).
    edited = tmp_path / "edited"
    with tarfile.open(model) as tar:
        tar.extractall(edited, filter="data")
    (edited / "project" / "config.yml").write_text("pipeline: [")
    rebuilt = tmp_path / "edited.tar.gz"
    with tarfile.open(rebuilt, "w:gz") as tar:
        for path in sorted(edited.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=path.relative_to(edited).as_posix())
    with pytest.raises(ProjectError):
        load_assistant(rebuilt)
    assert unpacked(temp_root) == []


def test_a_crf_model_is_read_into_memory_leaving_no_folder(
    tmp_path: Path, temp_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CRFEntityExtractor's CRFsuite model files are read while loading; once loaded, the
    tagger needs no file, and neither training nor loading leaves a folder behind."""
    assert main(["init", str(tmp_path / "bot")]) == 0
    monkeypatch.chdir(tmp_path / "bot")
    config = Path("config.yml")
    regex = "  - name: RegexEntityExtractor\n"
    config.write_text(config.read_text().replace(regex, "  - name: CRFEntityExtractor\n" + regex))
    assert main(["train", "--fixed-model-name", "m"]) == 0
    model = Path("models/m.tar.gz")
    with tarfile.open(model) as tar:
        assert [n for n in tar.getnames() if n.endswith(".crfsuite")]
    files = open_files()
    load_assistant(model)
    with unpacked_model(model) as (_, folder):
        pipeline = NluPipeline.load(folder / NLU_DIR)
    found = pipeline.parse("I want a large pepperoni")["entities"]  # its folder is gone
    assert ("CRFEntityExtractor", "pepperoni") in {(e["extractor"], e["value"]) for e in found}
    assert os.listdir(temp_root) == []
    assert open_files() == files
