"""Responses: which variation is chosen and how it is filled in."""

from __future__ import annotations

import json
import logging
import random
from collections import Counter

import pytest
from actions_testkit import context_for, domain_of, tracker_of

from tandem.actions.responses import ResponseAction, ResponseGenerator, bot_event, stack_context
from tandem.conversation import events as ev

DOMAIN = domain_of(
    """
    slots:
      name: {type: text, mappings: []}
      logged_in: {type: bool, mappings: []}
      tier: {type: categorical, values: [gold, silver], mappings: []}
      amount: {type: float, mappings: []}
    responses:
      utter_greet:
        - text: Hello {name}!
      utter_status:
        - text: generic
        - text: welcome back
          condition: [{type: slot, name: logged_in, value: true}]
        - text: gold member
          condition:
            - {type: slot, name: tier, value: GOLD}
            - {type: slot, name: logged_in, value: true}
      utter_channel:
        - text: generic
        - text: on slack
          channel: slack
        - text: logged in on slack
          channel: slack
          condition: [{type: slot, name: logged_in, value: true}]
      utter_only_conditional:
        - text: only when logged in
          condition: [{type: slot, name: logged_in, value: true}]
      utter_many:
        - text: one
        - text: two
        - text: three
      utter_braces:
        - text: 'literal {{braces}} and {name}'
      utter_unknown_placeholder:
        - text: 'Hi {nobody}, I am {name}'
      utter_buttons:
        - text: Where to?
          buttons:
            - title: Go to {name}
              payload: '/inform{{"city": "{name}"}}'
          custom:
            nested: [{deep: "{name}"}, 3]
          image: "https://img/{name}.png"
          elements: [{title: "{name}"}]
      utter_jinja:
        - text: "{{ name|upper }} pays {{ amount }} in {{ context.flow_id }} at {{context.collect}}"
          metadata: {template: jinja}
      utter_predicate:
        - text: default
        - text: big spender
          condition: "slots.amount > 100"
      utter_with_id:
        - text: hi
          id: greeting-1
          button_type: vertical
    """
)


def generate(response: str, *events: ev.Event, channel_=None, seed_: int = 0, **kwargs):
    generator = ResponseGenerator(DOMAIN, rng=random.Random(seed_))
    return generator.generate(response, tracker_of(DOMAIN, *events), channel_, **kwargs)


def slot(name: str, value) -> ev.SlotSet:
    return ev.SlotSet(name=name, value=value)


def test_slot_placeholders_are_filled_and_unset_slots_render_as_none():
    assert generate("utter_greet", slot("name", "Ann"))["text"] == "Hello Ann!"
    assert generate("utter_greet")["text"] == "Hello None!"


def test_double_braces_are_literal_braces():
    message = generate("utter_braces", slot("name", "Ann"))
    assert message["text"] == "literal {braces} and Ann"


def test_unknown_placeholder_leaves_the_text_unchanged_and_logs(caplog):
    with caplog.at_level(logging.ERROR):
        message = generate("utter_unknown_placeholder", slot("name", "Ann"))
    assert message["text"] == "Hi {nobody}, I am {name}"
    assert "nobody" in caplog.text


def test_kwargs_override_slots_and_fill_extra_placeholders():
    assert generate("utter_greet", slot("name", "Ann"), name="Bob")["text"] == "Hello Bob!"
    # Template values may use any name, including the generator's own parameter names.
    generator = ResponseGenerator(DOMAIN)
    tracker = tracker_of(DOMAIN)
    assert (
        generator.generate("utter_greet", tracker, None, name="Cy", tracker=1, channel=2)["text"]
        == "Hello Cy!"
    )
    assert generate("utter_unknown_placeholder", nobody="you", name="Tandem")["text"] == (
        "Hi you, I am Tandem"
    )


def test_templating_reaches_buttons_custom_and_image_but_not_elements():
    message = generate("utter_buttons", slot("name", "Rome"))
    assert message["buttons"] == [{"title": "Go to Rome", "payload": '/inform{"city": "Rome"}'}]
    assert message["custom"] == {"nested": [{"deep": "Rome"}, 3]}
    assert message["image"] == "https://img/Rome.png"
    assert message["elements"] == [{"title": "{name}"}]
    # The domain's own response is not modified by filling it in.
    assert DOMAIN.responses["utter_buttons"][0]["buttons"][0]["title"] == "Go to {name}"


def test_conditional_variations_win_over_default_ones():
    assert generate("utter_status")["text"] == "generic"
    texts = {
        generate("utter_status", slot("logged_in", True), seed_=seed)["text"] for seed in range(20)
    }
    assert texts == {"welcome back"}  # tier unset: the gold variation does not apply


def test_all_constraints_must_hold_and_strings_compare_case_insensitively():
    texts = {
        generate("utter_status", slot("logged_in", True), slot("tier", "gold"), seed_=s)["text"]
        for s in range(30)
    }
    # Both conditional variations apply; the default one is never used.
    assert texts == {"welcome back", "gold member"}


