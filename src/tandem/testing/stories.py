"""Test stories: the reference's ``rasa test core`` evaluation, behind ``tandem test core``.

A test story is read like a training story and turned into the same conversation the
policies were trained on (``action_listen`` before each user turn and at the end, slots
that entities fill by themselves, one conversation per way through its ``or`` steps).
It is then replayed *teacher-forced*, as the reference replays it: the tracker only ever
holds the story's own events, and before each of its actions (except a first event) the
policies predict the next action, which is compared with the story's. A wrong prediction
does not change what follows: the story's action is appended either way, so one mistake
is counted once. Actions are not run; custom actions' events are the story's
``slot_was_set``/``active_loop`` steps.

With ``e2e`` the NLU reads each user text and its intent and entities are compared with
the story's; the tracker still gets the story's intent and entities. A user step with a
text and no intent is read by the NLU in both modes (the dialogue needs an intent) and is
not scored.

The results make the reference's files: ``story_report.json`` (per label precision,
recall, F1 and support over the story labels, accuracy, macro and weighted averages and
the conversation accuracy) and the failed (or successful) stories as a story file whose
wrong steps carry ``# predicted: ...`` comments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tandem import names
from tandem.conversation.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    Event,
    SlotSet,
    UserUttered,
)
from tandem.conversation.tracker import Tracker
from tandem.model.validation import story_problems
from tandem.nlu.evaluation import NO_INTENT, averages, label_scores
from tandem.policies import ensemble
from tandem.policies.base import Prediction
from tandem.policies.training_trackers import TrainingConversation, story_conversations
from tandem.project.domain import Domain
from tandem.project.errors import Problem, Source, raise_errors
from tandem.project.training_data import Checkpoint, StoryBlock
from tandem.project.yaml_writer import FORMAT_VERSION, annotated, scalar, step_lines, user_lines
from tandem.runtime.assistant import Assistant
from tandem.runtime.message import UserMessage

# -- what a test story is -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoryCase:
    """One way through a test story: the conversation to replay."""

    block: StoryBlock
    conversation: TrainingConversation


def story_cases(stories: Sequence[StoryBlock], domain: Domain) -> list[StoryCase]:
    """The conversations of ``stories``, each story on its own.

    Every problem is reported (file:line) in one ``ProjectError``: names the model's domain
    does not declare (the policies cannot score a form they do not know), and checkpoints,
    which join stories into longer ones: a test story is one conversation as written.
    """
    problems: list[Problem] = list(story_problems(domain, stories))
    for block in stories:
        sources = block.step_sources or (block.source,) * len(block.steps)
        problems += [
            Problem(
                source,
                f"test story '{block.name}' has a checkpoint",
                "write the whole conversation in one test story",
            )
            for step, source in zip(block.steps, sources, strict=True)
            if isinstance(step, Checkpoint)
        ]
    raise_errors(problems)
    return [
        StoryCase(block, conversation)
        for block in stories
        for conversation in story_conversations([block], domain)
    ]


# -- replaying one -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One event of a replayed story and, where it is scored, the model's label for it."""

    event: Event
    source: Source
    expected: str | None = None  # the story's action, or (--e2e) its intent
    predicted: str | None = None
    # --e2e user steps: the entities the NLU found (compared with the story's).
    predicted_entities: tuple[Mapping[str, Any], ...] | None = None
    # Action steps: the policy whose prediction was scored.
    policy: str | None = None

    @property
    def entities_match(self) -> bool:
        if self.predicted_entities is None or not isinstance(self.event, UserUttered):
            return True
        return _entity_keys(self.event.entities) == _entity_keys(self.predicted_entities)

    @property
    def failed(self) -> bool:
        return self.expected != self.predicted or not self.entities_match

    def mismatch(self) -> str:
        """What the model got wrong here, in one line ("" if nothing)."""
        problems = []
        if self.expected != self.predicted:
            kind = "intent" if isinstance(self.event, UserUttered) else "action"
            problems.append(f"{kind} {self.expected} expected, {self.predicted} predicted")
        if not self.entities_match and isinstance(self.event, UserUttered):
            text = self.event.text or ""
            expected = annotated(text, self.event.entities)
            problems.append(
                f"entities '{expected}' expected, "
                f"'{annotated(text, self.predicted_entities or ())}' predicted"
            )
        return "; ".join(problems)


