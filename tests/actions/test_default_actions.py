"""Default actions return exactly the reference's events."""

from __future__ import annotations

import pytest
from actions_testkit import (
    action,
    context_for,
    domain_of,
    run_and_apply,
    started,
    tracker_of,
    user,
    wire,
)

from tandem.actions.defaults import default_action, default_action_names
from tandem.conversation import events as ev
from tandem.names import DEFAULT_ACTIONS

DOMAIN = domain_of(
    """
    intents: [greet, inform, affirm]
    slots:
      city: {type: text, mappings: []}
      language: {type: text, mappings: []}
      verified: {type: bool, shared_for_coexistence: true, mappings: []}
      route_session_to_calm: {type: bool, mappings: [{type: from_llm}]}
    forms:
      city_form: {required_slots: [city]}
    responses:
      utter_restart: [{text: Restarted!}]
      utter_default: [{text: "Sorry, I did not get that."}]
      utter_back: [{text: Going back.}]
      utter_ask_rephrase: [{text: Can you rephrase?}]
    """
)
BARE = domain_of("intents: [greet]")


def run(name: str):
    found = default_action(name)
    assert found is not None, name
    return found


def names_in(tracker) -> list[str]:
    """The applied history as short labels, to compare whole conversations."""
    labels = []
    for event in tracker.applied_events():
        if isinstance(event, ev.UserUttered):
            labels.append(f"user:{event.text}")
        elif isinstance(event, ev.ActionExecuted):
            labels.append(f"action:{event.name}")
        elif isinstance(event, ev.BotUttered):
            labels.append(f"bot:{event.text}")
    return labels


def test_every_default_except_the_snippet_marker_and_stage_owned_ones_is_built_in():
    owned_elsewhere = {"...", "action_extract_slots"}
    calm = {
        name
        for name in DEFAULT_ACTIONS
        if DEFAULT_ACTIONS.index(name) > DEFAULT_ACTIONS.index("action_reset_routing")
    }
    expected = set(DEFAULT_ACTIONS) - owned_elsewhere - calm
    assert default_action_names() == expected
    assert default_action("utter_greet") is None


@pytest.mark.parametrize("name", ["action_listen", "action_unlikely_intent"])
async def test_actions_without_events(name):
    assert await run(name).run(started(DOMAIN, user("hi")), context_for(DOMAIN)) == []


async def test_restart_utters_then_restarts_and_queues_a_session_start():
    tracker = started(DOMAIN, user("hi"), ev.SlotSet(name="city", value="Rome"))
    events = await run_and_apply(run("action_restart"), tracker, context_for(DOMAIN))
    assert [type(e) for e in events] == [ev.BotUttered, ev.Restarted]
    assert events[0].text == "Restarted!" and events[0].utter_action == "utter_restart"
    assert tracker.get_slot("city") is None
    assert tracker.followup_action == "action_session_start"
    assert tracker.applied_events() == []


async def test_restart_without_utter_restart_only_restarts():
    events = await run("action_restart").run(started(BARE, user("hi")), context_for(BARE))
    assert wire(events) == [{"event": "restart"}]


async def test_session_start_carries_over_slots_and_ends_listening():
    metadata = {"language": "de", "channel": "web"}
    tracker = started(
        DOMAIN,
        user("hi"),
        ev.SlotSet(name="city", value="Rome", metadata={"source": "x"}),
        ev.SlotSet(name="session_started_metadata", value=metadata),
    )
    events = await run_and_apply(run("action_session_start"), tracker, context_for(DOMAIN))
    assert wire(events) == [
        {"event": "session_started"},
        {"event": "slot", "name": "city", "value": "Rome", "metadata": {"source": "x"}},
        {"event": "slot", "name": "session_started_metadata", "value": metadata},
        {"event": "slot", "name": "language", "value": "de"},
        {
            "event": "action",
            "name": "action_listen",
            "policy": None,
            "confidence": None,
            "action_text": None,
            "hide_rule_turn": False,
            "metadata": {},
        },
    ]
    assert tracker.get_slot("city") == "Rome"
    assert tracker.get_slot("language") == "de"
    assert tracker.latest_action_name == "action_listen"


async def test_session_start_without_carry_over_resets_slots():
    domain = domain_of(
        """
        slots:
          city: {type: text, mappings: []}
        session_config:
          carry_over_slots_to_new_session: false
        """
    )
    tracker = started(domain, user("hi"), ev.SlotSet(name="city", value="Rome"))
    events = await run_and_apply(run("action_session_start"), tracker, context_for(domain))
    assert [e.as_dict()["event"] for e in events] == ["session_started", "action"]
    assert tracker.get_slot("city") is None


async def test_session_start_on_a_new_conversation_carries_nothing():
    events = await run("action_session_start").run(tracker_of(DOMAIN), context_for(DOMAIN))
    assert [e.as_dict()["event"] for e in events] == ["session_started", "action"]


async def test_default_fallback_utters_and_rewinds_the_message():
    tracker = started(
        DOMAIN,
        user("hi", "greet"),
        action("utter_greet"),
        action("action_listen"),
        user("blorp", "nlu_fallback"),
    )
    events = await run_and_apply(run("action_default_fallback"), tracker, context_for(DOMAIN))
    assert [type(e) for e in events] == [ev.BotUttered, ev.UserUtteranceReverted]
    assert events[0].text == "Sorry, I did not get that."
    assert "user:blorp" not in names_in(tracker)
    assert names_in(tracker)[-2:] == ["user:hi", "action:utter_greet"]


