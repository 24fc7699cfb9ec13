"""The CALM engine end to end: commands in, events and stacks out."""

from __future__ import annotations

import pytest

from tandem.conversation import commands as cmd
from tandem.conversation import events as ev

from .calm_testkit import actions, calm_processor, flow_events, send, slot_events, stack_of, texts

DOMAIN = """\
version: "3.1"
slots:
  name:
    type: text
  city:
    type: text
  confirmed:
    type: bool
  kept:
    type: text
  tier:
    type: text
  unaskable:
    type: text
responses:
  utter_ask_name:
    - text: "Your name?"
  utter_ask_city:
    - text: "Your city?"
  utter_ask_confirmed:
    - text: "Sure?"
  utter_ask_kept:
    - text: "Kept?"
  utter_done:
    - text: "Done {name} in {city}."
  utter_helped:
    - text: "Helped."
  utter_tips:
    - text: "Tips."
  utter_after_call:
    - text: "Back in caller, tier {tier}."
  utter_anything_else:
    - text: "Anything else?"
"""

FLOWS = """\
flows:
  register:
    description: Register a user.
    steps:
      - collect: name
      - collect: city
      - action: utter_done
  confirm:
    description: Always asks.
    steps:
      - collect: confirmed
        ask_before_filling: true
      - action: utter_helped
  help:
    description: Helps.
    steps:
      - action: utter_helped
  linker:
    description: Links to tips.
    steps:
      - collect: name
      - link: tips
  tips:
    description: Gives tips.
    steps:
      - action: utter_tips
  caller:
    description: Calls a flow.
    steps:
      - call: called
      - action: utter_after_call
  called:
    description: Is called.
    steps:
      - collect: city
      - set_slots:
          - tier: gold
  persist:
    description: Keeps some slots.
    persisted_slots: [name]
    steps:
      - collect: name
      - collect: city
  keeper:
    description: Keeps its slot.
    steps:
      - collect: kept
        reset_after_flow_ends: false
  quiet:
    description: No completion pattern.
    run_pattern_completed: false
    steps:
      - action: utter_helped
  broken:
    description: Cannot ask.
    steps:
      - collect: unaskable
      - action: utter_helped
  looping:
    description: Loops forever.
    steps:
      - id: again
        noop: true
        next: again
  pattern_completed:
    description: Offer more help.
    steps:
      - action: utter_anything_else
"""


@pytest.fixture
def processor(tmp_path):
    return calm_processor(tmp_path, DOMAIN, FLOWS)


async def tracker_of(processor, sender="user"):
    return await processor.fetch_tracker(sender)


async def test_collect_happy_path_events(processor) -> None:
    first = await send(processor, cmd.StartFlow("register"))
    assert flow_events(first) == [
        ("flow_started", "register"),
        ("flow_started", "pattern_collect_information"),
    ]
    assert actions(first)[-3:] == ["action_run_slot_rejections", "utter_ask_name", "action_listen"]
    assert texts(first) == ["Your name?"]
    tracker = await tracker_of(processor)
    assert [frame[0] for frame in stack_of(tracker)] == ["register", "pattern_collect_information"]
    assert tracker.stack[-1]["collect"] == "name"
    assert tracker.stack[-1]["utter"] == "utter_ask_name"
    assert tracker.stack[-1]["collect_action"] == "action_ask_name"

    second = await send(processor, cmd.SetSlot("name", "Ann"))
    assert ("name", "Ann") in slot_events(second)
    assert flow_events(second)[:2] == [
        ("flow_completed", "pattern_collect_information"),
        ("flow_started", "pattern_collect_information"),
    ]
    assert texts(second) == ["Your city?"]

    third = await send(processor, cmd.SetSlot("city", "Oslo"))
    assert texts(third) == ["Done Ann in Oslo.", "Anything else?"]
    assert ("flow_completed", "register") in flow_events(third)
    # collected slots are reset when the flow ends, with reset metadata
    resets = [e for e in third if isinstance(e, ev.SlotSet) and e.metadata.get("reset")]
    assert {(e.name, e.value) for e in resets} == {("name", None), ("city", None)}
    assert (await tracker_of(processor)).stack == []


async def test_slot_filled_in_advance_is_not_asked(processor) -> None:
    events = await send(processor, cmd.StartFlow("register"), cmd.SetSlot("name", "Bo"))
    assert texts(events) == ["Your city?"]


async def test_ask_before_filling_clears_the_slot_before_asking(processor) -> None:
    await send(processor, cmd.SetSlot("confirmed", True), cmd.StartFlow("confirm"))
    events = await send(processor, cmd.StartFlow("confirm"), sender="other")
    assert ("confirmed", None) in slot_events(events)
    assert texts(events) == ["Sure?"]


