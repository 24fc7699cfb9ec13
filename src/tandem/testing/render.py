"""One readable line per event, for diffs and transcripts of failed e2e tests."""

from __future__ import annotations

from typing import Any

from tandem.conversation import events as ev


def typed(value: Any) -> str:
    """A value with its type, so that ``"75"`` and ``75`` look different in a report."""
    return f"{value!r} ({type(value).__name__})"


def bot_line(event: ev.BotUttered) -> str:
    name = f"  [{event.utter_action}]" if event.utter_action else ""
    return f"bot: {event.text!r}{name}"


def slot_line(event: ev.SlotSet) -> str:
    return f"slot_was_set: {event.name}: {typed(event.value)}"


def event_line(event: ev.Event) -> str | None:
    """How ``event`` reads in a transcript; ``None`` for bookkeeping (stack patches, ...)."""
    if isinstance(event, ev.UserUttered):
        intent = event.intent_name
        return f"user: {event.text!r}" + (f"  (intent {intent})" if intent else "")
    if isinstance(event, ev.BotUttered):
        return bot_line(event)
    if isinstance(event, ev.SlotSet):
        return f"slot: {event.name} = {typed(event.value)}"
    if isinstance(event, ev.ActionExecuted):
        return f"action: {event.name}" + (f"  ({event.policy})" if event.policy else "")
    if isinstance(event, (ev.FlowStarted, ev.FlowResumed)):
        return f"{event.type_name}: {event.flow_id}"
    if isinstance(event, (ev.FlowCompleted, ev.FlowCancelled, ev.FlowInterrupted)):
        return f"{event.type_name}: {event.flow_id} at {event.step_id}"
    if isinstance(event, ev.ActiveLoop):
        return f"active_loop: {event.name}"
    if isinstance(event, (ev.DialogueStackUpdated, ev.UserFeaturization)):
        return None
    return event.type_name or None
