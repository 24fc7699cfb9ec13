from __future__ import annotations

from pathlib import Path

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


def test_init_does_not_overwrite_without_force(tmp_path: Path) -> None:
    (tmp_path / "config.yml").write_text("mine")
    assert main(["init", str(tmp_path)]) == 1
    assert (tmp_path / "config.yml").read_text() == "mine"
    assert main(["init", str(tmp_path), "--force"]) == 0
    assert (tmp_path / "config.yml").read_text() != "mine"


def test_no_command_prints_help(capsys) -> None:
    assert main([]) == 2
    assert "tandem" in capsys.readouterr().out
