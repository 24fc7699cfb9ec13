"""RulePolicy at runtime: rules, loops, built-in intents and fallbacks."""

from __future__ import annotations

from pathlib import Path

import pytest
from policies_testkit import Chat, actions_of, processor, write_project

from tandem.conversation import events as ev
from tandem.policies.rule_policy import RulePolicy
from tandem.runtime.message import UserMessage

DOMAIN = """
intents: [greet, goodbye, bot_challenge, ask_hours, book, inform, stop, affirm]
entities: [city, vip]
slots:
  vip:
    type: bool
    mappings: [{type: from_entity, entity: vip}]
  city:
    type: text
    influence_conversation: false
    mappings:
      - type: from_entity
        entity: city
        conditions: [{active_loop: booking_form, requested_slot: city}]
forms:
  booking_form: {required_slots: [city]}
responses:
  utter_welcome: [{text: welcome!}]
  utter_greet: [{text: hi again}]
  utter_iamabot: [{text: a bot}]
  utter_hours: [{text: 9 to 5}]
  utter_vip_hours: [{text: always open for you}]
  utter_ask_city: [{text: which city?}]
  utter_booked: [{text: "booked in {city}"}]
  utter_ask_continue: [{text: continue?}]
  utter_ok: [{text: ok}]
  utter_please_rephrase: [{text: pardon?}]
  utter_default: [{text: I did not get that}]
  utter_42: [{text: "42"}]
"""

RULES = """
rules:
  - rule: welcome at the start
    conversation_start: true
    steps: [{intent: greet}, {action: utter_welcome}]
  - rule: greet
    steps: [{intent: greet}, {action: utter_greet}]
  - rule: bot
    steps: [{intent: bot_challenge}, {action: utter_iamabot}]
  - rule: hours
    steps: [{intent: ask_hours}, {action: utter_hours}]
  - rule: hours for vips
    condition: [{slot_was_set: [{vip: true}]}]
    steps: [{intent: ask_hours}, {action: utter_vip_hours}]
  - rule: rephrase
    steps: [{intent: nlu_fallback}, {action: utter_please_rephrase}]
  - rule: a text, whatever its intent
    steps: [{user: "what is the meaning of life"}, {action: utter_42}]
  - rule: ok without waiting
    wait_for_user_input: false
    steps: [{intent: affirm}, {action: utter_ok}]
  - rule: start booking
    steps: [{intent: book}, {action: booking_form}, {active_loop: booking_form}]
  - rule: submit booking
    condition: [{active_loop: booking_form}]
    steps:
      - action: booking_form
      - active_loop: null
      - slot_was_set: [{requested_slot: null}]
      - action: utter_booked
  - rule: stop while booking
    condition: [{active_loop: booking_form}]
    steps: [{intent: stop}, {action: utter_ask_continue}]
"""


def rules_only(tmp_path: Path, rules: str = RULES, options: str = "") -> Chat:
    policies = "  - name: RulePolicy\n" + options
    return Chat(processor(write_project(tmp_path, DOMAIN, rules, policies)))


async def test_a_rule_answers_and_then_listens(tmp_path: Path) -> None:
    chat = rules_only(tmp_path)
    await chat.say("/bot_challenge")
    events = await chat.say("/bot_challenge")
    assert actions_of(events) == ["utter_iamabot", "action_listen"]
    assert {e.policy for e in events if isinstance(e, ev.ActionExecuted)} == {"RulePolicy"}


async def test_a_conversation_start_rule_applies_only_to_the_first_message(tmp_path: Path) -> None:
    chat = rules_only(tmp_path)
    assert await chat.replies("/greet") == ["utter_welcome"]
    assert await chat.replies("/greet") == ["utter_greet"]


async def test_the_most_specific_matching_rule_wins(tmp_path: Path) -> None:
    chat = rules_only(tmp_path)
    assert await chat.replies("/ask_hours") == ["utter_hours"]
    assert await chat.replies('/ask_hours{"vip": "true"}') == ["utter_vip_hours"]


