"""YAML reading keeps line numbers, follows YAML 1.2 booleans and expands ${ENV}."""

from __future__ import annotations

from pathlib import Path

import pytest

from tandem.project.errors import ProjectError, suggest
from tandem.project.yaml import YamlList, YamlMap, parse_yaml, read_yaml

TEXT = """\
version: "3.1"
slots:
  city:
    type: text
values: [yes, no, on, true, False]
items:
  - a
  - b
"""


def test_lines_of_keys_and_items() -> None:
    data = parse_yaml(TEXT, "domain.yml")
    assert isinstance(data, YamlMap) and isinstance(data["items"], YamlList)
    assert str(data.at("slots")) == "domain.yml:2"
    assert data["slots"]["city"].at("type").line == 4
    assert data["items"].at(1).line == 8


def test_only_true_and_false_are_booleans() -> None:
    assert parse_yaml(TEXT)["values"] == ["yes", "no", "on", True, False]


def test_duplicate_keys_are_errors() -> None:
    with pytest.raises(
        ProjectError, match=r"x.yml:3: error: duplicate key 'a' \(first written on line 1\)"
    ):
        parse_yaml("a: 1\nb: 2\na: 3\n", "x.yml")


def test_syntax_errors_name_the_line_and_a_fix() -> None:
    with pytest.raises(ProjectError) as info:
        parse_yaml("slots:\n  city:\n    type: text\n   mappings: []\n", "d.yml")
    problem = info.value.problems[0]
    assert problem.source.path == "d.yml" and problem.source.line == 4
    assert "indentation" in problem.hint


def test_env_expansion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOST", "db.local")
    path = tmp_path / "endpoints.yml"
    path.write_text("store:\n  url: postgresql://${HOST}:5432\n  api_key: ${NOT_SET}\n")
    data = read_yaml(path)
    assert data["store"]["url"] == "postgresql://db.local:5432"
    assert data["store"]["api_key"] == "${NOT_SET}"  # secrets are resolved lazily


def test_missing_env_variable_is_an_error_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "endpoints.yml"
    path.write_text("a: 1\nurl: http://${TANDEM_SURELY_UNSET}/x\n")
    with pytest.raises(
        ProjectError, match=r"endpoints.yml:2: error: environment variable\(s\) not set"
    ):
        read_yaml(path)


def test_suggest() -> None:
    assert suggest("tpye", ["type", "mappings"]) == "did you mean 'type'?"
    assert suggest("zzz", ["a", "b"]) == "expected one of: a, b"