@dataclass(frozen=True, slots=True)
class StoryResult:
    story: StoryCase
    steps: tuple[Step, ...]

    @property
    def failed(self) -> bool:
        return any(step.failed for step in self.steps)

    @property
    def failures(self) -> list[Step]:
        return [step for step in self.steps if step.failed]


async def replay(
    assistant: Assistant, story: StoryCase, *, e2e: bool, sender_id: str
) -> StoryResult:
    """Replay ``story`` teacher-forced (see the module doc). ``sender_id`` must be unique
    per replay: the policies keep per-conversation state under it."""
    tracker = Tracker(sender_id, assistant.domain.slots)
    steps: list[Step] = []
    conversation = story.conversation
    for index, (event, origin) in enumerate(
        zip(conversation.events, conversation.origins, strict=True)
    ):
        step, applied = Step(event, origin.source), event
        if isinstance(event, UserUttered) and event.text:
            step, applied = await _user_step(assistant, tracker, event, origin.source, e2e=e2e)
        elif isinstance(event, ActionExecuted) and event.name is not None and index:
            step, applied = await _action_step(assistant, tracker, event, origin.source)
        steps.append(step)
        tracker.update(applied)
    return StoryResult(story, tuple(steps))


async def _action_step(
    assistant: Assistant, tracker: Tracker, event: ActionExecuted, source: Source
) -> tuple[Step, Event]:
    domain = assistant.domain
    name, prediction = await _predict(assistant, tracker)
    if name != event.name and _loop_may_reject(tracker, domain, name):
        # The story continues past its form (e.g. the user digressed): at runtime the form
        # would reject its run and the policies predict again; emulate that rejection.
        tracker.update(ActionExecutionRejected(name=name))
        name, prediction = await _predict(assistant, tracker)
    executed = ActionExecuted(
        name=event.name, policy=prediction.policy_name, confidence=prediction.max_confidence
    )
    if name != event.name and domain.is_retrieval_action(name):
        name = _full_retrieval_action(name, tracker)
    return Step(event, source, event.name, name, policy=prediction.policy_name), executed


async def _predict(assistant: Assistant, tracker: Tracker) -> tuple[str, Prediction]:
    prediction = await ensemble.predict(assistant.policies, tracker, assistant.domain)
    return assistant.domain.action_names[prediction.action_index], prediction


def _full_retrieval_action(name: str, tracker: Tracker) -> str:
    """``utter_faq/vpn`` for ``utter_faq`` after the story's ``faq/vpn``: the response is
    chosen by the NLU's response selector, which --e2e scores on the user step; the
    dialogue is right if it chose the retrieval action of the story's intent."""
    latest = tracker.latest_message
    full = latest.intent.get("full_retrieval_intent_name") if latest is not None else None
    if full and names.RESPONSE_PREFIX + full.split("/")[0] == name:
        return names.RESPONSE_PREFIX + full
    return name


def _loop_may_reject(tracker: Tracker, domain: Domain, predicted: str) -> bool:
    return predicted in domain.forms and tracker.active_loop_name == predicted


async def _user_step(
    assistant: Assistant, tracker: Tracker, event: UserUttered, source: Source, *, e2e: bool
) -> tuple[Step, Event]:
    gold = event.intent.get("full_retrieval_intent_name") or event.intent_name
    if gold and not e2e:
        return Step(event, source), event
    assert event.text is not None  # the caller only passes user turns with a text
    parsed = await assistant.parse(UserMessage(event.text, tracker.sender_id), tracker)
    found = list(parsed.get("entities") or [])
    if not gold:  # a text-only step: the NLU decides the intent the dialogue sees
        return Step(event, source), UserUttered.create(event.text, parsed.get("intent"), found)
    return Step(event, source, gold, _predicted_intent(gold, parsed), tuple(found)), event


