"""``tandem train`` on the starter project, loading the archive back, and skipping retraining."""

from __future__ import annotations

from pathlib import Path

import pytest

from tandem.cli.main import main
from tandem.conversation import events as ev
from tandem.model.archive import read_archive_metadata, unpack_archive
from tandem.model.loading import open_processor
from tandem.model.training import NLU_DIR, train
from tandem.nlu.pipeline import NluPipeline
from tandem.project.loader import load_project
from tandem.runtime.message import UserMessage


@pytest.fixture
def starter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    assert main(["init", str(tmp_path)]) == 0
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_train_writes_an_archive_and_skips_unchanged_data(starter: Path, capsys) -> None:
    assert main(["train"]) == 0
    archives = list((starter / "models").glob("*.tar.gz"))
    assert len(archives) == 1
    metadata = read_archive_metadata(archives[0])
    assert metadata is not None and metadata["assistant_id"] == "tandem-starter-pizzeria"
    assert "order_pizza" in [next(iter(i)) for i in metadata["domain"]["intents"]]
    assert main(["train"]) == 0
    assert "Nothing changed" in capsys.readouterr().out
    assert len(list((starter / "models").glob("*.tar.gz"))) == 1
    nlu = starter / "data" / "nlu.yml"
    nlu.write_text(nlu.read_text().replace("      - howdy\n", "      - howdy\n      - yo\n"))
    assert main(["train", "--fixed-model-name", "second"]) == 0
    assert (starter / "models" / "second.tar.gz").is_file()


def test_train_refuses_a_project_with_errors(starter: Path, capsys) -> None:
    rules = starter / "data" / "rules.yml"
    rules.write_text(rules.read_text().replace("utter_goodbye", "utter_goodbey"))
    assert main(["train"]) == 1
    assert "rules.yml" in capsys.readouterr().err
    assert not (starter / "models").exists()


async def test_the_loaded_model_parses_messages(starter: Path) -> None:
    assert main(["train", "--fixed-model-name", "m"]) == 0
    processor = await open_processor(starter / "models" / "m.tar.gz", starter / "endpoints.yml")
    result = await processor.handle_message(UserMessage("I want a large pepperoni", sender_id="u"))
    # The message as parsed (later actions, e.g. a fallback's rewind, may forget it).
    latest = next(e for e in result.tracker.events if isinstance(e, ev.UserUttered))
    assert latest.intent_name == "order_pizza"
    assert {e["entity"]: e["value"] for e in latest.entities} == {
        "pizza": "pepperoni",
        "size": "large",
    }
    assert all(e.metadata["model_id"] for e in result.tracker.events)


def test_a_pipeline_of_command_generators_only_trains_no_nlu_components(starter: Path) -> None:
    """The default NLU pipeline stands in for an empty ``pipeline`` only: a CALM assistant
    whose pipeline names only an LLM command generator classifies no intents (slash
    messages are still read)."""
    (starter / "config.yml").write_text(
        "recipe: default.v1\nlanguage: en\npipeline:\n"
        "  - name: CompactLLMCommandGenerator\n    llm:\n      model: gpt-4o-mini\n"
        "policies:\n  - name: FlowPolicy\n  - name: RulePolicy\n"
    )
    archive = train(load_project(starter), starter / "models").archive
    pipeline = NluPipeline.load(unpack_archive(archive, starter / "unpacked") / NLU_DIR)
    assert pipeline.components == []
    assert pipeline.parse("I want a large pepperoni")["intent"]["name"] is None
    assert pipeline.parse("/greet", intents={"greet"})["intent"]["name"] == "greet"
