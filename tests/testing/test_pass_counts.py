"""README's pass-count table ("Test stories") is what the fixture projects measure.

Each row's project is trained with its config and its own ``tests/`` run with ``tandem test
core`` and ``tandem test core --e2e``; the passed / total counts, and the facts the reference's
count is derived from (which policies predicted the actions, which user texts are training
examples), must be the README's, so the table cannot go stale.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path

import pytest

from tandem.cli.main import main
from tandem.conversation.events import UserUttered
from tandem.model.loading import load_assistant
from tandem.project.data_files import load_test_stories, load_training_data
from tandem.testing.stories import StoryResult, replay, story_cases

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "projects"
LOOKUP_POLICIES = {"RulePolicy", "MemoizationPolicy", "AugmentedMemoizationPolicy"}

ROW = re.compile(r"^\| `(?P<project>\w+)` \(`(?P<config>[\w.-]+)`\) \|(?P<cells>.*)\|$")
DERIVATION = re.compile(
    r"(\d+) of (\d+) actions predicted by RulePolicy or MemoizationPolicy; "
    r"(\d+) of (\d+) user texts are training examples"
)


def _table() -> dict[tuple[str, str], list[str]]:
    text = (ROOT / "README.md").read_text("utf-8")
    section = text.split("### Test stories", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        match = ROW.match(line)
        if match:
            cells = [cell.strip() for cell in match["cells"].split("|")]
            rows[match["project"], match["config"]] = cells
    return rows


TABLE = _table()


def _passed(project: Path, out: str) -> str:
    report = json.loads((project / out / "story_report.json").read_text("utf-8"))
    accuracy = report["conversation_accuracy"]
    return f"{accuracy['correct']} / {accuracy['total']}"


def _replayed(project: Path) -> list[StoryResult]:
    assistant = load_assistant(project / "models")
    stories = load_test_stories([project / "tests"], assistant.domain.slots, [])
    cases = story_cases(stories, assistant.domain)

    async def replay_all() -> list[StoryResult]:
        return [
            await replay(assistant, case, e2e=False, sender_id=f"count-{index}")
            for index, case in enumerate(cases)
        ]

    return asyncio.run(replay_all())


def _derivation(project: Path, results: list[StoryResult]) -> tuple[int, int, int, int]:
    actions = [step for result in results for step in result.steps if step.policy is not None]
    by_lookup = sum(step.policy in LOOKUP_POLICIES for step in actions)
    training, _flows = load_training_data([project / "data"])
    known = {example.text.strip() for example in training.nlu.examples}
    texts = {
        (result.story.block.source, step.source, step.event.text.strip())
        for result in results
        for step in result.steps
        if isinstance(step.event, UserUttered) and step.event.text
    }  # once per written step, however many ways through its story's `or` steps
    in_training = sum(text in known for _, _, text in texts)
    return by_lookup, len(actions), in_training, len(texts)


def test_the_table_has_a_row_per_fixture_config() -> None:
    """A row per config of every fixture project with test stories."""
    with_tests = {path.parents[1] for path in FIXTURES.glob("*/tests/test_*.yml")}
    runs = {(root.name, config.name) for root in with_tests for config in root.glob("config*.yml")}
    assert set(TABLE) == runs


@pytest.mark.parametrize(("project", "config"), sorted(TABLE))
def test_the_readme_counts_are_measured(
    project: str, config: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _models, core, e2e, reference, derivation = TABLE[project, config]
    root = tmp_path / project
    shutil.copytree(FIXTURES / project, root)
    monkeypatch.chdir(root)
    assert main(["train", "--config", config, "--fixed-model-name", "model"]) == 0
    assert main(["test", "core", "--no-plot", "--out", "core"]) == 0
    assert main(["test", "core", "--e2e", "--no-plot", "--out", "e2e"]) == 0
    assert (core, e2e) == (_passed(root, "core"), _passed(root, "e2e"))

    by_lookup, actions, in_training, texts = _derivation(root, _replayed(root))
    assert derivation == (
        f"{by_lookup} of {actions} actions predicted by RulePolicy or MemoizationPolicy; "
        f"{in_training} of {texts} user texts are training examples"
    )
    total = core.split(" / ")[1]
    derived = by_lookup == actions and in_training == texts
    assert reference == (total if derived else f"{total} (assumed)")


def test_the_derivation_is_parsed() -> None:
    assert all(DERIVATION.fullmatch(cells[-1]) for cells in TABLE.values()), TABLE
