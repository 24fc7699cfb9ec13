"""``tandem data validate`` on the acceptance bank assistant and on broken copies of it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from shared_files import ACCEPTANCE, require
from tandem.cli.main import main

BANK = require(ACCEPTANCE / "bank")


@pytest.fixture
def bank(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "bank"
    shutil.copytree(BANK, copy, ignore=shutil.ignore_patterns("__pycache__", "models"))
    monkeypatch.chdir(copy)
    return copy


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_the_bank_assistant_is_clean(bank: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "validate"]) == 0
    out = capsys.readouterr().out
    # Its only warning: the reference's network option that Tandem's TED does without.
    assert "option 'epochs' of TEDPolicy does nothing in Tandem" in out
    assert "0 error(s), 1 warning(s)" in out


def test_a_typo_in_a_slot_name(bank: Path, capsys: pytest.CaptureFixture[str]) -> None:
    replace(
        bank / "domain" / "nlu_skills.yml",
        "      - appointment_topic\n",
        "      - appointment_topik\n",
    )
    assert main(["data", "validate"]) == 1
    out = capsys.readouterr().out
    assert (
        f"domain{os.sep}nlu_skills.yml:55: error: slot 'appointment_topik' is not declared" in out
    )
    assert "did you mean 'appointment_topic'?" in out


def test_a_missing_response(bank: Path, capsys: pytest.CaptureFixture[str]) -> None:
    replace(
        bank / "data" / "rules.yml", "- action: utter_branch_hours", "- action: utter_branch_hour"
    )
    assert main(["data", "validate"]) == 1
    out = capsys.readouterr().out
    assert f"data{os.sep}rules.yml:30: error: response 'utter_branch_hour' is not defined" in out
    assert "did you mean 'utter_branch_hours'?" in out


def test_a_bad_indent(bank: Path, capsys: pytest.CaptureFixture[str]) -> None:
    replace(bank / "domain" / "coexistence.yml", "\n    type: bool", "\n   type: bool")
    assert main(["data", "validate"]) == 1
    err = capsys.readouterr().err
    assert f"domain{os.sep}coexistence.yml:11: error: YAML syntax error" in err
    assert "check the indentation" in err


def test_an_unknown_component_name(bank: Path, capsys: pytest.CaptureFixture[str]) -> None:
    replace(bank / "config.yml", "  - name: RulePolicy", "  - name: RulesPolicy")
    assert main(["data", "validate"]) == 1
    out = capsys.readouterr().out
    assert "config.yml:" in out and "unknown policy 'RulesPolicy'" in out and "'RulePolicy'" in out


def test_an_unsupported_component(bank: Path, capsys: pytest.CaptureFixture[str]) -> None:
    replace(bank / "config.yml", "CompactLLMCommandGenerator", "MultiStepLLMCommandGenerator")
    assert main(["data", "validate"]) == 1
    out = capsys.readouterr().out
    assert "'MultiStepLLMCommandGenerator' is not supported by Tandem" in out