async def test_slot_of_no_running_flow_is_dropped_and_of_a_starting_flow_accepted(
    processor,
) -> None:
    dropped = await send(processor, cmd.SetSlot("city", "Rome"))
    assert slot_events(dropped) == []
    accepted = await send(
        processor, cmd.SetSlot("city", "Rome"), cmd.StartFlow("register"), sender="b"
    )
    assert ("city", "Rome") in slot_events(accepted)


async def test_collect_without_question_cancels_the_flow_with_an_internal_error(processor) -> None:
    events = await send(processor, cmd.StartFlow("broken"))
    assert ("flow_cancelled", "broken") in flow_events(events)
    assert "Sorry, I am having trouble with that. Please try again in a few minutes." in texts(
        events
    )
    assert "Helped." not in texts(events)
    assert (await tracker_of(processor)).stack == []


async def test_link_completes_the_linking_flow_and_starts_the_target(processor) -> None:
    events = await send(processor, cmd.StartFlow("linker"), cmd.SetSlot("name", "Cy"))
    lifecycle = flow_events(events)
    start_tips = lifecycle.index(("flow_started", "tips"))
    assert lifecycle.index(("flow_completed", "linker")) < start_tips
    assert ("flow_started", "pattern_completed") not in lifecycle[:start_tips]
    assert lifecycle[-3:] == [
        ("flow_completed", "tips"),
        ("flow_started", "pattern_completed"),
        ("flow_completed", "pattern_completed"),
    ]
    assert texts(events) == ["Tips.", "Anything else?"]


async def test_call_returns_to_the_caller_and_resets_slots_with_it(processor) -> None:
    first = await send(processor, cmd.StartFlow("caller"))
    assert texts(first) == ["Your city?"]
    second = await send(processor, cmd.SetSlot("city", "Lima"))
    assert texts(second) == ["Back in caller, tier gold.", "Anything else?"]
    lifecycle = flow_events(second)
    completed_called = lifecycle.index(("flow_completed", "called"))
    completed_caller = lifecycle.index(("flow_completed", "caller"))
    assert completed_called < completed_caller
    # the called flow's slots are reset with the caller, not when the called flow ends
    resets = [
        index
        for index, e in enumerate(second)
        if isinstance(e, ev.SlotSet) and e.metadata.get("reset")
    ]
    assert {(second[i].name, second[i].value) for i in resets} == {("city", None), ("tier", None)}
    completions = {
        e.flow_id: index for index, e in enumerate(second) if isinstance(e, ev.FlowCompleted)
    }
    assert all(completions["called"] < index < completions["caller"] for index in resets)


async def test_persisted_slots_and_reset_after_flow_ends_false_survive(processor) -> None:
    await send(processor, cmd.StartFlow("persist"), cmd.SetSlot("name", "Di"))
    events = await send(processor, cmd.SetSlot("city", "Kyiv"))
    resets = {
        (e.name, e.value) for e in events if isinstance(e, ev.SlotSet) and e.metadata.get("reset")
    }
    assert resets == {("city", None)}
    await send(processor, cmd.StartFlow("keeper"), cmd.SetSlot("kept", "yes"))
    tracker = await tracker_of(processor)
    assert tracker.get_slot("name") == "Di"
    assert tracker.get_slot("kept") == "yes"
    assert tracker.stack == []


async def test_run_pattern_completed_false_suppresses_pattern_completed(processor) -> None:
    events = await send(processor, cmd.StartFlow("quiet"))
    assert texts(events) == ["Helped."]
    assert ("flow_started", "pattern_completed") not in flow_events(events)


async def test_endless_loop_trips_the_circuit_breaker(processor) -> None:
    events = await send(processor, cmd.StartFlow("looping"))
    assert ("flow_started", "pattern_internal_error") in flow_events(events)
    assert (
        texts(events)[0]
        == "Sorry, I am having trouble with that. Please try again in a few minutes."
    )
    assert (await tracker_of(processor)).stack == []


async def test_two_start_flows_with_nothing_running_first_listed_runs_first(processor) -> None:
    processor_events = await send(processor, cmd.StartFlow("help"), cmd.StartFlow("tips"))
    stack_after_commands = next(
        e for e in processor_events if isinstance(e, ev.DialogueStackUpdated)
    )
    assert stack_after_commands is not None
    assert texts(processor_events)[:2] == ["Helped.", "Tips."]


