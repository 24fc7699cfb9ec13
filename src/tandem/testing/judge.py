"""The LLM judge of the generative-response assertions.

The judge asks an LLM for a score between 0 and 1 with a reason, as a JSON object: how
relevant a bot message is to the user's message, or how well it is grounded in a source
text. An answer that is not such an object, or a failed LLM call, is a ``JudgeError``: the
assertion then fails with that message, because an unscored answer proves nothing either
way and must not pass.

Which LLM judges comes from the ``llm_judge`` block of a conftest.yml, resolved like any
component's ``llm:`` block (model groups of the endpoints file included) over the default
judge model. The client records and replays through the cassette the environment names
(``TANDEM_LLM_CASSETTE``), like every LLM call of tandem.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

import jinja2

from tandem.llm.client import LLMClient
from tandem.llm.config import LLMConfig, resolve_llm_config
from tandem.llm.errors import LLMError
from tandem.project.errors import Problem, raise_errors
from tandem.testing.definitions import JudgeSettings

if TYPE_CHECKING:
    from tandem.project.endpoints import Endpoints
    from tandem.testing.cases import TestCase

DEFAULT_JUDGE_MODEL = "gpt-4.1-mini-2025-04-14"
JUDGE_DEFAULTS: Mapping[str, Any] = {"provider": "openai", "model": DEFAULT_JUDGE_MODEL}
_EXCERPT = 200  # characters of an unreadable answer quoted in the error
_JINJA = jinja2.Environment(autoescape=False, keep_trailing_newline=True)


def _template(name: str) -> jinja2.Template:
    text = (resources.files("tandem.testing") / "prompts" / name).read_text(encoding="utf-8")
    return _JINJA.from_string(text)


_RELEVANCE = _template("judge_relevance.jinja2")
_GROUNDEDNESS = _template("judge_groundedness.jinja2")


class JudgeError(Exception):
    """The judge gave no usable score (LLM failure or an unreadable answer)."""


@dataclass(frozen=True, slots=True)
class Score:
    value: float  # 0..1
    reason: str


def parse_score(text: str | None) -> Score:
    """The score in the judge's answer: a JSON object with ``score`` (0..1) and ``reason``.

    Text around the object (a code fence, a preamble) is tolerated: models add it despite
    the prompt, and the object alone is unambiguous.
    """
    if not text or not text.strip():
        raise JudgeError("the judge gave an empty answer")
    data = _json_object(text)
    value = data.get("score")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise JudgeError(
            f"the judge's answer is not a JSON score: {text[:_EXCERPT]!r} "
            '(expected {"score": <0..1>, "reason": "..."})'
        )
    if not (0 <= value <= 1) or math.isnan(value):
        raise JudgeError(f"the judge's score {value} is not between 0 and 1")
    return Score(float(value), str(data.get("reason") or "").strip())


def _json_object(text: str) -> dict[str, Any]:
    """The outermost ``{...}`` of ``text`` as a dict; empty if there is none."""
    start, end = text.find("{"), text.rfind("}")
    try:
        data = json.loads(text[start : end + 1]) if 0 <= start < end else None
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class Judge:
    """Scores bot messages with one LLM."""

    def __init__(self, client: LLMClient) -> None:
        self.client = client

    async def relevance(self, question: str, answer: str) -> Score:
        return await self._score(_RELEVANCE.render(question=question, answer=answer))

    async def groundedness(self, ground_truth: str, answer: str) -> Score:
        return await self._score(_GROUNDEDNESS.render(ground_truth=ground_truth, answer=answer))

    async def _score(self, prompt: str) -> Score:
        try:
            completion = await self.client.complete(prompt)
        except LLMError as error:
            raise JudgeError(f"the judge's LLM call failed: {error}") from None
        return parse_score(completion.text)

    async def aclose(self) -> None:
        await self.client.aclose()


def judge_config(settings: JudgeSettings, endpoints: Endpoints | None) -> LLMConfig:
    """The judge's LLM: the block's settings over the default judge model."""
    return resolve_llm_config(settings.llm, endpoints, JUDGE_DEFAULTS)


class Judges:
    """The judges of one run: one per ``llm_judge`` block the test cases use."""

    def __init__(self, judges: Mapping[JudgeSettings, Judge]) -> None:
        self._judges = dict(judges)

    @classmethod
    def for_cases(cls, cases: Sequence[TestCase], endpoints: Endpoints | None) -> Judges:
        """Resolve every judge before anything runs, so a broken ``llm_judge`` block is
        reported with file:line instead of failing each judged assertion."""
        problems: list[Problem] = []
        judges: dict[JudgeSettings, Judge] = {}
        for settings in dict.fromkeys(c.definitions.judge for c in cases if c.definitions.judge):
            try:
                judges[settings] = Judge(LLMClient(judge_config(settings, endpoints)))
            except ValueError as error:  # the LLM settings, or the cassette's (environment)
                problems.append(Problem(settings.source, f"`llm_judge`: {error}"))
        raise_errors(problems)
        return cls(judges)

    def for_case(self, case: TestCase) -> Judge | None:
        settings = case.definitions.judge
        return None if settings is None else self._judges.get(settings)

    async def aclose(self) -> None:
        for judge in self._judges.values():
            await judge.aclose()