async def test_a_rule_about_a_text_answers_that_text_only(tmp_path: Path) -> None:
    chat = rules_only(tmp_path)
    events = await chat.say("what is the meaning of life")
    assert actions_of(events) == ["utter_42", "action_listen"]
    featurization = next(e for e in events if isinstance(e, ev.UserFeaturization))
    assert featurization.use_text_for_featurization
    assert "utter_42" not in await chat.replies("what is the meaning of this")


@pytest.mark.parametrize(
    ("intent", "action"),
    [
        ("restart", "action_restart"),
        ("back", "action_back"),
        ("session_start", "action_session_start"),
    ],
)
async def test_built_in_intents_run_their_default_actions(
    tmp_path: Path, intent: str, action: str
) -> None:
    chat = rules_only(tmp_path)
    await chat.say("/greet")
    assert actions_of(await chat.say(f"/{intent}"))[0] == action


async def test_a_rule_that_does_not_wait_leaves_the_next_action_open(tmp_path: Path) -> None:
    chat = rules_only(tmp_path)
    events = await chat.say("/affirm")
    # Nothing says to listen after utter_ok, so the core fallback follows it.
    assert actions_of(events)[:2] == ["utter_ok", "action_default_fallback"]


async def test_the_loop_happy_path_beats_everything_until_the_form_is_done(
    tmp_path: Path,
) -> None:
    chat = rules_only(tmp_path)
    assert await chat.replies("/book") == ["utter_ask_city"]
    tracker = await chat.tracker()
    tracker.update(ev.UserUttered.create("Rome", {"name": "inform", "confidence": 1.0}))
    policy = chat.processor.assistant.policies[0]
    prediction = policy.predict(tracker, chat.processor.assistant.domain)
    assert prediction.is_no_user_prediction
    assert chat.processor.assistant.domain.action_names[prediction.action_index] == "booking_form"
    events = await chat.say('/inform{"city": "Rome"}')
    assert actions_of(events) == ["booking_form", "utter_booked", "action_listen"]
    assert [e.text for e in events if isinstance(e, ev.BotUttered)] == ["booked in Rome"]


async def test_an_interruption_is_answered_and_the_loop_resumes(tmp_path: Path) -> None:
    chat = rules_only(tmp_path)
    await chat.say("/book")
    events = await chat.say("/bot_challenge")
    kinds = [type(e).__name__ for e in events]
    # The form found nothing to fill and rejected; the general rule answered; instead of
    # listening the form resumes, flagged as interrupted so it asks again without validating.
    assert kinds.index("ActionExecutionRejected") < kinds.index("BotUttered")
    assert actions_of(events) == ["utter_iamabot", "booking_form", "action_listen"]
    interrupted = next(e for e in events if isinstance(e, ev.LoopInterrupted))
    assert interrupted.is_interrupted
    assert events.index(interrupted) == len(events) - 5  # right before the form's run
    assert [e.utter_action for e in events if isinstance(e, ev.BotUttered)] == [
        "utter_iamabot",
        "utter_ask_city",
    ]


async def test_a_rule_for_the_active_loop_takes_over_without_running_it(tmp_path: Path) -> None:
    chat = rules_only(tmp_path)
    await chat.say("/book")
    events = await chat.say("/stop")
    # The learnt hint keeps the form from running on "stop", so nothing is rejected, and
    # the rule mentions the loop, so it listens instead of resuming the form.
    assert not any(isinstance(e, ev.ActionExecutionRejected) for e in events)
    assert actions_of(events) == ["utter_ask_continue", "action_listen"]
    assert (await chat.tracker()).active_loop_name == "booking_form"


async def test_the_nlu_fallback_rule_asks_to_rephrase(tmp_path: Path) -> None:
    chat = rules_only(tmp_path)
    assert await chat.replies("/nlu_fallback") == ["utter_please_rephrase"]


