"""Model archives hold data only and are read back safely."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from tandem.model.archive import (
    ArchiveError,
    archive_name,
    newest_archive,
    read_archive_metadata,
    unpack_archive,
    write_archive,
)
from tandem.model.fingerprint import fingerprint


def make_model_dir(tmp_path: Path) -> Path:
    source = tmp_path / "staging"
    (source / "components" / "nlu").mkdir(parents=True)
    (source / "metadata.json").write_text(json.dumps({"model_id": "abc"}))
    (source / "components" / "nlu" / "vocabulary.json").write_text("{}")
    return source


def test_round_trip(tmp_path: Path) -> None:
    archive = write_archive(make_model_dir(tmp_path), tmp_path / "models" / "m.tar.gz")
    assert read_archive_metadata(archive) == {"model_id": "abc"}
    unpacked = unpack_archive(archive, tmp_path / "out")
    assert (unpacked / "components" / "nlu" / "vocabulary.json").read_text() == "{}"
    assert not list((tmp_path / "models").glob("*.partial"))


def test_code_is_never_packed(tmp_path: Path) -> None:
    source = make_model_dir(tmp_path)
    (source / "components" / "evil.pkl").write_bytes(b"\x80\x04")
    with pytest.raises(ArchiveError, match="not a data file"):
        write_archive(source, tmp_path / "m.tar.gz")


def _tar_with(tmp_path: Path, name: str, data: bytes, kind: bytes = tarfile.REGTYPE) -> Path:
    path = tmp_path / "bad.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        meta = json.dumps({"model_id": "x"}).encode()
        info = tarfile.TarInfo("metadata.json")
        info.size = len(meta)
        tar.addfile(info, io.BytesIO(meta))
        info = tarfile.TarInfo(name)
        info.type = kind
        info.size = len(data)
        if kind == tarfile.SYMTYPE:
            info.linkname = "/etc/passwd"
            info.size = 0
        tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("model.pkl", tarfile.REGTYPE),
        ("../escape.json", tarfile.REGTYPE),
        ("link.json", tarfile.SYMTYPE),
    ],
)
def test_unsafe_archives_are_refused(tmp_path: Path, name: str, kind: bytes) -> None:
    with pytest.raises(ArchiveError):
        unpack_archive(_tar_with(tmp_path, name, b"{}", kind), tmp_path / "out")
    assert not (tmp_path / "escape.json").exists()


def test_names_and_newest(tmp_path: Path) -> None:
    assert archive_name("fixed") == "fixed.tar.gz"
    assert archive_name().endswith(".tar.gz") and len(archive_name().split("-")) == 4
    first = write_archive(make_model_dir(tmp_path), tmp_path / "models" / "a.tar.gz")
    assert newest_archive(tmp_path / "models") == first
    assert newest_archive(first) == first and newest_archive(tmp_path / "none") is None


def test_fingerprint_changes_with_content_only(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "nlu.yml").write_text("nlu: []")
    before = fingerprint([tmp_path / "data"])
    assert fingerprint([tmp_path / "data"]) == before
    (tmp_path / "data" / "nlu.yml").write_text("nlu: [x]")
    assert fingerprint([tmp_path / "data"]) != before
    assert fingerprint([tmp_path / "data"], "--epochs 3") != fingerprint([tmp_path / "data"])
