"""``tandem test core``: test stories replayed teacher-forced against a trained model.

The fixture projects are trained for real and their own ``tests/test_stories.yml`` run;
wrong stories are written next to them to see what the reports make of a mistake.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tandem.cli.main import main
from tandem.project.data_files import parse_annotated
from tandem.project.errors import Source
from tandem.testing.stories import annotated

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "projects"

# One wrong action (a goodbye answered with a greeting) and one right story.
WRONG_ACTION = """\
version: "3.1"
stories:
  - story: a goodbye answered with a greeting
    steps:
      - user: |
          bye
        intent: goodbye
      - action: utter_greet
  - story: a greeting answered with a greeting
    steps:
      - user: |
          hello
        intent: greet
      - action: utter_greet
"""

# Right for the dialogue with the gold labels, wrong for the NLU: "hello" is no goodbye,
# and italian is a cuisine, not a number.
WRONG_LABELS = """\
version: "3.1"
stories:
  - story: hello labelled as a goodbye
    steps:
      - user: |
          hello
        intent: goodbye
      - action: utter_goodbye
  - story: a cuisine labelled as a number
    steps:
      - user: |
          can you book a table
        intent: request_restaurant
      - action: restaurant_form
      - active_loop: restaurant_form
      - slot_was_set:
          - requested_slot: cuisine
      - user: |
          [italian](number) food
        intent: inform
      - action: restaurant_form
