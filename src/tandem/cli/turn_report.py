"""What ``tandem shell --debug`` prints after each turn, worked out from the turn's events.

The tracker after the turn cannot say what happened in it: a restart or the end of a
coexistence skill resets its latest message, slots and stack. So the report replays the
turn's events on the conversation as it was before the turn and notes each step on the way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tandem import names
from tandem.conversation import events as ev
from tandem.conversation.tracker import Tracker

if TYPE_CHECKING:
    from tandem.llm import LLMCall
    from tandem.runtime.processor import TurnResult

# Events that clear the stack (and more) along the way.
_RESETS = (ev.Restarted, ev.SessionStarted, ev.RoutingSessionEnded)
_FLOW_EVENTS = (
    ev.FlowStarted,
    ev.FlowInterrupted,
    ev.FlowResumed,
    ev.FlowCompleted,
    ev.FlowCancelled,
)
# Bookkeeping the events list shows; as a slot change it would only hide the others.
_QUIET_SLOTS = frozenset({names.SLOT_FLOW_HASHES})


@dataclass
class _Replay:
    """The conversation replayed event by event, and what the report keeps from the way."""

    tracker: Tracker
    users: list[ev.UserUttered] = field(default_factory=list)
    slot_changes: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    flows: list[str] = field(default_factory=list)
    stacks_before_reset: list[str] = field(default_factory=list)

    def apply(self, event: ev.Event) -> None:
        if isinstance(event, ev.UserUttered):
            self.users.append(event)
        elif isinstance(event, (ev.ActionExecuted, ev.ActionExecutionRejected)):
            self.actions.append(_action(event))
        elif isinstance(event, _FLOW_EVENTS) and not event.flow_id.startswith("pattern_"):
            self.flows.append(f"{event.flow_id} {event.type_name.removeprefix('flow_')}")
        elif isinstance(event, _RESETS) and self.tracker.stack:
            self.stacks_before_reset.append(
                f"stack before {event.type_name}: {_stack(self.tracker.stack)}"
            )
        before = dict(self.tracker.slots)
        self.tracker.update(event)
        # Resets change slots without a slot event, so slots are compared at every event.
        cause = "" if isinstance(event, ev.SlotSet) else f"  ({event.type_name})"
        for name, value in self.tracker.slots.items():
            if before.get(name) != value and name not in _QUIET_SLOTS:
                self.slot_changes.append(f"  {name} = {value!r}{cause}")


def debug_report(result: TurnResult) -> str:
    """The turn's parse data, commands (and the rejected ones), slot changes, the policy and
    confidence of each action, the stack (also as it was before a reset) and its events."""
    tracker = result.tracker
    replay = _Replay(
        Tracker(tracker.sender_id, tracker.slot_defs, tracker.events[: result.first_new_event])
    )
    for event in result.new_events:
        replay.apply(event)
    lines = ["--- debug ---"]
    for user in replay.users:
        lines.extend(_user_lines(user))
    lines.extend(
        f"rejected: {_command(item['command'])}: {item['reason']}"
        for item in result.notes.rejected_commands
    )
    if replay.slot_changes:
        lines.extend(["slots:", *replay.slot_changes])
    if replay.actions:
        lines.extend(["actions:", *replay.actions])
    if replay.flows:
        lines.append("flows: " + ", ".join(replay.flows))
    lines.extend(replay.stacks_before_reset)
    lines.append(f"stack: {_stack(tracker.stack)}")
    lines.append("events:")
    lines.extend(f"  {_event(event)}" for event in result.new_events)
    return "\n".join(lines)


def llm_report(calls: list[LLMCall]) -> str:
    """Each LLM call of the turn: the prompt as sent and the raw answer (or the error)."""
    lines = []
    for number, call in enumerate(calls, start=1):
        answer = call.answer if call.error is None else f"(failed: {call.error})"
        lines.extend(
            [
                f"--- LLM call {number} ({call.model}) prompt ---",
                call.prompt,
                f"--- LLM call {number} answer ---",
                str(answer),
            ]
        )
    return "\n".join(lines)


def _user_lines(user: ev.UserUttered) -> list[str]:
    parse = user.parse_data
    lines = [
        "parse: " + json.dumps({k: parse.get(k) for k in ("intent", "entities") if k in parse})
    ]
    if "routing" in user.metadata:
        lines.append("routing: " + json.dumps(user.metadata["routing"]))
    if parse.get("commands"):
        lines.append("commands: " + "; ".join(map(_command, parse["commands"])))
    return lines


def _command(command: dict[str, Any]) -> str:
    fields = ", ".join(f"{k}={v!r}" for k, v in command.items() if k != "command")
    return f"{command.get('command')}({fields})"


def _action(event: ev.ActionExecuted | ev.ActionExecutionRejected) -> str:
    confidence = "" if event.confidence is None else f" {event.confidence:.2f}"
    rejected = " (rejected)" if isinstance(event, ev.ActionExecutionRejected) else ""
    return f"  {event.name}{rejected}  by {event.policy or '-'}{confidence}"


def _stack(frames: list[dict[str, Any]]) -> str:
    return json.dumps([f"{f.get('flow_id', f.get('type'))}@{f.get('step_id', '')}" for f in frames])


def _event(event: ev.Event) -> str:
    data = event.as_dict()
    data.pop("timestamp", None)
    data.pop("metadata", None)
    return json.dumps(data, default=str)
