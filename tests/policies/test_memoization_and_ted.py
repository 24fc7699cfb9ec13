"""MemoizationPolicy, AugmentedMemoizationPolicy and TEDPolicy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from policies_testkit import Chat, actions_of, processor, train, write_project

from tandem.conversation import events as ev
from tandem.conversation.tracker import Tracker
from tandem.nlu.storage import Store
from tandem.policies.registry import NLU_POLICIES
from tandem.policies.ted import TEDPolicy

DOMAIN = """
intents: [greet, ask_savings, affirm, deny, inform, thank]
entities: [vip]
slots:
  vip:
    type: text
    mappings: [{type: from_entity, entity: vip}]
responses:
  utter_greet: [{text: hi}]
  utter_info: [{text: savings info}]
  utter_ask_brochure: [{text: brochure?}]
  utter_sent: [{text: sent}]
  utter_declined: [{text: "ok, not sent"}]
  utter_thanks: [{text: noted}]
"""
STORIES = """
stories:
  - story: greeting
    steps: [{intent: greet}, {action: utter_greet}]
  - story: savings, yes
    steps:
      - intent: ask_savings
      - action: utter_info
      - action: utter_ask_brochure
      - intent: affirm
      - action: utter_sent
  - story: savings, no
    steps:
      - intent: ask_savings
      - action: utter_info
      - action: utter_ask_brochure
      - intent: deny
      - action: utter_declined
  - story: vip
    steps:
      - intent: inform
        entities: [{vip: "yes"}]
      - action: utter_thanks
