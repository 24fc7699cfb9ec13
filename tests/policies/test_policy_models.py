"""Policies through `tandem train` and model loading: data files, restoring, training errors."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from tandem.calm.flow_policy import FlowPolicy
from tandem.cli.main import main
from tandem.conversation import events as ev
from tandem.model.loading import load_assistant, open_processor
from tandem.policies.memoization import MemoizationPolicy
from tandem.policies.rule_policy import RulePolicy
from tandem.runtime.message import UserMessage


@pytest.fixture
def starter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    assert main(["init", str(tmp_path)]) == 0
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--fixed-model-name", "m"]) == 0
    return tmp_path / "models" / "m.tar.gz"


def test_policies_are_stored_as_data_files_in_their_own_folders(starter: Path) -> None:
    with tarfile.open(starter) as archive:
        names = [n for n in archive.getnames() if "components/policies/" in n]
    files = [n for n in names if "." in Path(n).name]
    # FlowPolicy (index 0) belongs to CALM and has no folder here.
    assert {Path(n).parent.name for n in files} == {"1_RulePolicy", "2_MemoizationPolicy"}
    assert files and all(n.endswith((".json", ".npy")) for n in files)


def test_the_loaded_model_has_its_policies_in_config_order(starter: Path) -> None:
    policies = load_assistant(starter).policies
    assert [type(p) for p in policies] == [FlowPolicy, RulePolicy, MemoizationPolicy]


async def test_the_starter_answers_greetings_and_opening_hours(starter: Path) -> None:
    processor = await open_processor(starter)
    greeting = await processor.handle_message(UserMessage("hello", sender_id="u"))
    assert [m.utter_action for m in greeting.messages] == ["utter_greet"]
    hours = await processor.handle_message(UserMessage("when are you open?", sender_id="u"))
    assert [m.utter_action for m in hours.messages] == ["utter_opening_hours"]
    actions = [e.name for e in hours.new_events if isinstance(e, ev.ActionExecuted)]
    assert actions == ["utter_opening_hours", "action_reset_routing", "action_listen"]


def test_training_stops_with_the_contradictions_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", str(tmp_path)]) == 0
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "stories.yml").write_text(
        'version: "3.1"\nstories:\n  - story: greet with the hours\n    steps:\n'
        "      - intent: greet\n      - action: utter_opening_hours\n"
    )
    assert main(["train"]) == 1
    err = capsys.readouterr().err
    assert "Contradicting rules or stories found" in err
    assert "stories.yml:6" in err and "story 'greet with the hours'" in err
    assert not (tmp_path / "models").exists()