async def test_without_a_rule_the_core_fallback_runs_at_its_threshold(tmp_path: Path) -> None:
    chat = rules_only(tmp_path)
    await chat.say("/greet")
    events = await chat.say("/goodbye")
    fallback = next(e for e in events if isinstance(e, ev.ActionExecuted))
    assert (fallback.name, fallback.confidence) == ("action_default_fallback", 0.3)
    assert actions_of(events) == ["action_default_fallback", "action_listen"]
    tracker = await chat.tracker()
    assert tracker.latest_message is not None and tracker.latest_message.intent_name == "greet"


async def test_the_core_fallback_action_and_threshold_are_configurable(tmp_path: Path) -> None:
    options = "    core_fallback_threshold: 0.4\n    core_fallback_action_name: utter_default\n"
    chat = rules_only(tmp_path, options=options)
    await chat.say("/greet")
    fallback = next(e for e in await chat.say("/goodbye") if isinstance(e, ev.ActionExecuted))
    assert (fallback.name, fallback.confidence) == ("utter_default", 0.4)


async def test_fallback_prediction_can_be_switched_off(tmp_path: Path) -> None:
    chat = rules_only(tmp_path, options="    enable_fallback_prediction: false\n")
    await chat.say("/greet")
    tracker = await chat.tracker()
    tracker.update(ev.UserUttered.create("bye", {"name": "goodbye", "confidence": 1.0}))
    policy = chat.processor.assistant.policies[0]
    assert policy.predict(tracker, chat.processor.assistant.domain).max_confidence == 0.0


async def test_the_nlu_confidence_can_be_the_score(tmp_path: Path) -> None:
    chat = rules_only(tmp_path, options="    use_nlu_confidence_as_score: true\n")
    events = await chat.say("/bot_challenge@0.65")
    answer = next(e for e in events if isinstance(e, ev.ActionExecuted) and e.policy)
    assert (answer.name, answer.confidence) == ("utter_iamabot", 0.65)


async def test_the_two_stage_fallback_clarifies_or_gives_up(tmp_path: Path) -> None:
    rules = """
    rules:
      - rule: greet
        steps: [{intent: greet}, {action: utter_greet}]
      - rule: two-stage fallback
        steps:
          - intent: nlu_fallback
          - action: action_two_stage_fallback
          - active_loop: action_two_stage_fallback
    """
    chat = rules_only(tmp_path, rules)
    asked = await chat.say("/nlu_fallback")
    assert [e.utter_action for e in asked if isinstance(e, ev.BotUttered)] == [
        "action_default_ask_affirmation"
    ]
    # "Yes" on the button: the unclear message is replaced and the greeting rule answers.
    assert await chat.replies("/greet") == ["utter_greet"]
    assert (await chat.tracker()).active_loop_name is None
    await chat.say("/nlu_fallback")
    gave_up = await chat.say("/nlu_fallback")
    assert actions_of(gave_up) == ["action_two_stage_fallback", "action_listen"]
    assert [e.text for e in gave_up if isinstance(e, ev.BotUttered)] == ["I did not get that"]


async def test_nlu_policies_abstain_while_the_conversation_is_routed_to_calm(
    tmp_path: Path,
) -> None:
    routing = "  route_session_to_calm:\n    type: bool\n    mappings: [{type: from_llm}]\n"
    project = write_project(tmp_path, DOMAIN.replace("slots:\n", "slots:\n" + routing, 1), RULES)
    chat = Chat(processor(project))
    policies = chat.processor.assistant.policies
    result = await chat.processor.handle_message(UserMessage("/bot_challenge", sender_id="r"))
    tracker = result.tracker
    assert isinstance(policies[0], RulePolicy)
    assert policies[0].predict(tracker, project.domain).max_confidence == 1.0
    tracker.update(ev.SlotSet(name="route_session_to_calm", value=True))
    assert all(p.predict(tracker, project.domain).max_confidence == 0 for p in policies)
