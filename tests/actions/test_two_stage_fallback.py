"""The two-stage fallback loop: affirm, rephrase, give up."""

from __future__ import annotations

from actions_testkit import action, context_for, domain_of, run_and_apply, started, user

from tandem.actions.defaults import default_action
from tandem.conversation import events as ev

DOMAIN = domain_of(
    """
    intents: [greet, inform]
    responses:
      utter_default: [{text: "I give up."}]
      utter_ask_rephrase: [{text: "Please rephrase."}]
    """
)
LOOP = "action_two_stage_fallback"


def unclear(text: str) -> ev.UserUttered:
    return user(
        text,
        "nlu_fallback",
        confidence=0.3,
        intent_ranking=[
            {"name": "nlu_fallback", "confidence": 0.3},
            {"name": "greet", "confidence": 0.25},
        ],
    )


class Conversation:
    """Drives the loop the way the processor does: run, log, append, listen, next message."""

    def __init__(self, *events: ev.Event) -> None:
        self.tracker = started(DOMAIN, *events)
        self.context = context_for(DOMAIN)
        self.loop = default_action(LOOP)

    async def fallback(self) -> list[ev.Event]:
        return await run_and_apply(self.loop, self.tracker, self.context)

    def says(self, message: ev.UserUttered) -> None:
        self.tracker.update(action("action_listen"))
        self.tracker.update(message)

    def history(self) -> list[str]:
        return [
            f"user:{e.text}" if isinstance(e, ev.UserUttered) else f"action:{e.name}"
            for e in self.tracker.applied_events()
            if isinstance(e, (ev.UserUttered, ev.ActionExecuted))
        ]


def texts(events: list[ev.Event]) -> list[str | None]:
    return [e.text for e in events if isinstance(e, ev.BotUttered)]


async def test_activation_asks_for_affirmation():
    conversation = Conversation(unclear("blorp"))
    events = await conversation.fallback()
    assert events[0] == ev.ActiveLoop(name=LOOP, timestamp=events[0].timestamp)
    assert texts(events) == ["Did you mean 'greet'?"]
    assert conversation.tracker.active_loop_name == LOOP


async def test_affirmed_intent_replaces_the_unclear_message():
    conversation = Conversation(unclear("blorp"))
    await conversation.fallback()
    conversation.says(user("/greet", "greet", confidence=0.6))
    events = await conversation.fallback()
    assert [e.as_dict()["event"] for e in events] == ["active_loop", "rewind", "action", "user"]
    assert events[0].name is None
    assert events[-1].intent == {"name": "greet", "confidence": 1.0}
    assert conversation.tracker.active_loop is None
    assert conversation.history() == ["action:action_listen", "user:/greet"]
    assert conversation.tracker.latest_message.intent["confidence"] == 1.0


async def test_denied_affirmation_asks_to_rephrase_and_the_rephrase_is_kept():
    conversation = Conversation(unclear("blorp"))
    await conversation.fallback()
    conversation.says(user("/out_of_scope", "out_of_scope", confidence=1.0))
    events = await conversation.fallback()
    assert texts(events) == ["Please rephrase."]
    assert not any(isinstance(e, ev.ActiveLoop) for e in events)
    conversation.says(user("hello there", "greet", confidence=0.8))
    await conversation.fallback()
    assert conversation.tracker.active_loop is None
    assert conversation.history() == ["action:action_listen", "user:hello there"]


async def test_unclear_rephrase_asks_for_affirmation_again():
    conversation = Conversation(unclear("blorp"))
    await conversation.fallback()
    conversation.says(user("/out_of_scope", "out_of_scope"))
    await conversation.fallback()
    conversation.says(unclear("blarg"))
    events = await conversation.fallback()
    assert texts(events) == ["Did you mean 'greet'?"]
    assert conversation.tracker.active_loop_name == LOOP


async def test_two_unclear_messages_in_a_row_give_up():
    conversation = Conversation(unclear("blorp"))
    await conversation.fallback()
    conversation.says(unclear("blarg"))
    events = await conversation.fallback()
    assert [e.as_dict()["event"] for e in events] == ["active_loop", "bot", "rewind"]
    assert texts(events) == ["I give up."]
    assert conversation.tracker.active_loop is None
    history = conversation.history()
    assert "user:blorp" not in history and "user:blarg" not in history


async def test_second_denied_affirmation_gives_up():
    conversation = Conversation(unclear("blorp"))
    await conversation.fallback()
    conversation.says(user("/out_of_scope", "out_of_scope"))
    await conversation.fallback()
    conversation.says(unclear("blarg"))
    await conversation.fallback()
    conversation.says(user("/out_of_scope", "out_of_scope"))
    events = await conversation.fallback()
    assert [e.as_dict()["event"] for e in events] == ["active_loop", "bot", "rewind"]
    assert conversation.tracker.active_loop is None


async def test_messages_before_the_activation_do_not_count():
    # An earlier out_of_scope message must not make the first "No" look like a second one.
    conversation = Conversation(
        user("nonsense", "out_of_scope"),
        action("utter_out_of_scope"),
        action("action_listen"),
        unclear("blorp"),
    )
    await conversation.fallback()
    conversation.says(user("/out_of_scope", "out_of_scope"))
    events = await conversation.fallback()
    assert texts(events) == ["Please rephrase."]
    assert conversation.tracker.active_loop_name == LOOP