async def test_starting_a_flow_interrupts_and_completion_offers_to_continue(processor) -> None:
    await send(processor, cmd.StartFlow("register"))
    events = await send(processor, cmd.StartFlow("help"))
    assert flow_events(events)[0] == ("flow_interrupted", "register")
    tracker = await tracker_of(processor)
    frames = [f for f in tracker.stack if f["type"] == "flow"]
    assert [f["frame_type"] for f in frames] == ["regular"]  # help already ended
    assert texts(events)[0] == "Helped."
    offer = next(f for f in tracker.stack if f["type"] == "pattern_continue_interrupted")
    assert offer["interrupted_flow_options"] == "register"
    assert offer["multiple_flows_interrupted"] is False
    assert texts(events)[-1] == "Would you like to continue with register?"


async def test_starting_a_flow_deeper_on_the_stack_resumes_it(processor) -> None:
    await send(processor, cmd.StartFlow("register"))
    await send(processor, cmd.StartFlow("persist"))
    events = await send(processor, cmd.StartFlow("register"))
    lifecycle = flow_events(events)
    assert lifecycle[:2] == [("flow_resumed", "register"), ("flow_interrupted", "persist")]
    tracker = await tracker_of(processor)
    users = [(f["flow_id"], f["frame_type"]) for f in tracker.stack if f["type"] == "flow"]
    assert users == [("persist", "regular"), ("register", "interrupt")]
    assert texts(events) == ["Your name?"]


async def test_cancel_winds_the_flow_down_and_completes(processor) -> None:
    await send(processor, cmd.StartFlow("register"))
    events = await send(processor, cmd.CancelFlow())
    lifecycle = flow_events(events)
    assert lifecycle[0] == ("flow_cancelled", "register")
    cancel_frame_event = next(e for e in events if isinstance(e, ev.DialogueStackUpdated))
    assert "pattern_cancel_flow" in cancel_frame_event.update
    assert texts(events) == ["Okay, stopping register.", "Anything else?"]
    assert ("flow_completed", "register") in lifecycle
    assert lifecycle.index(("flow_completed", "register")) < lifecycle.index(
        ("flow_started", "pattern_completed")
    )


async def test_cancel_with_nothing_running_cannot_be_handled(processor) -> None:
    events = await send(processor, cmd.CancelFlow())
    [text] = texts(events)
    assert text.endswith("m sorry I am unable to understand you, could you please rephrase?")


async def test_correction_rewinds_to_the_collect_step(processor) -> None:
    await send(processor, cmd.StartFlow("register"), cmd.SetSlot("name", "Ed"))
    events = await send(processor, cmd.SetSlot("name", "Eve"))
    assert ("name", "Eve") in slot_events(events)
    assert "Ok, I am updating name to Eve." in texts(events)
    assert texts(events)[-1] == "Your city?"
    tracker = await tracker_of(processor)
    assert tracker.get_slot("name") == "Eve"
    assert tracker.slot_filled_by("name") == "LLM"


async def test_yes_to_the_offer_resumes_the_interrupted_flow(processor) -> None:
    await send(processor, cmd.StartFlow("register"))
    await send(processor, cmd.StartFlow("help"))
    events = await send(processor, cmd.SetSlot("continue_interrupted_flow_confirmation", True))
    assert ("flow_resumed", "register") in flow_events(events)
    assert texts(events) == ["Your name?"]
    tracker = await tracker_of(processor)
    assert tracker.get_slot("continue_interrupted_flow_confirmation") is None
    assert [f["flow_id"] for f in tracker.stack] == ["register", "pattern_collect_information"]


async def test_no_to_the_offer_cancels_the_interrupted_flows(processor) -> None:
    await send(processor, cmd.StartFlow("register"))
    await send(processor, cmd.StartFlow("help"))
    events = await send(processor, cmd.SetSlot("continue_interrupted_flow_confirmation", False))
    assert ("flow_cancelled", "register") in flow_events(events)
    # the cancel pattern names the flow by its id here
    assert "Okay, stopping register." in texts(events)
    assert (await tracker_of(processor)).stack == []


async def test_two_interrupted_flows_are_offered_by_name(processor) -> None:
    await send(processor, cmd.StartFlow("register"))
    await send(processor, cmd.StartFlow("persist"))
    events = await send(processor, cmd.StartFlow("help"))
    assert texts(events)[-1] == "Would you like to resume register and persist?"
    resumed = await send(processor, cmd.SetSlot("interrupted_flow_to_continue", "register"))
    assert ("flow_resumed", "register") in flow_events(resumed)
    assert texts(resumed) == ["Your name?"]
