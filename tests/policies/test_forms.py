"""The built-in form action, validated by a real rasa-sdk action server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from policies_testkit import Chat, actions_of, processor, write_project

from tandem.actions.custom import ActionServerClient, RemoteAction
from tandem.actions.forms import FormAction, register_forms
from tandem.actions.registry import ActionRegistry
from tandem.conversation import events as ev
from tandem.project.endpoints import EndpointConfig

HERE = Path(__file__).parent

DOMAIN = """
intents: [book, inform, bot_challenge, greet, stop]
entities: [branch, day]
slots:
  branch:
    type: text
    influence_conversation: false
    mappings:
      - type: from_entity
        entity: branch
        conditions: [{active_loop: appointment_form}]
  day:
    type: text
    influence_conversation: false
    mappings:
      - type: from_entity
        entity: day
        conditions: [{active_loop: appointment_form, requested_slot: day}]
  topic:
    type: text
    influence_conversation: false
    mappings:
      - type: from_text
        conditions: [{active_loop: appointment_form, requested_slot: topic}]
forms:
  appointment_form: {required_slots: [branch, day, topic]}
actions: [validate_appointment_form, action_ask_topic]
responses:
  utter_ask_branch: [{text: which branch?}]
  utter_ask_day: [{text: which day?}]
  utter_ask_appointment_form_day: [{text: which day for the appointment?}]
  utter_ask_topic: [{text: what about?}]
  utter_unknown_branch: [{text: no such branch}]
  utter_closed: [{text: closed at the weekend}]
  utter_booked: [{text: "{branch} on {day}: {topic}"}]
  utter_iamabot: [{text: a bot}]
  utter_greet: [{text: hi}]
"""
RULES = """
rules:
  - rule: start
    steps: [{intent: book}, {action: appointment_form}, {active_loop: appointment_form}]
  - rule: submit
    condition: [{active_loop: appointment_form}]
    steps:
      - action: appointment_form
      - active_loop: null
      - slot_was_set: [{requested_slot: null}]
      - action: utter_booked
  - rule: bot question while booking
    condition: [{active_loop: appointment_form}]
    steps:
      - intent: bot_challenge
      - action: utter_iamabot
      - action: appointment_form
      - active_loop: appointment_form
  - rule: greet
    steps: [{intent: greet}, {action: utter_greet}]
  - rule: stop booking
    condition: [{active_loop: appointment_form}]
    steps:
      - intent: stop
      - action: action_deactivate_loop
      - active_loop: null
