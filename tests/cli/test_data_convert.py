"""``tandem data convert``: Rasa 2 Markdown (fixtures modelled on public Rasa 2 projects) to
YAML that our loader reads back to the expected examples and steps, and that trains."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tandem.cli.main import main
from tandem.conversation.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
from tandem.project.data_files import load_training_data
from tandem.project.training_data import Checkpoint, OrStep

FIXTURES = Path(__file__).parents[1] / "fixtures"
MARKDOWN = FIXTURES / "markdown"
RESTAURANT = FIXTURES / "projects" / "restaurant_forms"


def convert(kind: str, data: Path, out: Path) -> None:
    args = ["data", "convert", kind, "-f", "yaml", "--data", str(data), "--out", str(out)]
    assert main(args) == 0


def entities(example: Any) -> list[tuple[Any, ...]]:
    return [(a.entity, a.value, a.start, a.end, a.role) for a in example.entities]


def test_markdown_nlu_becomes_the_same_examples(tmp_path: Path) -> None:
    convert("nlu", MARKDOWN / "nlu.md", tmp_path)
    data, _ = load_training_data([tmp_path / "nlu.yml"])
    examples = {(e.intent, e.text): entities(e) for e in data.nlu.examples}
    assert [text for intent, text in examples if intent == "greet"] == [
        "hey",
        "hello there",
        "hi",  # the comment after it is gone
        "good morning",
    ]
    assert examples["request_restaurant", "a table for two at a mexican place"] == [
        ("number", "2", 12, 15, None),
        ("cuisine", "mexican", 21, 28, None),
    ]
    assert examples["request_restaurant", "I want italian or greek food"] == [
        ("cuisine", "italian", 7, 14, "first"),
        ("cuisine", "greek", 18, 23, "second"),
    ]
    assert examples["inform", "thai"] == [("cuisine", "thai food", 0, 4, None)]
    # The example inside the multi-line comment is not one.
    assert len(data.nlu.examples) == 21
    assert data.nlu.synonyms == {
        "two": "2",
        "veggie": "vegetarian",
        "meat free": "vegetarian",
        "thai": "thai food",
    }
    assert data.nlu.regexes == (("number", r"\b[0-9]{1,2}\b"),)
    assert data.nlu.lookups == {
        "cuisine": ("italian", "mexican"),
        "more_cuisines": ("korean", "japanese", "vietnamese"),  # read from the file named
    }


def step(value: Any) -> Any:
    if isinstance(value, UserUttered):
        found = [(e["entity"], e["value"], e.get("role")) for e in value.entities]
        return ("user", value.intent_name, value.text, found)
    if isinstance(value, ActionExecuted):
        return ("action", value.name)
    if isinstance(value, SlotSet):
        return ("slot", value.name, value.value)
    if isinstance(value, ActiveLoop):
        return ("loop", value.name)
    if isinstance(value, Checkpoint):
        return ("checkpoint", value.name)
    assert isinstance(value, OrStep)
    return ("or", [step(alternative) for alternative in value.alternatives])


def test_markdown_stories_become_the_same_steps(tmp_path: Path) -> None:
    convert("core", MARKDOWN / "stories.md", tmp_path)
    data, _ = load_training_data([tmp_path / "stories.yml"])
    stories = {story.name: [step(s) for s in story.steps] for story in data.stories}
    assert stories == {
        "happy path": [
            ("user", "greet", None, []),
            ("action", "utter_greet"),
            ("user", "request_restaurant", None, [("cuisine", "italian", None)]),
            ("slot", "cuisine", "italian"),
            ("action", "restaurant_form"),
            ("loop", "restaurant_form"),
            ("loop", None),
            ("action", "action_submit_booking"),
            ("action", "utter_slots_values"),
            ("checkpoint", "after_booking"),
        ],
        "thanks after a booking": [
            ("checkpoint", "after_booking"),
            ("or", [("user", "thankyou", None, []), ("user", "affirm", None, [])]),
            ("action", "utter_noworries"),
        ],
        "goodbye after a booking": [
            ("checkpoint", "after_booking"),
            ("user", "goodbye", None, []),
            ("action", "utter_goodbye"),
        ],
        "two guests, then greek food": [
            ("user", "request_restaurant", None, [("number", "2", None), ("number", "two", None)]),
            ("action", "restaurant_form"),
            ("loop", "restaurant_form"),
            ("user", "inform", None, [("cuisine", "greek", None)]),
            ("action", "restaurant_form"),
            ("slot", "cuisine", "greek"),
            ("slot", "num_people", 2.0),
            ("loop", None),
            ("action", "action_submit_booking"),
        ],
        "greek food, end to end": [
            ("user", "greet", "hello there", []),
            ("action", "utter_greet"),
            ("user", "inform", "greek food please", [("cuisine", "greek", "first")]),
            ("action", "restaurant_form"),
        ],
    }


def test_a_converted_project_trains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("domain.yml", "config.yml"):
        shutil.copy(RESTAURANT / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    markdown = Path(shutil.copytree(MARKDOWN, tmp_path / "markdown"))
    (markdown / "README.md").write_text("# Our data\n\n## How to add examples\nIn nlu.md.\n")
    # A folder: each command takes the Markdown files of its kind, named like them; the
    # README is neither.
    convert("nlu", markdown, tmp_path / "data")
    convert("core", markdown, tmp_path / "data")
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["nlu.yml", "stories.yml"]
    assert main(["data", "validate"]) == 0
    assert main(["train", "--out", "models"]) == 0
    assert "Your model is ready" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("kind", "markdown", "line", "message"),
    [
        ("nlu", "## intent:greet\n- hi\n\n## intnt:bye\n- bye\n", 4, "unknown section"),
        ("nlu", "- hi\n", 1, "an example before any section"),
        ("nlu", "## intent:a\n- [x]{entity: y}\n", 2, "is not valid JSON"),
        ("nlu", "## regex:r\n- [a-\n", 2, "invalid regular expression"),
        ("nlu", "## lookup:city\nnowhere.txt\n", 2, "cannot be read"),
        ("core", "* greet\n", 1, "a story step before any story"),
        ("core", "## s\n<!-- a\ncomment -->\n* inform{city}\n", 4, "is not valid JSON"),
        ("core", "## s\n* greet\n  - restart\n", 3, "has no step in Rasa 3 stories"),
        ("core", "## s\n* greet\n  - utter_x{}\n", 3, "unknown event"),
        ("core", "## s\n* greet\nutter_hi\n", 3, "cannot read the story line"),
    ],
)
def test_problems_name_the_markdown_file_and_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    markdown: str,
    line: int,
    message: str,
) -> None:
    source = tmp_path / "data.md"
    source.write_text(markdown)
    args = ["data", "convert", kind, "--data", str(source), "--out", str(tmp_path / "out")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert f"{source}:{line}: error: " in err
    assert message in err
    assert not (tmp_path / "out" / "data.yml").exists()


def test_a_line_that_is_no_example_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "nlu.md"
    source.write_text("## intent:greet\n  examples: |\n- hi\n")
    assert main(["data", "convert", "nlu", "--data", str(source), "--out", str(tmp_path)]) == 0
    assert f"{source}:2: warning: the line 'examples: |' is not an example" in (
        capsys.readouterr().err
    )
    assert "- hi" in (tmp_path / "nlu.yml").read_text()


def test_synonyms_keep_their_spelling(tmp_path: Path) -> None:
    source = tmp_path / "nlu.md"
    source.write_text(
        "## intent:inform\n- I live in [NYC](city:New York City)\n\n"
        "## synonym:New York City\n- NY\n- the Big Apple\n"
    )
    convert("nlu", source, tmp_path / "out")
    written = (tmp_path / "out" / "nlu.yml").read_text()
    assert (
        "- synonym: New York City\n  examples: |\n    - NYC\n    - NY\n    - the Big Apple\n"
        in (written)
    )
    data, _ = load_training_data([tmp_path / "out" / "nlu.yml"])
    assert data.nlu.synonyms == {
        "NYC": "New York City",
        "NY": "New York City",
        "the Big Apple": "New York City",
    }
