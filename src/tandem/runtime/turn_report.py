"""What ``tandem shell --debug`` prints after each turn, worked out from the turn's events.

The tracker after the turn cannot say what happened in it: a restart or the end of a
coexistence skill resets its latest message, slots and stack. So the report replays the
turn's events on the conversation as it was before the turn and notes each step on the way.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tandem import names
from tandem.conversation import events as ev
from tandem.conversation.stack import Frame
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
QUIET_SLOTS = frozenset({names.SLOT_FLOW_HASHES})


@dataclass(frozen=True, slots=True)
class SlotChange:
    """A slot whose value changed; ``cause`` is the event type of a reset that changed it
    without a slot event (None for a ``slot`` event)."""

    name: str
    value: Any
    cause: str | None = None


@dataclass
class TurnReplay:
    """The conversation replayed event by event, and what a report keeps from the way.

    ``tracker`` is the conversation before the turn; ``apply`` moves it on by one event.
    Also read by ``tandem inspect``, which replays a whole conversation turn by turn.
    """

    tracker: Tracker
    users: list[ev.UserUttered] = field(default_factory=list)
    slot_changes: list[SlotChange] = field(default_factory=list)
    actions: list[ev.ActionExecuted | ev.ActionExecutionRejected] = field(default_factory=list)
    flows: list[str] = field(default_factory=list)
    # (event type of the reset, the stack just before it)
    stacks_before_reset: list[tuple[str, list[Frame]]] = field(default_factory=list)

    def apply(self, event: ev.Event) -> None:
        if isinstance(event, ev.UserUttered):
            self.users.append(event)
        elif isinstance(event, (ev.ActionExecuted, ev.ActionExecutionRejected)):
            self.actions.append(event)
        elif isinstance(event, _FLOW_EVENTS) and not event.flow_id.startswith("pattern_"):
            self.flows.append(f"{event.flow_id} {event.type_name.removeprefix('flow_')}")
        elif isinstance(event, _RESETS) and self.tracker.stack:
            self.stacks_before_reset.append((event.type_name, copy.deepcopy(self.tracker.stack)))
        before = dict(self.tracker.slots)
        self.tracker.update(event)
        # Resets change slots without a slot event, so slots are compared at every event.
        cause = None if isinstance(event, ev.SlotSet) else event.type_name
        for name, value in self.tracker.slots.items():
            if before.get(name) != value and name not in QUIET_SLOTS:
                self.slot_changes.append(SlotChange(name, value, cause))


def debug_report(result: TurnResult) -> str:
    """The turn's parse data, commands (and the rejected ones), slot changes, the policy and
    confidence of each action, the stack (also as it was before a reset) and its events."""
    tracker = result.tracker
    replay = TurnReplay(
        Tracker(tracker.sender_id, tracker.slot_defs, tracker.events[: result.first_new_event])
    )
    for event in result.new_events:
        replay.apply(event)
    lines = ["--- debug ---"]
    for user in replay.users:
        lines.extend(_user_lines(user))
    lines.extend(
        f"from {source['component']}: " + "; ".join(map(_command, source["commands"]))
        for source in result.notes.command_sources
    )
    lines.extend(
        f"rejected: {_command(item['command'])}: {item['reason']}"
        for item in result.notes.rejected_commands
    )
    if replay.slot_changes:
        lines.extend(["slots:", *map(_slot_change, replay.slot_changes)])
    if replay.actions:
        lines.extend(["actions:", *map(_action, replay.actions)])
    if replay.flows:
        lines.append("flows: " + ", ".join(replay.flows))
    lines.extend(
        f"stack before {reset}: {_stack(frames)}" for reset, frames in replay.stacks_before_reset
    )
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


def _slot_change(change: SlotChange) -> str:
    cause = "" if change.cause is None else f"  ({change.cause})"
    return f"  {change.name} = {change.value!r}{cause}"


def _action(event: ev.ActionExecuted | ev.ActionExecutionRejected) -> str:
    confidence = "" if event.confidence is None else f" {event.confidence:.2f}"
    rejected = " (rejected)" if isinstance(event, ev.ActionExecutionRejected) else ""
    return f"  {event.name}{rejected}  by {event.policy or '-'}{confidence}"


def _stack(frames: list[Frame]) -> str:
    return json.dumps([f"{f.get('flow_id', f.get('type'))}@{f.get('step_id', '')}" for f in frames])


def _event(event: ev.Event) -> str:
    data = event.as_dict()
    data.pop("timestamp", None)
    data.pop("metadata", None)
    return json.dumps(data, default=str)
