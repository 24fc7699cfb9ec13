"""The turn loop, driven by small in-test parsers and policies."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tandem.actions.base import Action, ActionContext, ActionRejected
from tandem.actions.registry import ActionRegistry
from tandem.conversation import events as ev
from tandem.conversation.slots import Slot
from tandem.conversation.tracker import Tracker
from tandem.policies.base import Policy, Prediction
from tandem.project.domain import Domain, Form, IntentConfig, SessionConfig
from tandem.runtime.assistant import Assistant, TurnNotes
from tandem.runtime.message import UserMessage
from tandem.runtime.processor import MessageProcessor

RESPONSES = {
    "utter_greet": ({"text": "Hello!"},),
    "utter_again": ({"text": "Again"},),
}


def make_domain(**changes) -> Domain:
    parts = {
        "intents": {"greet": IntentConfig(), "restart": IntentConfig()},
        "slots": {"city": Slot("city", "text")},
        "responses": RESPONSES,
        "actions": ("action_custom",),
        # in the action index but not a custom action: the tests register an implementation
        "forms": {"local_action": Form()},
    }
    return Domain(**{**parts, **changes})


async def parse_intent(message: UserMessage, tracker: Tracker) -> dict:
    return {
        "intent": {"name": message.text.strip("/"), "confidence": 1.0},
        "entities": [],
        "text": message.text,
    }


class ScriptedPolicy(Policy):
    """Predicts actions from a function of the tracker (action_listen when it returns None)."""

    name = "ScriptedPolicy"

    def __init__(self, choose: Callable[[Tracker], str | None], priority: int = 1) -> None:
        super().__init__(priority)
        self.choose = choose

    def predict(self, tracker: Tracker, domain: Domain) -> Prediction:
        action = self.choose(tracker) or "action_listen"
        return Prediction.for_action(domain, action, self.name, self.priority)


def greet_once(tracker: Tracker) -> str | None:
    return "utter_greet" if tracker.latest_action_name == "action_listen" else None


def make_processor(
    policy: Policy, domain: Domain | None = None, **assistant_args
) -> MessageProcessor:
    domain = domain or make_domain()
    assistant = Assistant(
        domain=domain,
        parse=parse_intent,
        actions=ActionRegistry(domain),
        policies=[policy],
        model_id="m1",
        assistant_id="bot",
        **assistant_args,
    )
    return MessageProcessor(assistant)


def shape(tracker: Tracker) -> list[tuple]:
    result = []
    for event in tracker.events:
        if isinstance(event, ev.ActionExecuted):
            result.append(("action", event.name, event.policy))
        elif isinstance(event, ev.UserUttered):
            result.append(("user", event.text))
        elif isinstance(event, ev.BotUttered):
            result.append(("bot", event.text))
        else:
            result.append((event.type_name,))
    return result


async def test_first_message_starts_a_session_and_runs_until_listen() -> None:
    processor = make_processor(ScriptedPolicy(greet_once))
    result = await processor.handle_message(
        UserMessage("/greet", sender_id="alice", input_channel="rest")
    )
    assert shape(result.tracker) == [
        ("action", "action_session_start", None),
        ("session_started",),
        ("action", "action_listen", None),
        ("user", "/greet"),
        ("user_featurization",),
        ("action", "utter_greet", "ScriptedPolicy"),
        ("bot", "Hello!"),
        ("action", "action_listen", "ScriptedPolicy"),
    ]
    assert [m.text for m in result.messages] == ["Hello!"]
    assert all(
        e.metadata.get("model_id") == "m1" and e.metadata.get("assistant_id") == "bot"
        for e in result.tracker.events
    )
    stored = await processor.tracker_store.retrieve("alice")
    assert stored is not None and shape(stored) == shape(result.tracker)


async def test_second_message_continues_the_session() -> None:
    processor = make_processor(ScriptedPolicy(greet_once))
    await processor.handle_message(UserMessage("/greet", sender_id="a"))
    result = await processor.handle_message(UserMessage("/greet", sender_id="a"))
    kinds = shape(result.tracker)
    assert kinds.count(("session_started",)) == 1 and kinds.count(("bot", "Hello!")) == 2


async def test_metadata_of_the_first_message_is_kept_in_a_slot() -> None:
    domain = make_domain(
        slots={"session_started_metadata": Slot("session_started_metadata", "any")}
    )
    processor = make_processor(ScriptedPolicy(greet_once), domain)
    result = await processor.handle_message(UserMessage("/greet", metadata={"device": "phone"}))
    first = result.tracker.events[0]
    assert isinstance(first, ev.SlotSet) and first.value == {"device": "phone"}


async def test_expired_session_starts_a_new_one_carrying_slots_over() -> None:
    domain = make_domain(session_config=SessionConfig(session_expiration_time=1))
    processor = make_processor(ScriptedPolicy(greet_once), domain)
    old = time.time() - 3600
    tracker = Tracker(
        "x",
        domain.slots,
        [
            ev.ActionExecuted(name="action_session_start", timestamp=old),
            ev.SessionStarted(timestamp=old),
            ev.ActionExecuted(name="action_listen", timestamp=old),
            ev.UserUttered.create("hi", {"name": "greet"}, timestamp=old),
            ev.SlotSet(name="city", value="Rome", timestamp=old),
        ],
    )
    await processor.tracker_store.append_events("x", tracker.events)
    result = await processor.handle_message(UserMessage("/greet", sender_id="x"))
    assert shape(result.tracker).count(("session_started",)) == 2
    assert result.tracker.get_slot("city") == "Rome"
    stored = await processor.tracker_store.retrieve("x")
    assert (
        stored is not None and shape(stored).count(("session_started",)) == 1
    )  # the latest session


async def test_circuit_breaker_stops_after_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_NUMBER_OF_PREDICTIONS", "4")
    processor = make_processor(ScriptedPolicy(lambda tracker: "utter_again"))
    result = await processor.handle_message(UserMessage("/greet"))
    assert [m.text for m in result.messages] == ["Again"] * 4
    assert result.tracker.latest_action_name == "utter_again"  # no action_listen was added


class Rejecting(Action):
    name = "local_action"

    async def run(self, tracker: Tracker, context: ActionContext) -> list[ev.Event]:
        raise ActionRejected("not now")


async def test_a_rejected_action_is_not_predicted_again_in_the_turn() -> None:
    def choose(tracker: Tracker) -> str | None:
        return "local_action" if tracker.latest_action_name == "action_listen" else None

    # a second policy offers utter_greet with lower confidence: it wins once action_custom is zeroed
    class Second(Policy):
        name = "Second"

        def predict(self, tracker: Tracker, domain: Domain) -> Prediction:
            if tracker.latest_action_name != "action_listen":
                return Prediction.abstain(domain, self.name, 1)
            return Prediction.for_action(domain, "utter_greet", self.name, 1, confidence=0.5)

    processor = make_processor(ScriptedPolicy(choose))
    processor.assistant.policies = [ScriptedPolicy(choose), Second()]
    processor.assistant.actions.register("local_action", lambda name: Rejecting())
    result = await processor.handle_message(UserMessage("/greet"))
    kinds = shape(result.tracker)
    assert ("action_execution_rejected",) in kinds
    assert ("action", "local_action", "ScriptedPolicy") not in kinds
    assert ("bot", "Hello!") in kinds


async def test_a_failing_action_is_logged_without_its_events() -> None:
    # action_custom is declared as a custom action but no action server is configured
    def choose(tracker: Tracker) -> str | None:
        return "action_custom" if tracker.latest_action_name == "action_listen" else None

    processor = make_processor(ScriptedPolicy(choose))
    result = await processor.handle_message(UserMessage("/greet"))
    failed = [
        e
        for e in result.tracker.events
        if isinstance(e, ev.ActionExecuted) and e.name == "action_custom"
    ]
    assert len(failed) == 1 and failed[0].metadata["execution_success"] is False
    assert "no action endpoint" in failed[0].metadata["execution_error_message"]
    assert result.tracker.latest_action_name == "action_listen"


async def test_followup_actions_run_before_any_prediction() -> None:
    class Followup(Action):
        name = "local_action"

        async def run(self, tracker: Tracker, context: ActionContext) -> list[ev.Event]:
            return [ev.FollowupAction(name="utter_again")]

    def choose(tracker: Tracker) -> str | None:
        return "local_action" if tracker.latest_action_name == "action_listen" else None

    processor = make_processor(ScriptedPolicy(choose))
    processor.assistant.actions.register("local_action", lambda name: Followup())
    result = await processor.handle_message(UserMessage("/greet"))
    assert ("action", "utter_again", "followup_action") in shape(result.tracker)


async def test_paused_conversations_only_react_to_restart() -> None:
    processor = make_processor(ScriptedPolicy(greet_once))
    await processor.handle_message(UserMessage("/greet", sender_id="p"))
    tracker = await processor.tracker_store.retrieve("p")
    await processor.tracker_store.append_events("p", [ev.ConversationPaused()])
    result = await processor.handle_message(UserMessage("/greet", sender_id="p"))
    assert result.messages == [] and tracker is not None
    result = await processor.handle_message(UserMessage("/restart", sender_id="p"))
    assert result.messages  # the policy answered the restart


async def test_turn_stages_run_after_the_user_event_and_before_policies() -> None:
    seen: list[str] = []

    class Stage:
        async def run(self, tracker: Tracker, notes: TurnNotes) -> list[ev.Event]:
            seen.append(type(tracker.events[-1]).__name__)
            return [ev.SlotSet(name="city", value="Oslo")]

    processor = make_processor(ScriptedPolicy(greet_once), turn_stages=[Stage()])
    result = await processor.handle_message(UserMessage("/greet"))
    assert seen == ["UserUttered"] and result.tracker.get_slot("city") == "Oslo"


async def test_concurrent_messages_of_one_conversation_do_not_interleave() -> None:
    import asyncio

    processor = make_processor(ScriptedPolicy(greet_once))
    await asyncio.gather(
        *(processor.handle_message(UserMessage("/greet", sender_id="c")) for _ in range(5))
    )
    tracker = await processor.tracker_store.retrieve("c")
    assert tracker is not None
    kinds = [k[0] for k in shape(tracker) if k[0] in ("user", "bot")]
    assert kinds == ["user", "bot"] * 5