"""


@pytest.fixture
async def client(
    sdk_server: Callable[[Path, str], str],
) -> AsyncIterator[ActionServerClient]:
    url = sdk_server(HERE, "form_actions")
    async with ActionServerClient(EndpointConfig(url=url)) as sdk_client:
        yield sdk_client


@pytest.fixture
def chat(tmp_path: Path, client: ActionServerClient) -> Chat:
    project = write_project(tmp_path, DOMAIN, RULES, "  - name: RulePolicy\n")
    return Chat(processor(project, action_server=client))


def texts(events: list[ev.Event]) -> list[str | None]:
    return [e.text for e in events if isinstance(e, ev.BotUttered)]


def slots_set(events: list[ev.Event]) -> list[tuple[str, object]]:
    return [(e.name, e.value) for e in events if isinstance(e, ev.SlotSet)]


async def test_the_happy_path_validates_asks_and_submits(chat: Chat) -> None:
    first = await chat.say('/book{"branch": "harbour"}')
    # The activating message fills the branch once the form is active; validation names it.
    assert slots_set(first) == [("branch", "Harbour"), ("requested_slot", "day")]
    assert texts(first) == ["which day for the appointment?"]  # the form's own question
    assert actions_of(first) == ["appointment_form", "action_listen"]
    second = await chat.say('/inform{"day": "thursday"}')
    assert ("day", "Thursday") in slots_set(second)
    assert texts(second) == ["What shall Harbour prepare?"]  # action_ask_topic on the server
    third = await chat.say("a mortgage question")
    assert texts(third) == ["Harbour on Thursday: a mortgage question"]
    assert actions_of(third) == ["appointment_form", "utter_booked", "action_listen"]
    tracker = await chat.tracker()
    assert tracker.active_loop is None and tracker.get_slot("requested_slot") is None


async def test_an_invalid_answer_is_refused_with_a_message_and_asked_again(chat: Chat) -> None:
    assert texts(await chat.say("/book")) == ["which branch?"]
    refused = await chat.say('/inform{"branch": "uptown"}')
    assert texts(refused) == ["no such branch", "which branch?"]
    assert ("branch", None) in slots_set(refused)
    await chat.say('/inform{"branch": "downtown"}')
    weekend = await chat.say('/inform{"day": "saturday"}')
    assert texts(weekend) == ["closed at the weekend", "which day for the appointment?"]
    tracker = await chat.tracker()
    assert tracker.get_slot("day") is None and tracker.get_slot("requested_slot") == "day"
    assert ("day", "Monday") in slots_set(await chat.say('/inform{"day": "monday"}'))


async def test_an_answer_without_a_value_rejects_and_the_form_resumes_after(chat: Chat) -> None:
    await chat.say('/book{"branch": "downtown"}')
    events = await chat.say("/greet")
    rejected = [e for e in events if isinstance(e, ev.ActionExecutionRejected)]
    assert [e.name for e in rejected] == ["appointment_form"]
    assert texts(events) == ["hi", "which day for the appointment?"]
    assert any(isinstance(e, ev.LoopInterrupted) and e.is_interrupted for e in events)
    assert (await chat.tracker()).active_loop_name == "appointment_form"


async def test_a_rule_answers_inside_the_form_which_then_asks_again(chat: Chat) -> None:
    await chat.say('/book{"branch": "downtown"}')
    events = await chat.say("/bot_challenge")
    # The rule takes the turn before the form runs, so the form does not reject.
    assert not any(isinstance(e, ev.ActionExecutionRejected) for e in events)
    assert texts(events) == ["a bot", "which day for the appointment?"]
    assert (await chat.tracker()).get_slot("day") is None
    assert ("day", "Friday") in slots_set(await chat.say('/inform{"day": "friday"}'))


async def test_deactivating_the_loop_keeps_the_filled_slots(chat: Chat) -> None:
    await chat.say('/book{"branch": "downtown"}')
    events = await chat.say("/stop")
    assert actions_of(events) == ["action_deactivate_loop", "action_listen"]
    tracker = await chat.tracker()
    assert tracker.active_loop is None and tracker.get_slot("requested_slot") is None
    assert tracker.get_slot("branch") == "Downtown"


async def test_without_a_validation_action_extracted_values_stand(tmp_path: Path) -> None:
    domain = DOMAIN.replace("actions: [validate_appointment_form, action_ask_topic]", "")
    chat = Chat(processor(write_project(tmp_path, domain, RULES, "  - name: RulePolicy\n")))
    first = await chat.say('/book{"branch": "uptown"}')
    assert slots_set(first) == [("branch", "uptown"), ("requested_slot", "day")]
    await chat.say('/inform{"day": "sunday"}')
    assert texts(await chat.say("anything")) == ["uptown on sunday: anything"]


def test_forms_run_the_built_in_action_unless_the_domain_lists_them(tmp_path: Path) -> None:
    project = write_project(tmp_path, DOMAIN, RULES, "  - name: RulePolicy\n")
    registry = ActionRegistry(project.domain)
    register_forms(registry)
    assert isinstance(registry.get("appointment_form"), FormAction)
    overriding = DOMAIN.replace("actions: [", "actions: [appointment_form, ")
    project = write_project(tmp_path, overriding, RULES, "  - name: RulePolicy\n")
    registry = ActionRegistry(project.domain)
    register_forms(registry)
    assert isinstance(registry.get("appointment_form"), RemoteAction)