"""


def chat_with(tmp_path: Path, policies: str, stories: str = STORIES) -> Chat:
    return Chat(processor(write_project(tmp_path, DOMAIN, stories, policies)))


async def greeted_then_asked_about_savings(chat: Chat) -> Tracker:
    """The tracker after a greeting and then an ``ask_savings`` message (not yet answered)."""
    await chat.say("/greet")
    tracker = await chat.tracker()
    tracker.update(ev.ActionExecuted(name="action_listen"))
    tracker.update(ev.UserUttered.create(None, {"name": "ask_savings", "confidence": 1.0}))
    return tracker


async def test_memoization_replays_stories_from_the_start(tmp_path: Path) -> None:
    chat = chat_with(tmp_path, "  - name: MemoizationPolicy\n    max_history: 5\n")
    events = await chat.say("/ask_savings")
    assert actions_of(events) == ["utter_info", "utter_ask_brochure", "action_listen"]
    assert {
        (e.policy, e.confidence) for e in events if isinstance(e, ev.ActionExecuted) and e.policy
    } == {("MemoizationPolicy", 1.0)}
    assert await chat.replies("/deny") == ["utter_declined"]


async def test_memoization_knows_nothing_outside_its_stories(tmp_path: Path) -> None:
    chat = chat_with(tmp_path, "  - name: MemoizationPolicy\n    max_history: 5\n")
    tracker = await greeted_then_asked_about_savings(chat)
    [memo] = chat.processor.assistant.policies
    # The greeting before makes the history unlike any story's beginning.
    assert memo.predict(tracker, chat.processor.assistant.domain).max_confidence == 0.0


async def test_situations_that_stories_continue_differently_are_forgotten(
    tmp_path: Path,
) -> None:
    # "affirm" now leads to utter_sent in one story and to utter_declined in the other.
    ambiguous = STORIES.replace("intent: deny", "intent: affirm")
    chat = chat_with(tmp_path, "  - name: MemoizationPolicy\n", ambiguous)
    assert await chat.replies("/ask_savings") == ["utter_info", "utter_ask_brochure"]
    assert await chat.replies("/affirm") == []


async def test_max_history_limits_what_memoization_compares(tmp_path: Path) -> None:
    short = chat_with(tmp_path / "short", "  - name: MemoizationPolicy\n    max_history: 1\n")
    await short.say("/greet")
    assert await short.replies("/ask_savings") == ["utter_info", "utter_ask_brochure"]
    full = chat_with(tmp_path / "full", "  - name: MemoizationPolicy\n")
    await full.say("/greet")
    assert "utter_info" not in await full.replies("/ask_savings")


async def test_augmented_memoization_forgets_slots_set_long_ago(tmp_path: Path) -> None:
    plain = chat_with(tmp_path / "plain", "  - name: MemoizationPolicy\n    max_history: 3\n")
    augmented = chat_with(
        tmp_path / "augmented", "  - name: AugmentedMemoizationPolicy\n    max_history: 3\n"
    )
    for chat in (plain, augmented):
        assert await chat.replies('/inform{"vip": "yes"}') == ["utter_thanks"]
    # The vip slot is set since, which no savings story shows at its start.
    assert "utter_info" not in await plain.replies("/ask_savings")
    assert await augmented.replies("/ask_savings") == ["utter_info", "utter_ask_brochure"]


async def test_augmented_memoization_keeps_a_slot_set_within_the_turn_it_needs(
    tmp_path: Path,
) -> None:
    """Forgetting the past only drops what came before an action: a slot set after the user
    message the story starts with (as a form's slots stay after its collapsed turns) still
    makes the state unlike the story's, so the story is not recalled."""
    chat = chat_with(tmp_path, "  - name: AugmentedMemoizationPolicy\n    max_history: 3\n")
    tracker = await greeted_then_asked_about_savings(chat)
    [memo] = chat.processor.assistant.policies
    domain = chat.processor.assistant.domain
    recalled = memo.predict(tracker, domain)
    assert (domain.action_names[recalled.action_index], recalled.max_confidence) == (
        "utter_info",
        1.0,
    )
    tracker.update(ev.SlotSet(name="vip", value="yes"))
    assert memo.predict(tracker, domain).max_confidence == 0.0


async def test_ted_generalises_to_a_story_it_has_not_seen_verbatim(tmp_path: Path) -> None:
    policies = "  - name: RulePolicy\n  - name: {}\n    max_history: 5\n"
    memo = chat_with(tmp_path / "memo", policies.format("MemoizationPolicy"))
    ted = chat_with(tmp_path / "ted", policies.format("TEDPolicy"))
    for chat in (memo, ted):
        assert await chat.replies("/greet") == ["utter_greet"]
    # No story greets before asking about savings: memoization has no answer, so the core
    # fallback runs; TED recognises the savings turn from the latest states.
    assert "action_default_fallback" in actions_of(await memo.say("/ask_savings"))
    assert await ted.replies("/ask_savings") == ["utter_info", "utter_ask_brochure"]
    assert await ted.replies("/affirm") == ["utter_sent"]


def test_ted_trains_deterministically_and_restores_exactly(tmp_path: Path) -> None:
    project = write_project(tmp_path, DOMAIN, STORIES, "  - name: TEDPolicy\n    max_history: 5\n")
    [first], [second] = train(project), train(project)
    assert isinstance(first, TEDPolicy) and isinstance(second, TEDPolicy)
    assert np.array_equal(first.weights, second.weights)
    folder = tmp_path / "ted"
    folder.mkdir()
    first.persist(Store(folder, "policy"))
    restored = TEDPolicy.load({"max_history": 5}, Store(folder, "policy"), project.domain)
    states = [frozenset({("intent", "ask_savings"), ("prev_action", "action_listen")})]
    assert np.array_equal(first.probabilities(states), restored.probabilities(states))
    assert first.labels[int(np.argmax(first.probabilities(states)))] == "utter_info"


def test_priorities_default_to_rule_4_memo_3_ted_1_and_can_be_set(tmp_path: Path) -> None:
    policies = """
      - name: RulePolicy
      - name: MemoizationPolicy
      - name: AugmentedMemoizationPolicy
      - name: TEDPolicy
      - name: TEDPolicy
        priority: 6
    """
    trained = train(write_project(tmp_path, DOMAIN, STORIES, policies))
    assert [(p.name, p.priority) for p in trained] == [
        ("RulePolicy", 4),
        ("MemoizationPolicy", 3),
        ("AugmentedMemoizationPolicy", 3),
        ("TEDPolicy", 1),
        ("TEDPolicy", 6),
    ]
    assert set(NLU_POLICIES) == {p.name for p in trained}