"""


def _trained(
    project: str, root: Path, monkeypatch: pytest.MonkeyPatch, config: str = "config.yml"
) -> Path:
    target = root / project
    shutil.copytree(FIXTURES / project, target)
    monkeypatch.chdir(target)
    assert main(["train", "--config", config, "--fixed-model-name", "model"]) == 0
    return target


def _report(project: Path, out: str = "results") -> dict[str, object]:
    report = json.loads((project / out / "story_report.json").read_text("utf-8"))
    assert isinstance(report, dict)
    return report


@pytest.mark.parametrize(
    ("project", "config", "stories"),
    [
        ("restaurant_forms", "config.yml", 6),
        # spaCy's tokens and vectors, and a FallbackClassifier at 0.7 as such projects write it
        ("restaurant_forms", "config-spacy.yml", 6),
        # spaCy vectors and SklearnIntentClassifier, the reference's old spaCy template
        ("restaurant_forms", "config-sklearn.yml", 6),
        ("financial_nested", "config.yml", 5),
        ("helpdesk_faq", "config.yml", 3),
        # ConveRTFeaturizer, served by the packaged sentence encoder
        ("helpdesk_faq", "config-convert.yml", 3),
        # Chinese: JiebaTokenizer with the project's dictionary of city names
        ("weather_zh", "config.yml", 2),
    ],
)
@pytest.mark.parametrize("e2e", [False, True])
def test_the_fixture_passes_its_test_stories(
    project: str,
    config: str,
    stories: int,
    e2e: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = _trained(project, tmp_path, monkeypatch, config)
    capsys.readouterr()
    code = main(["test", "core", *(["--e2e"] if e2e else []), "--fail-on-prediction-errors"])
    out = capsys.readouterr().out
    assert f"Stories: {stories} passed, 0 failed (of {stories})" in out, out
    assert code == 0
    assert (root / "results" / "failed_test_stories.yml").read_text().startswith("# ")
    assert _report(root)["conversation_accuracy"] == {
        "accuracy": 1.0,
        "correct": stories,
        "with_warnings": 0,
        "total": stories,
    }


@pytest.fixture
def restaurant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = _trained("restaurant_forms", tmp_path, monkeypatch)
    (root / "wrong").mkdir()
    (root / "wrong" / "test_wrong_action.yml").write_text(WRONG_ACTION)
    (root / "wrong" / "test_wrong_labels.yml").write_text(WRONG_LABELS)
    return root


def test_a_wrong_action_fails_its_story(
    restaurant: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    stories = ["--stories", "wrong/test_wrong_action.yml"]
    assert main(["test", "core", *stories, "--successes"]) == 0  # as the reference: 0
    out = capsys.readouterr().out
    assert "Stories: 1 passed, 1 failed (of 2)" in out
    mismatch = "action utter_greet expected, utter_goodbye predicted"
    assert f"wrong/test_wrong_action.yml:8: {mismatch}" in out

    failed = (restaurant / "results" / "failed_test_stories.yml").read_text()
    assert "- story: a goodbye answered with a greeting (wrong/test_wrong_action.yml:3)" in failed
    assert "  - action: utter_greet  # predicted: utter_goodbye\n" in failed
    assert "a greeting answered" not in failed
    passed = (restaurant / "results" / "successful_test_stories.yml").read_text()
    assert "- story: a greeting answered with a greeting" in passed
    assert "# predicted" not in passed

    # Scored: utter_greet (predicted utter_goodbye) and action_listen in the first story,
    # utter_greet and action_listen in the second; the first listen of a story is given.
    report = _report(restaurant)
    assert report["action_listen"] == {
        "precision": 1.0,
        "recall": 1.0,
        "f1-score": 1.0,
        "support": 2,
    }
    assert report["utter_greet"] == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "f1-score": 2 / 3, "support": 2}
    )
    assert "utter_goodbye" not in report  # rows are the stories' labels
    assert report["accuracy"] == 0.75
    assert report["macro avg"] == pytest.approx(
        {"precision": 1.0, "recall": 0.75, "f1-score": 5 / 6, "support": 4}
    )
    assert report["weighted avg"] == pytest.approx(report["macro avg"])
    assert report["conversation_accuracy"] == {
        "accuracy": 0.5,
        "correct": 1,
        "with_warnings": 0,
        "total": 2,
    }

    assert main(["test", "core", *stories, "--fail-on-prediction-errors"]) == 1
    # The failed stories are a story file: replayed, they fail the same way.
    capsys.readouterr()
    again = ["--stories", "results/failed_test_stories.yml", "--out", "again"]
    assert main(["test", "core", *again]) == 0
    assert "Stories: 0 passed, 1 failed (of 1)" in capsys.readouterr().out


def test_e2e_compares_the_nlu_with_the_story(
    restaurant: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stories = ["--stories", "wrong/test_wrong_labels.yml"]
    assert main(["test", "core", *stories, "--fail-on-prediction-errors"]) == 0
    assert "Stories: 2 passed, 0 failed (of 2)" in capsys.readouterr().out

    assert main(["test", "core", *stories, "--e2e", "--fail-on-prediction-errors"]) == 1
    out = capsys.readouterr().out
    assert "Stories: 0 passed, 2 failed (of 2)" in out
    assert "wrong/test_wrong_labels.yml:5: intent goodbye expected, greet predicted" in out
    failed = (restaurant / "results" / "failed_test_stories.yml").read_text()
    assert "  - intent: goodbye  # predicted: greet: hello\n" in failed
    # The intent is right, the entity is not: the comment shows what the NLU found.
    assert "  - intent: inform  # predicted: inform: [italian](cuisine) food\n" in failed
    assert "      [italian](number) food\n" in failed
    report = _report(restaurant)
    assert report["goodbye"] == {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 1}
    assert report["inform"]["recall"] == 1.0  # entities fail the story, not the intent


def test_max_stories_and_the_warnings_file(
    restaurant: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["test", "core", "--max-stories", "2", "--out", "two"]) == 0
    assert "Stories: 2 passed, 0 failed (of 2)" in capsys.readouterr().out
    assert _report(restaurant, "two")["conversation_accuracy"]["total"] == 2  # type: ignore[index]
    warnings = (restaurant / "two" / "stories_with_warnings.yml").read_text()
    assert warnings.startswith("# No test story had a warning")
    assert main(["test", "core", "--no-warnings", "--out", "quiet"]) == 0
    assert not (restaurant / "quiet" / "stories_with_warnings.yml").exists()


def test_e2e_reads_only_test_files(restaurant: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(restaurant / "wrong" / "test_wrong_action.yml", restaurant / "stories.yml")
    assert main(["test", "core", "--stories", "stories.yml"]) == 0
    assert "(of 2)" in capsys.readouterr().out
    assert main(["test", "core", "--stories", "stories.yml", "--e2e"]) == 0
    assert "no test stories found in files named test_*" in capsys.readouterr().err
    assert _report(restaurant) == {}


def test_bad_test_stories_are_reported_with_their_line(
    restaurant: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = restaurant / "tests" / "test_bad.yml"
    bad.write_text(
        'version: "3.1"\nstories:\n  - story: joined\n    steps:\n'
        "      - checkpoint: start\n      - intent: greet\n      - action: utter_pizza\n"
    )
    assert main(["test", "core", "--stories", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:5: error: test story 'joined' has a checkpoint" in err
    assert f"{bad}:7: error: response 'utter_pizza' is not defined" in err

    bad.write_text('version: "3.1"\nstories:\n  - story: typo\n    steps:\n      - intnt: greet\n')
    assert main(["test", "core", "--stories", str(bad)]) == 1
    assert f"{bad}:5: error: unknown key 'intnt'" in capsys.readouterr().err

    assert main(["test", "core", "--stories", "nowhere"]) == 1
    assert "nowhere: error: the test stories path does not exist" in capsys.readouterr().err


@pytest.mark.parametrize(
    "written",
    [
        "fly to [Berlin](city) now",
        "from [NY](city:New York) to [Rome](city)",
        '[Berlin]{"entity": "city", "role": "destination"} please',
        "no entities at all",
    ],
)
def test_annotations_are_written_as_story_files_read_them(written: str) -> None:
    text, entities = parse_annotated(written, Source("t.yml", 1))
    assert annotated(text, [e.as_dict() for e in entities]) == written


def test_a_user_text_without_intent_is_read_by_the_nlu(
    restaurant: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    story = restaurant / "wrong" / "test_text_only.yml"
    story.write_text(
        'version: "3.1"\nstories:\n  - story: text only\n    steps:\n'
        "      - user: hello\n      - action: utter_greet\n"
        "      - user: bye\n      - action: utter_goodbye\n"
    )
    for e2e in ([], ["--e2e"]):
        assert main(["test", "core", "--stories", str(story), *e2e]) == 0
        out = capsys.readouterr().out
        assert "Stories: 1 passed, 0 failed (of 1)" in out
        assert "User turns" not in out  # no intent to compare the NLU's with
