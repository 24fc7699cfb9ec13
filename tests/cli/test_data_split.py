"""``tandem data split nlu``: stratified, repeatable, and the files read back to the data."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tandem.cli.main import main
from tandem.project.data_files import load_training_data
from tandem.project.training_data import NluExample

NLU = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi
    - hello
    - hey there
    - good morning
    - good evening
- intent: fly
  metadata: {"sentiment": "neutral"}
  examples: |
    - from [Berlin]{"entity": "city", "role": "from"} to [Rome]{"entity": "city", "role": "to"}
    - a flight to [NYC](city:New York City)
    - I need to get to [the big apple](city:New York City)
    - [two]{"entity": "seats", "value": 2} seats to [Paris](city)
    - to [Oslo][{"entity": "city"}, {"entity": "airport"}] please
- intent: faq/opening_hours
  examples:
  - text: when are you open
    metadata: {"source": "forum"}
  - text: what are your hours
- intent: lonely
  examples: |
    - just me
- synonym: New York City
  examples: |
    - NY
- regex: zipcode
  examples: |
    - \\b[0-9]{5}\\b
- lookup: city
  examples: |
    - Berlin
    - Rome
responses:
  utter_faq/opening_hours:
  - text: We are open from 9 to 5.
"""


@pytest.fixture
def nlu(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "nlu.yml"
    path.parent.mkdir()
    path.write_text(NLU)
    return path


def split(nlu: Path, out: Path, *flags: str) -> tuple[Any, Any]:
    assert main(["data", "split", "nlu", "--nlu", str(nlu), "--out", str(out), *flags]) == 0
    training, _ = load_training_data([out / "training_data.yml"])
    test, _ = load_training_data([out / "test_data.yml"])
    return training, test


def key(example: NluExample) -> tuple[Any, ...]:
    return (example.text, example.intent, example.entities, json.dumps(example.metadata))


def test_the_parts_read_back_to_the_original_examples(nlu: Path, tmp_path: Path) -> None:
    original, _ = load_training_data([nlu])
    training, test = split(nlu, tmp_path / "out", "--random-seed", "3")
    both = Counter(map(key, training.nlu.examples + test.nlu.examples))
    assert both == Counter(map(key, original.nlu.examples))
    # Synonyms, regexes and lookups stay with training; the test part has examples only.
    assert training.nlu.synonyms == original.nlu.synonyms
    assert training.nlu.regexes == original.nlu.regexes == (("zipcode", r"\b[0-9]{5}\b"),)
    assert training.nlu.lookups == original.nlu.lookups
    assert (test.nlu.synonyms, test.nlu.regexes, test.nlu.lookups) == ({}, (), {})


def test_the_annotations_are_written_as_they_were(nlu: Path, tmp_path: Path) -> None:
    split(nlu, tmp_path / "out", "--random-seed", "3")
    written = (tmp_path / "out" / "training_data.yml").read_text()
    written += (tmp_path / "out" / "test_data.yml").read_text()
    for line in NLU.splitlines():
        if line.startswith("    - ") and "[" in line:
            assert line in written
    assert written.count('version: "3.1"') == 2


def test_each_intent_is_in_both_parts(nlu: Path, tmp_path: Path) -> None:
    training, test = split(nlu, tmp_path / "out", "--training-fraction", "0.99")
    counts = Counter(e.intent for e in test.nlu.examples)
    assert counts == {"greet": 1, "fly": 1, "faq/opening_hours": 1}  # "lonely" has one
    training_counts = Counter(e.intent for e in training.nlu.examples)
    assert training_counts == {"greet": 4, "fly": 4, "faq/opening_hours": 1, "lonely": 1}
    # Each part keeps the responses of its retrieval intents.
    assert set(training.responses) == set(test.responses) == {"utter_faq/opening_hours"}


def test_a_seed_makes_the_split_repeatable(nlu: Path, tmp_path: Path) -> None:
    runs = [tmp_path / name for name in ("a", "b", "c")]
    for run, seed in zip(runs, ("7", "7", "8"), strict=True):
        split(nlu, run, "--random-seed", seed, "--training-fraction", "0.5")
    texts = [(run / "test_data.yml").read_text() for run in runs]
    assert texts[0] == texts[1]
    assert texts[0] != texts[2]


def test_a_bad_fraction_or_file_is_reported(
    nlu: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["data", "split", "nlu", "--nlu", str(nlu), "--out", str(tmp_path / "out")]
    assert main([*args, "--training-fraction", "1.5"]) == 1
    assert "--training-fraction must be between 0 and 1" in capsys.readouterr().err
    nlu.write_text(NLU.replace("- regex: zipcode", "- regex: zipcode\n  oops: 1"))
    assert main(args) == 1
    assert f"{nlu}:" in capsys.readouterr().err