def _predicted_intent(gold: str, parsed: Mapping[str, Any]) -> str:
    """The NLU's intent, as specific as the story's: ``faq/ask_name`` is told apart by the
    response selector, ``faq`` by the intent classifier."""
    intent = parsed.get("intent") or {}
    if "/" in gold and intent.get("full_retrieval_intent_name"):
        return str(intent["full_retrieval_intent_name"])
    return str(intent.get("name") or NO_INTENT)


def _entity_keys(entities: Iterable[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """What an entity is compared by: span, label and value (as text, which is what a
    story can write); roles, groups, extractors and confidences are not compared."""
    keys = [(e.get("start"), e.get("end"), e.get("entity"), str(e.get("value"))) for e in entities]
    return sorted(keys, key=repr)


# -- the report ----------------------------------------------------------------------------


def scored_labels(results: Iterable[StoryResult]) -> tuple[list[str], list[str]]:
    """(story labels, model labels) of every scored step, in story order: the rows of
    ``story_report.json`` and the axes of ``story_confusion_matrix.png``."""
    gold: list[str] = []
    predicted: list[str] = []
    for result in results:
        for step in result.steps:
            if step.expected is not None:
                gold.append(step.expected)
                predicted.append(step.predicted or NO_INTENT)
    return gold, predicted


def story_report(results: Sequence[StoryResult]) -> dict[str, Any]:
    """``story_report.json``: a row per label the stories expect (a label only ever
    predicted has no row, as in the reference's report), accuracy, macro and weighted
    averages over those rows, and the conversation accuracy; ``{}`` without stories."""
    if not results:
        return {}
    gold, predicted = scored_labels(results)
    scores = label_scores(gold, predicted, sorted(set(gold)))
    report: dict[str, Any] = dict(scores)
    report["accuracy"] = _ratio(sum(g == p for g, p in zip(gold, predicted, strict=True)), gold)
    report.update(averages(scores))
    correct = sum(not result.failed for result in results)
    report["conversation_accuracy"] = {
        "accuracy": correct / len(results),
        "correct": correct,
        "with_warnings": 0,  # warnings come from action_unlikely_intent, never predicted here
        "total": len(results),
    }
    return report


def _ratio(count: int, of: Sequence[Any]) -> float:
    return count / len(of) if of else 0.0


# -- the story files -----------------------------------------------------------------------


def stories_yaml(results: Sequence[StoryResult], if_empty: str) -> str:
    """The replayed stories as a story file; wrong steps carry what the model predicted.
    With no stories, only the comment ``if_empty``."""
    if not results:
        return f"# {if_empty}\n"
    lines = [f"version: {FORMAT_VERSION}", "stories:"]
    for result in results:
        story = result.story.block
        lines.append(f"- story: {scalar(f'{story.name} ({story.source})')}")
        lines.append("  steps:")
        for step in result.steps:
            lines += ["  " + line for line in _step_lines(step)]
    return "\n".join(lines) + "\n"


def _step_lines(step: Step) -> list[str]:
    event = step.event
    if isinstance(event, UserUttered):
        lines = user_lines(event)
        if step.failed and event.intent_name:  # the first line names the intent
            found = annotated(event.text or "", step.predicted_entities or ())
            lines[0] += f"  # predicted: {step.predicted}: {found}".replace("\n", " ")
        return lines
    if isinstance(event, ActionExecuted) and event.name == names.ACTION_LISTEN:
        # implied by the next user step, as in the stories written
        return [f"- action: {scalar(event.name)}{_comment(step)}"] if step.failed else []
    if isinstance(event, (ActionExecuted, SlotSet, ActiveLoop)):
        lines = step_lines(event)
        lines[0] += _comment(step)
        return lines
    return []


def _comment(step: Step) -> str:
    return f"  # predicted: {step.predicted}" if step.failed else ""
