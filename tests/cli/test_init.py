from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from tandem.cli.main import main


def test_init_writes_the_starter_project(tmp_path: Path, capsys) -> None:
    assert main(["init", str(tmp_path / "bot")]) == 0
    for name in (
        "config.yml",
        "endpoints.yml",
        "credentials.yml",
        "data/flows.yml",
        "data/nlu.yml",
        "data/rules.yml",
        "domain/orders.yml",
    ):
        assert (tmp_path / "bot" / name).is_file(), name
    ignored = (tmp_path / "bot" / ".gitignore").read_text().split()
    assert {"models/", "results/", ".tandem_history"} <= set(ignored)


def test_the_starter_passes_its_own_e2e_tests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Offline, through both systems: an order, opening hours, and the ways out of a flow
    (cancel, help, a human handoff), a five-digit order number, a message of no skill."""
    assert main(["init", str(tmp_path / "bot")]) == 0
    with contextlib.chdir(tmp_path / "bot"):
        assert main(["data", "validate"]) == 0
        assert main(["train"]) == 0
        capsys.readouterr()
        assert main(["test", "e2e"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "0 failed, 6 passed"


def test_init_does_not_overwrite_without_force(tmp_path: Path) -> None:
    (tmp_path / "config.yml").write_text("mine")
    assert main(["init", str(tmp_path)]) == 1
    assert (tmp_path / "config.yml").read_text() == "mine"
    assert main(["init", str(tmp_path), "--force"]) == 0
    assert (tmp_path / "config.yml").read_text() != "mine"


def test_no_command_prints_help(capsys) -> None:
    assert main([]) == 2
    assert "tandem" in capsys.readouterr().out