def test_channel_preference_order():
    assert generate("utter_channel")["text"] == "generic"
    assert generate("utter_channel", channel_="rest")["text"] == "generic"
    assert generate("utter_channel", channel_="slack")["text"] == "on slack"
    logged_in = slot("logged_in", True)
    assert generate("utter_channel", logged_in, channel_="slack")["text"] == "logged in on slack"
    assert generate("utter_channel", logged_in, channel_="rest")["text"] == "generic"


def test_nothing_qualifies_gives_none_without_the_internal_error_response():
    assert generate("utter_only_conditional") is None
    assert generate("utter_does_not_exist") is None


def test_nothing_qualifies_falls_back_to_the_internal_error_response():
    domain = domain_of(
        """
        slots:
          logged_in: {type: bool, mappings: []}
        responses:
          utter_only_conditional:
            - text: only when logged in
              condition: [{type: slot, name: logged_in, value: true}]
          utter_internal_error_rasa:
            - text: Sorry, I am having trouble with that.
        """
    )
    message = ResponseGenerator(domain).generate("utter_only_conditional", tracker_of(domain))
    assert message == {"text": "Sorry, I am having trouble with that."}


def test_random_choice_is_uniform_and_reproducible_with_a_seeded_random():
    generator = ResponseGenerator(DOMAIN, rng=random.Random(42))
    tracker = tracker_of(DOMAIN)
    counts = Counter(generator.generate("utter_many", tracker)["text"] for _ in range(3000))
    assert set(counts) == {"one", "two", "three"}
    assert all(900 < count < 1100 for count in counts.values())
    first = [generate("utter_many", seed_=7)["text"] for _ in range(5)]
    assert first == [generate("utter_many", seed_=7)["text"] for _ in range(5)]


def test_jinja_variations_see_slots_kwargs_and_the_stack_context():
    stack = [
        {
            "frame_id": "A",
            "flow_id": "transfer",
            "step_id": "ask",
            "frame_type": "regular",
            "type": "flow",
        },
        {
            "frame_id": "B",
            "flow_id": "pattern_collect_information",
            "step_id": "listen",
            "collect": "amount",
            "utter": "utter_ask_amount",
            "type": "pattern_collect_information",
        },
    ]
    patch = json.dumps([{"op": "replace", "path": "", "value": stack}])
    events = [ev.DialogueStackUpdated(update=patch), slot("name", "ann"), slot("amount", 50)]
    message = generate("utter_jinja", *events, amount=75)
    # The collect pattern frame is overlaid by the user flow frame below it.
    assert message["text"] == "ANN pays 75 in transfer at amount"
    assert message["metadata"] == {"template": "jinja"}
    assert stack_context(tracker_of(DOMAIN, *events))["type"] == "flow"
    assert stack_context(tracker_of(DOMAIN)) == {}


def test_string_predicate_conditions():
    assert generate("utter_predicate", slot("amount", 20))["text"] == "default"
    assert generate("utter_predicate", slot("amount", 500))["text"] == "big spender"


def test_message_keeps_extra_keys_but_not_selection_keys():
    assert generate("utter_with_id") == {
        "text": "hi",
        "id": "greeting-1",
        "button_type": "vertical",
    }
    message = generate("utter_channel", slot("logged_in", True), channel_="slack")
    assert "channel" not in message and "condition" not in message


def test_bot_event_splits_a_message_into_text_data_and_metadata():
    event = bot_event("utter_x", {"text": "hi", "buttons": [{"title": "a"}], "id": "v1"})
    assert event.as_dict()["text"] == "hi"
    assert event.data == {
        "elements": None,
        "quick_replies": None,
        "buttons": [{"title": "a"}],
        "attachment": None,
        "image": None,
        "custom": None,
    }
    assert event.metadata == {"id": "v1", "utter_action": "utter_x"}
    assert "utter_action" not in bot_event(None, {"text": "plain"}).metadata


async def test_response_action_utters_the_response():
    tracker = tracker_of(DOMAIN, slot("name", "Ann"))
    events = await ResponseAction("utter_greet").run(tracker, context_for(DOMAIN))
    assert len(events) == 1
    assert events[0].text == "Hello Ann!"
    assert events[0].utter_action == "utter_greet"


async def test_response_action_emits_nothing_when_no_variation_applies():
    events = await ResponseAction("utter_only_conditional").run(
        tracker_of(DOMAIN), context_for(DOMAIN)
    )
    assert events == []


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({"faq": {"response": {"utter_action": "utter_faq/ask_name"}}}, "I am Tandem."),
        ({"default": {"response": {"utter_action": "utter_faq/ask_age"}}}, "Brand new."),
        ({}, None),
    ],
)
async def test_retrieval_action_utters_what_the_response_selector_chose(selector, expected):
    domain = domain_of(
        """
        responses:
          utter_faq/ask_name: [{text: I am Tandem.}]
          utter_faq/ask_age: [{text: Brand new.}]
        """
    )
    message = ev.UserUttered.create(
        "who are you",
        {"name": "faq", "confidence": 1.0},
        parse_data={"response_selector": selector},
    )
    events = await ResponseAction("utter_faq").run(tracker_of(domain, message), context_for(domain))
    assert [e.text for e in events] == ([expected] if expected else [])
    if expected:
        assert events[0].utter_action.startswith("utter_faq/")
