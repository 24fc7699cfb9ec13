"""``tandem test e2e`` end to end, with the scripted assistant in place of a trained model."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from e2e_testkit import make_processor, write

from tandem.cli.main import main
from tandem.runtime.processor import MessageProcessor

PASSING = """
test_cases:
  - test_case: greets
    steps:
      - user: /greet
      - utter: utter_greet
  - test_case: transfers
    steps:
      - user: /transfer
        assertions:
          - routed_to: {system: calm, sticky: true}
"""
FAILING = """
test_cases:
  - test_case: wrong
    steps:
      - user: /greet
      - bot: Goodbye!
"""


@pytest.fixture(autouse=True)
def scripted_model(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, Path]]:
    """Every model load gives the scripted assistant; the paths asked for are recorded."""
    opened: list[tuple[Path, Path]] = []

    async def open_processor(model: Path, endpoints: Path) -> MessageProcessor:
        opened.append((model, endpoints))
        return make_processor()

    monkeypatch.setattr("tandem.model.loading.open_processor", open_processor)
    return opened


def test_all_passing(tmp_path: Path, capsys, scripted_model) -> None:
    folder = tmp_path / "e2e_tests"
    write(folder, "a.yml", PASSING)
    code = main(["test", "e2e", str(folder), "--model", "models/x", "--endpoints", "ep.yml"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[-1] == "0 failed, 2 passed"
    assert out[0] == f"PASSED  {folder / 'a.yml'}::greets"
    assert scripted_model == [(Path("models/x"), Path("ep.yml"))]


def test_a_failure_is_reported_and_fails_the_run(tmp_path: Path, capsys) -> None:
    write(tmp_path, "a.yml", PASSING)
    write(tmp_path, "b.yml", FAILING)
    junit = tmp_path / "junit.xml"
    files = [str(tmp_path / "a.yml"), str(tmp_path / "b.yml")]
    code = main(["test", "e2e", *files, "-j", "2", "--junit", str(junit)])
    out = capsys.readouterr().out
    assert code == 1
    assert out.splitlines()[-1] == "1 failed, 2 passed"
    assert re.findall(r"[0-9]+ passed", out)[-1] == "2 passed"  # what run.sh reads
    b = tmp_path / "b.yml"
    assert f"'wrong' in {b}:3 failed\nMismatch starting at {b}:6\n" in out
    assert "  - bot: 'Goodbye!'" in out and "  + bot: 'Hello!'  [utter_greet]" in out
    assert ET.parse(junit).getroot().get("failures") == "1"


def test_fail_fast_and_selecting_one_test_case(tmp_path: Path, capsys) -> None:
    write(tmp_path, "b.yml", FAILING)
    write(tmp_path, "c.yml", PASSING)
    assert main(["test", "e2e", str(tmp_path), "--fail-fast"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "1 failed, 0 passed"
    assert main(["test", "e2e", f"{tmp_path / 'c.yml'}::transfers"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "0 failed, 1 passed"


def test_default_folder_coverage_and_skipped(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "e2e_tests/a.yml", PASSING)
    write(
        tmp_path,
        "e2e_tests/judged.yml",
        "test_cases: [{test_case: j, steps: [{user: /greet, assertions: "
        "[{generative_response_is_relevant: {threshold: 0.5}}]}]}]",
    )
    assert main(["test", "e2e", "--coverage-report"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "0 failed, 2 passed, 1 skipped"
    assert "no LLM judge is configured" in out
    assert (tmp_path / "e2e_coverage_results" / "coverage.json").is_file()


def test_no_tests_or_broken_files_fail(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["test", "e2e", str(tmp_path / "empty")]) == 1
    captured = capsys.readouterr()
    assert "No test cases found." in captured.err
    write(tmp_path, "bad.yml", "test_cases:\n  - test_case: x\n    steps:\n      - uter: y\n")
    assert main(["test", "e2e", str(tmp_path / "bad.yml")]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'bad.yml'}:4: error: unknown key 'uter' in a step" in err
