"""conftest.yml files: fixtures, metadata and the LLM judge shared by the test files below."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_testkit import write

from tandem.project.errors import Problem, ProjectError
from tandem.testing.cases import UserStep, load_test_cases

USES_SHARED = """
fixtures:
  - vip: [{vip: false}]
test_cases:
  - test_case: shared
    fixtures: [vip, calm]
    metadata: phone
    steps:
      - user: hi
"""


def test_definitions_come_from_every_conftest_up_to_the_cwd_nearest_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    write(tmp_path, "conftest.yml", "fixtures: [{calm: [{route_session_to_calm: false}]}]")
    write(
        project,
        "conftest.yml",
        """
        fixtures:
          - calm: [{route_session_to_calm: true}]
          - vip: [{vip: true}]
        metadata:
          - phone: {device: phone}
        llm_judge: {llm: {model: far}}
        """,
    )
    write(project, "tests/deep/conftest.yml", "llm_judge: {model: near}")
    write(project, "tests/deep/a.yml", USES_SHARED)
    monkeypatch.chdir(project)  # the conftest.yml above the cwd is not read

    (case,) = load_test_cases(["tests"])
    # the file's own `vip` wins over the conftest's; `calm` is the project's
    assert case.fixtures == (("vip", False), ("route_session_to_calm", True))
    (step,) = case.steps
    assert isinstance(step, UserStep) and step.metadata == {"device": "phone"}
    judge = case.definitions.judge
    assert judge is not None and judge.llm == {"model": "near"}
    assert judge.source.path.endswith("deep/conftest.yml")


def test_a_file_outside_the_cwd_sees_the_conftest_files_up_to_the_named_folder(
    tmp_path: Path,
) -> None:
    write(tmp_path, "conftest.yml", "fixtures: [{calm: [{route_session_to_calm: true}]}]")
    write(tmp_path, "sub/conftest.yml", "metadata: [{phone: {device: phone}}]")
    write(tmp_path, "sub/a.yml", USES_SHARED)
    (case,) = load_test_cases([str(tmp_path)])
    assert case.fixtures[-1] == ("route_session_to_calm", True)
    # From sub/, the conftest.yml above is out of reach: the fixture is missing (a warning).
    warnings: list[Problem] = []
    (case,) = load_test_cases([str(tmp_path / "sub")], warnings=warnings)
    assert ("route_session_to_calm", True) not in case.fixtures
    assert [w.message for w in warnings] == [
        "no fixture named 'calm': the test case runs without it"
    ]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("stub_custom_actions: {}", 1, "unknown key 'stub_custom_actions' in a conftest.yml"),
        ("fixtures:\n  - 1bad: [{vip: true}]", 2, "invalid fixtures name '1bad'"),
        ("llm_judge:\n  llm: {model: x}\n  model: y", 3, "unknown key 'model' in `llm_judge`"),
    ],
)
def test_a_broken_conftest_is_reported_with_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    write(tmp_path, "conftest.yml", text + "\n")
    write(tmp_path, "a.yml", "test_cases: [{test_case: t, steps: [{user: hi}]}]")
    with pytest.raises(ProjectError) as caught:
        load_test_cases([str(tmp_path)])
    assert f"{tmp_path / 'conftest.yml'}:{line}: error: {message}" in str(caught.value)