async def test_deactivate_loop():
    tracker = started(
        DOMAIN,
        user("book"),
        action("city_form"),
        ev.ActiveLoop(name="city_form"),
        ev.SlotSet(name="requested_slot", value="city"),
    )
    events = await run_and_apply(run("action_deactivate_loop"), tracker, context_for(DOMAIN))
    assert wire(events) == [
        {"event": "active_loop", "name": None},
        {"event": "slot", "name": "requested_slot", "value": None},
    ]
    assert tracker.active_loop is None


async def test_back_undoes_the_back_message_and_the_turn_before():
    tracker = started(
        DOMAIN,
        user("hi", "greet"),
        action("utter_greet"),
        action("action_listen"),
        user("in Rome"),
        action("utter_ok"),
        action("action_listen"),
        user("/back", "back"),
    )
    events = await run_and_apply(run("action_back"), tracker, context_for(DOMAIN))
    assert [type(e) for e in events] == [
        ev.BotUttered,
        ev.UserUtteranceReverted,
        ev.UserUtteranceReverted,
    ]
    assert names_in(tracker) == [
        "action:action_listen",
        "user:hi",
        "action:utter_greet",
    ]


async def test_reset_routing_ends_the_routing_session_but_keeps_shared_slots():
    tracker = started(
        DOMAIN,
        user("hi"),
        ev.SlotSet(name="route_session_to_calm", value=False),
        ev.SlotSet(name="city", value="Rome"),
        ev.SlotSet(name="verified", value=True),
    )
    events = await run_and_apply(run("action_reset_routing"), tracker, context_for(DOMAIN))
    assert wire(events) == [
        {"event": "routing_session_ended"},
        {"event": "slot", "name": "route_session_to_calm", "value": None},
    ]
    assert tracker.get_slot("verified") is True
    assert tracker.get_slot("city") is None
    assert tracker.get_slot("route_session_to_calm") is None


async def test_send_text_sends_the_message_from_the_latest_message_metadata():
    message = ev.UserUttered.create("x", {"name": "inform"}, metadata={"message": {"text": "Hey"}})
    events = await run("action_send_text").run(started(DOMAIN, message), context_for(DOMAIN))
    assert [(e.text, e.metadata) for e in events] == [("Hey", {})]
    assert await run("action_send_text").run(started(DOMAIN, user("x")), context_for(DOMAIN)) == []


@pytest.mark.parametrize(
    ("parse", "intent"),
    [
        ({"intent": {"name": "greet", "confidence": 0.5}}, "greet"),
        (
            {
                "intent": {"name": "nlu_fallback", "confidence": 0.3},
                "intent_ranking": [
                    {"name": "nlu_fallback", "confidence": 0.3},
                    {"name": "inform", "confidence": 0.2},
                ],
            },
            "inform",
        ),
    ],
)
async def test_ask_affirmation_names_the_best_real_intent(parse, intent):
    message = ev.UserUttered.create("hmm", parse_data=parse)
    events = await run("action_default_ask_affirmation").run(
        started(DOMAIN, message), context_for(DOMAIN)
    )
    assert wire(events) == [
        {
            "event": "bot",
            "text": f"Did you mean '{intent}'?",
            "data": {
                "elements": None,
                "quick_replies": None,
                "buttons": [
                    {"title": "Yes", "payload": f"/{intent}"},
                    {"title": "No", "payload": "/out_of_scope"},
                ],
                "attachment": None,
                "image": None,
                "custom": None,
            },
            "metadata": {"utter_action": "action_default_ask_affirmation"},
        }
    ]


async def test_ask_rephrase_utters_only_if_defined():
    events = await run("action_default_ask_rephrase").run(started(DOMAIN), context_for(DOMAIN))
    assert [e.text for e in events] == ["Can you rephrase?"]
    assert await run("action_default_ask_rephrase").run(started(BARE), context_for(BARE)) == []


async def test_revert_fallback_events_after_an_affirmation_keeps_only_the_affirmed_message():
    tracker = started(
        DOMAIN,
        user("hi", "greet"),
        action("utter_greet"),
        action("action_listen"),
        user("blorp", "nlu_fallback"),
        action("action_default_ask_affirmation"),
        action("action_listen"),
        user("/inform", "inform", confidence=0.8),
    )
    events = await run_and_apply(run("action_revert_fallback_events"), tracker, context_for(DOMAIN))
    assert [e.as_dict()["event"] for e in events] == ["rewind", "rewind", "action", "user"]
    assert events[-1].intent == {"name": "inform", "confidence": 1.0}
    assert names_in(tracker) == [
        "action:action_listen",
        "user:hi",
        "action:utter_greet",
        "action:action_listen",
        "user:/inform",
    ]


async def test_revert_fallback_events_after_a_rephrase_removes_the_whole_exchange():
    tracker = started(
        DOMAIN,
        user("blorp", "nlu_fallback"),
        action("action_default_ask_affirmation"),
        action("action_listen"),
        user("/out_of_scope", "out_of_scope"),
        action("action_default_ask_rephrase"),
        action("action_listen"),
        user("I live in Rome", "inform", confidence=0.7),
    )
    events = await run_and_apply(run("action_revert_fallback_events"), tracker, context_for(DOMAIN))
    assert [e.as_dict()["event"] for e in events] == ["rewind"] * 3 + ["action", "user"]
    assert events[-1].intent["confidence"] == 0.7  # a rephrase is taken as it was understood
    assert names_in(tracker) == [
        "action:action_listen",
        "user:I live in Rome",
    ]


async def test_revert_fallback_events_without_a_fallback_exchange_does_nothing():
    tracker = started(DOMAIN, user("hi", "greet"))
    assert await run("action_revert_fallback_events").run(tracker, context_for(DOMAIN)) == []
