"""LLM-judge assertions against a scripted OpenAI-compatible server (``llm_server``), the
judge's configuration from conftest.yml and the reading of its answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from e2e_testkit import load, make_processor, write

from tandem.project.endpoints import Endpoints, ModelGroup
from tandem.project.errors import ProjectError
from tandem.testing.judge import (
    DEFAULT_JUDGE_MODEL,
    JudgeError,
    Judges,
    Score,
    judge_config,
    parse_score,
)
from tandem.testing.runner import TestResult, run_cases

RELEVANT = """
test_cases:
  - test_case: judged
    steps:
      - user: hello there
        assertions:
          - generative_response_is_relevant: {threshold: 0.8, utter_name: utter_greet}
"""


def score(value: object, reason: str = "it answers the greeting") -> str:
    return json.dumps({"score": value, "reason": reason})


def judge_conftest(folder: Path, api_base: str) -> None:
    write(
        folder,
        "conftest.yml",
        f"""
        llm_judge:
          llm: {{provider: openai, model: judge-model, api_base: "{api_base}", api_key: sk-1}}
          embeddings: {{provider: openai, model: text-embedding-3-small}}
        """,
    )


async def run_judged(folder: Path, text: str) -> TestResult:
    cases = load(folder, text)
    judges = Judges.for_cases(cases, None)
    try:
        (result,) = await run_cases(make_processor(), cases, judges=judges)
    finally:
        await judges.aclose()
    return result


@pytest.mark.parametrize(
    ("answer", "status", "message"),
    [
        (score(0.9), "passed", None),
        (score(0.8), "passed", None),  # the threshold itself passes
        (
            score(0.5, "it talks about the weather"),
            "failed",
            "generative_response_is_relevant: 'Hello!' scored 0.5, below the threshold 0.8: "
            "it talks about the weather",
        ),
        (
            "I would say it is quite relevant.",
            "failed",
            "generative_response_is_relevant: the judge's answer is not a JSON score: "
            "'I would say it is quite relevant.'",
        ),
        (score(7), "failed", "the judge's score 7 is not between 0 and 1"),
    ],
)
async def test_relevance_is_scored_by_the_judge(
    tmp_path: Path, llm_server, answer: str, status: str, message: str | None
) -> None:
    judge_conftest(tmp_path, llm_server.api_base)
    llm_server.then_answer(answer)
    result = await run_judged(tmp_path, RELEVANT)
    assert result.status == status, result.failure
    if message is None:
        assert result.failure is None and not result.notes
    else:
        assert result.failure is not None and message in result.failure.message
        assert result.failure.source.line == 7  # the assertion
    [seen] = llm_server.requests
    assert seen.body["model"] == "judge-model"
    prompt = seen.body["messages"][0]["content"]
    assert '"""hello there"""' in prompt and '"""Hello!"""' in prompt


async def test_a_failed_llm_call_fails_the_assertion(tmp_path: Path, llm_server) -> None:
    judge_conftest(tmp_path, llm_server.api_base)
    llm_server.then(status=400, body={"error": {"message": "model not found"}})
    result = await run_judged(tmp_path, RELEVANT)
    assert result.status == "failed" and result.failure is not None
    assert "the judge's LLM call failed" in result.failure.message
    assert "model not found" in result.failure.message


async def test_without_a_judge_the_assertion_is_skipped(tmp_path: Path, llm_server) -> None:
    result = await run_judged(tmp_path, RELEVANT)
    assert result.status == "skipped"
    assert "no LLM judge is configured" in result.notes[0]
    assert llm_server.requests == []


async def test_groundedness_uses_the_ground_truth_or_the_source_response(
    tmp_path: Path, llm_server
) -> None:
    judge_conftest(tmp_path, llm_server.api_base)
    llm_server.then_answer(score(0.95))
    llm_server.then_answer(score(0.2, "it greets instead"))
    result = await run_judged(
        tmp_path,
        """
        test_cases:
          - test_case: grounded
            steps:
              - user: hello there
                assertions:
                  - generative_response_is_grounded: {threshold: 0.9, ground_truth: Hi!}
                  - generative_response_is_grounded: {threshold: 0.5, utter_source: utter_hours}
        """,
    )
    assert result.status == "failed" and result.failure is not None
    assert result.failure.source.line == 8
    assert "scored 0.2, below the threshold 0.5: it greets instead" in result.failure.message
    first, second = (seen.body["messages"][0]["content"] for seen in llm_server.requests)
    assert '"""Hi!"""' in first and '"""Hello!"""' in first
    assert '"""We open at nine."""' in second  # the domain's text of utter_hours


async def test_no_message_to_judge_fails_without_asking(tmp_path: Path, llm_server) -> None:
    judge_conftest(tmp_path, llm_server.api_base)
    result = await run_judged(
        tmp_path,
        """
        test_cases:
          - test_case: nothing
            steps:
              - user: hello there
                assertions:
                  - generative_response_is_relevant: {threshold: 0.5, utter_name: utter_done}
                  - generative_response_is_grounded: {threshold: 0.5}
        """,
    )
    assert result.failure is not None
    assert "no bot message of utter_done to judge" in result.failure.message
    assert llm_server.requests == []


def test_the_judge_is_configured_inline_by_model_group_or_by_default(tmp_path: Path) -> None:
    write(tmp_path, "conftest.yml", "llm_judge: {model_group: judges}")
    write(tmp_path, "default/conftest.yml", "llm_judge:")
    text = "test_cases: [{test_case: t, steps: [{user: hi}]}]"
    (grouped,) = load(tmp_path, text)
    (default,) = load(tmp_path / "default", text)
    group = ModelGroup("judges", ({"provider": "vllm", "model": "big", "api_base": "http://x"},))
    endpoints = Endpoints(model_groups=(group,))
    assert grouped.definitions.judge is not None and default.definitions.judge is not None
    config = judge_config(grouped.definitions.judge, endpoints)
    assert (config.provider, config.model, config.api_base) == ("vllm", "big", "http://x")
    assert judge_config(default.definitions.judge, None).model == DEFAULT_JUDGE_MODEL

    with pytest.raises(ProjectError) as caught:
        Judges.for_cases([grouped], Endpoints())
    assert f"{tmp_path / 'conftest.yml'}:1: error: `llm_judge`: model group 'judges'" in str(
        caught.value
    )


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ('{"score": 0.75, "reason": "close"}', Score(0.75, "close")),
        ('```json\n{"score": 1, "reason": "exact"}\n```', Score(1.0, "exact")),
        ('Sure! {"score": 0}', Score(0.0, "")),
    ],
)
def test_scores_are_read_from_the_json_in_the_answer(answer: str, expected: Score) -> None:
    assert parse_score(answer) == expected


@pytest.mark.parametrize(
    "answer", [None, "", "0.9", '{"score": "high"}', '{"score": true}', '{"score": -0.1}']
)
def test_answers_without_a_usable_score_are_errors(answer: str | None) -> None:
    with pytest.raises(JudgeError):
        parse_score(answer)
