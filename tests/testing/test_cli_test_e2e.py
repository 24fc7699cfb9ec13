"""``tandem test e2e`` end to end, with the scripted assistant in place of a trained model."""

from __future__ import annotations

import asyncio
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
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


def test_a_tests_folder_without_e2e_test_files_is_passed_over(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    # NLU-based projects keep test stories (for `tandem test core`) in tests/; result files
    # land there too. Neither hides the e2e_tests/ folder.
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "tests/test_stories.yml", "stories:\n  - story: s\n    steps: []\n")
    write(tmp_path, "tests/e2e_results_passed.yml", "[]\n")
    write(tmp_path, "e2e_tests/a.yml", PASSING)
    assert main(["test", "e2e"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "0 failed, 2 passed"


def test_no_tests_or_broken_files_fail(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["test", "e2e", str(tmp_path / "empty")]) == 1
    captured = capsys.readouterr()
    assert "No test cases found." in captured.err
    write(tmp_path, "bad.yml", "test_cases:\n  - test_case: x\n    steps:\n      - uter: y\n")
    assert main(["test", "e2e", str(tmp_path / "bad.yml")]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'bad.yml'}:4: error: a step needs one of: user, bot" in err
    assert "(did you mean 'utter'?)" in err


def test_duplicate_names_and_plain_steps_among_assertions_run_with_warnings(
    tmp_path: Path, capsys
) -> None:
    """Files the reference runs are run: both test cases named 'greets' run (one passes, one
    fails), and the plain `bot` step of a test case with assertions is skipped, not failed."""
    write(
        tmp_path,
        "a.yml",
        """test_cases:
  - test_case: greets
    steps:
      - user: /greet
      - utter: utter_greet
  - test_case: greets
    steps:
      - user: /greet
      - bot: Goodbye!
  - test_case: transfers
    steps:
      - user: /transfer
        assertions:
          - routed_to: {system: calm, sticky: true}
      - bot: this text is never said
""",
    )
    a = tmp_path / "a.yml"
    assert main(["test", "e2e", str(a), "-o", str(tmp_path / "out")]) == 1
    captured = capsys.readouterr()
    assert f"{a}:6: warning: test case 'greets' is also defined on line 2; both run" in (
        captured.err
    )
    assert f"{a}:15: warning: test case 'transfers' uses assertions, so this step is not" in (
        captured.err
    )
    assert captured.out.splitlines()[-1] == "1 failed, 2 passed"
    assert f"'greets' in {a}:6 failed" in captured.out
    [passed_transfer] = [
        entry
        for entry in yaml.safe_load((tmp_path / "out" / "e2e_results_passed.yml").read_text())
        if entry["name"] == "transfers"
    ]
    assert passed_transfer["not_checked"] == [
        f"{a}:15: this step is not checked: the test case uses assertions"
    ]


def test_results_and_failed_tests_go_under_tests_by_default(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "tests/conftest.yml", "fixtures: [{calm: [{route_session_to_calm: true}]}]")
    write(tmp_path, "tests/b.yml", FAILING.replace("steps:", "fixtures: [calm]\n    steps:"))
    write(tmp_path, "e2e_tests/a.yml", PASSING)  # tests/ is the default, so not run
    assert main(["test", "e2e", "-o", "-f"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "1 failed, 0 passed"
    assert "results written to tests/e2e_results_passed.yml, tests/e2e_results_failed.yml" in out
    [failed] = yaml.safe_load((tmp_path / "tests" / "e2e_results_failed.yml").read_text())
    assert failed["name"] == "wrong" and failed["error_path"] == "tests/b.yml:7"
    assert yaml.safe_load((tmp_path / "tests" / "e2e_results_passed.yml").read_text()) == []
    [rewritten] = (tmp_path / "tests").glob("e2e_failed_tests_*/b.yml")
    assert f"failed test cases written to {rewritten.relative_to(tmp_path)}" in out
    assert "calm" in yaml.safe_load(rewritten.read_text())["fixtures"][0]
    # The next run of tests/ finds the original only, not the re-written copy or the results.
    assert main(["test", "e2e"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "1 failed, 0 passed"
    # the re-written file runs on its own, from anywhere
    monkeypatch.chdir(rewritten.parent)
    assert main(["test", "e2e", "b.yml::wrong", "-o", str(tmp_path / "again")]) == 1
    [again] = yaml.safe_load((tmp_path / "again" / "e2e_results_failed.yml").read_text())
    assert again["difference"] == [
        f"- bot: 'Goodbye!'  ({again['error_path']})",
        "+ bot: 'Hello!'  [utter_greet]",
    ]
    assert again["difference"][1:] == failed["difference"][1:]


def test_explicit_result_folders_and_a_passing_run(tmp_path: Path, capsys) -> None:
    write(tmp_path, "a.yml", PASSING)
    out_dir, failed_dir = tmp_path / "out", tmp_path / "failed"
    code = main(["test", "e2e", str(tmp_path / "a.yml"), "-o", str(out_dir), "-f", str(failed_dir)])
    assert code == 0
    assert "failed test cases written" not in capsys.readouterr().out
    passed = yaml.safe_load((out_dir / "e2e_results_passed.yml").read_text())
    assert [entry["name"] for entry in passed] == ["greets", "transfers"]
    assert all(entry["pass_status"] for entry in passed)
    assert not failed_dir.exists()


def test_coverage_reports_rules_and_stories_of_the_data(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "tests/a.yml", PASSING)
    write(
        tmp_path,
        "data/rules.yml",
        """
        rules:
          - rule: greet
            steps: [{intent: greet}, {action: utter_greet}]
          - rule: goodbye
            steps: [{intent: goodbye}, {action: utter_goodbye}]
        stories:
          - story: transfer
            steps: [{intent: transfer}, {action: action_start_transfer}]
        """,
    )
    report_dir = tmp_path / "cov"
    assert (
        main(["test", "e2e", "--coverage-report", "--coverage-output-path", str(report_dir)]) == 0
    )
    out = capsys.readouterr().out
    assert "  rules: 1 of 2" in out and "  stories: 1 of 1" in out
    passed = json.loads((report_dir / "coverage.json").read_text())["passed_tests"]
    assert passed["rules"] == {"covered": ["greet"], "missing": ["goodbye"]}


async def test_the_judge_of_a_conftest_uses_the_endpoints_model_groups(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch, llm_server
) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        "endpoints.yml",
        f"""
        model_groups:
          - id: judge
            models:
              - {{provider: openai, model: judge-model, api_base: "{llm_server.api_base}",
                  api_key: sk-1}}
        """,
    )
    write(tmp_path, "tests/conftest.yml", "llm_judge:\n  llm: {model_group: judge}\n")
    write(
        tmp_path,
        "tests/judged.yml",
        """
        test_cases:
          - test_case: relevant
            steps:
              - user: /greet
                assertions:
                  - generative_response_is_relevant: {threshold: 0.8}
          - test_case: irrelevant
            steps:
              - user: /greet
                assertions:
                  - generative_response_is_relevant: {threshold: 0.8}
        """,
    )
    llm_server.then_answer('{"score": 0.9, "reason": "a greeting for a greeting"}')
    llm_server.then_answer('{"score": 0.5, "reason": "off topic"}')
    # main() runs its own event loop; the server's loop must keep running meanwhile
    code = await asyncio.to_thread(main, ["test", "e2e"])
    out = capsys.readouterr().out
    assert code == 1 and out.splitlines()[-1] == "1 failed, 1 passed"
    assert "'Hello!' scored 0.5, below the threshold 0.8: off topic" in out
    assert [seen.body["model"] for seen in llm_server.requests] == ["judge-model"] * 2


def test_a_broken_judge_block_stops_the_run(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "tests/conftest.yml", "llm_judge: {model_group: nowhere}\n")
    write(tmp_path, "tests/a.yml", PASSING)
    assert main(["test", "e2e"]) == 1
    err = capsys.readouterr().err
    assert "tests/conftest.yml:1: error: `llm_judge`: model group 'nowhere' is not defined" in err
