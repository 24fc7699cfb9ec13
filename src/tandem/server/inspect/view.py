"""What ``tandem inspect`` shows of a conversation, turn by turn, worked out from its events.

Everything comes from the stored events (any worker may have handled a turn), replayed once
from the start with ``shell --debug``'s ``TurnReplay``: the tracker after a turn cannot say
what happened in it, since a restart or the end of a coexistence skill resets the stack and
slots on the way. A turn is a user message and the events up to the next one; the events
before the first message (the session start) are turn 0 when there are any.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from tandem import names
from tandem.conversation import events as ev
from tandem.conversation.stack import Frame, is_user_frame
from tandem.conversation.tracker import Tracker
from tandem.runtime.turn_report import QUIET_SLOTS, TurnReplay
from tandem.server.inspect.recording import recorded

JsonDict = dict[str, Any]

# Intents shown of the ranking: enough to see a near miss, not a wall of numbers.
RANKING_SHOWN = 10


def conversation_view(tracker: Tracker) -> JsonDict:
    """The JSON the page draws: each turn's parse, routing, commands, slot changes, actions,
    bot messages, and the stack and slots (with the turn that set them) after it; then the
    slots and the stack now."""
    replaying = Tracker(tracker.sender_id, tracker.slot_defs, [])
    turns: list[JsonDict] = []
    set_in_turn: dict[str, int] = {}
    for index, events in enumerate(turn_events(tracker.events)):
        replay = TurnReplay(replaying)
        routing_slot = _routing_slot_seen(replay, events)
        for change in replay.slot_changes:
            set_in_turn[change.name] = index
        turns.append(_turn(index, events, replay, routing_slot))
        turns[-1]["slots"] = _slots(replaying, set_in_turn)
    return {
        "sender_id": tracker.sender_id,
        "event_count": len(tracker.events),
        "turns": turns,
        "slots": _slots(tracker, set_in_turn),
        "stack": copy.deepcopy(tracker.stack),
        "flow": turns[-1]["flow"] if turns else None,
    }


def _slots(tracker: Tracker, set_in_turn: dict[str, int]) -> list[JsonDict]:
    """The slots' values, each with the last turn that changed it (None: never changed)."""
    return [
        {"name": name, "value": value, "set_in_turn": set_in_turn.get(name)}
        for name, value in sorted(tracker.slots.items())
        if name not in QUIET_SLOTS
    ]


def turn_events(events: Sequence[ev.Event]) -> list[list[ev.Event]]:
    """The events split into turns, each from a user message to the next one."""
    turns: list[list[ev.Event]] = [[]]
    for event in events:
        if isinstance(event, ev.UserUttered) and turns[-1]:
            turns.append([])
        turns[-1].append(event)
    return [turn for turn in turns if turn]


def _routing_slot_seen(replay: TurnReplay, events: Sequence[ev.Event]) -> Any:
    """Replay the turn; returns the routing slot as the policies saw it: after the router's
    and the command processor's slot events, before the first predicted action (how the
    e2e assertion ``routed_to`` reads the route)."""
    seen: Any = None
    decided = False
    for event in events:
        if not decided and isinstance(event, ev.ActionExecuted) and replay.users:
            seen, decided = replay.tracker.slots.get(names.ROUTING_SLOT), True
        replay.apply(event)
    if not decided:
        seen = replay.tracker.slots.get(names.ROUTING_SLOT)
    return seen


def _turn(index: int, events: Sequence[ev.Event], replay: TurnReplay, route: Any) -> JsonDict:
    user = replay.users[0] if replay.users else None
    stack = copy.deepcopy(replay.tracker.stack)
    return {
        "index": index,
        "user": _user(user) if user is not None else None,
        "routing": _routing(user, route, events, replay.tracker) if user is not None else None,
        "commands": list(user.parse_data.get("commands") or []) if user is not None else [],
        # Recorded only by a server running the inspector (see ``recording``).
        "rejected_commands": recorded(user, "rejected_commands") if user is not None else [],
        "command_sources": recorded(user, "command_sources") if user is not None else [],
        "llm_calls": recorded(user, "llm_calls") if user is not None else [],
        "slot_changes": [
            {"name": change.name, "value": change.value, "cause": change.cause}
            for change in replay.slot_changes
        ],
        "actions": [
            {
                "name": action.name,
                "policy": action.policy,
                "confidence": action.confidence,
                "rejected": isinstance(action, ev.ActionExecutionRejected),
            }
            for action in replay.actions
        ],
        "bot": [
            {"text": event.text, "utter_action": event.metadata.get("utter_action")}
            for event in events
            if isinstance(event, ev.BotUttered)
        ],
        "flows": list(replay.flows),
        "stacks_before_reset": [
            {"reset": reset, "stack": frames} for reset, frames in replay.stacks_before_reset
        ],
        "stack": stack,
        "flow": _flow_position(stack, replay.stacks_before_reset),
        "events": [event.as_dict() for event in events],
    }


def _user(user: ev.UserUttered) -> JsonDict:
    parse = user.parse_data
    return {
        "text": user.text,
        "intent": parse.get("intent"),
        "intent_ranking": list(parse.get("intent_ranking") or [])[:RANKING_SHOWN],
        "entities": list(parse.get("entities") or []),
    }


def _routing(user: ev.UserUttered, route: Any, events: Sequence[ev.Event], after: Tracker) -> Any:
    if names.ROUTING_SLOT not in after.slot_defs:
        return None  # not a coexistence assistant: nothing is routed
    return {
        "verdict": user.metadata.get("routing"),
        "slot": route,
        # As the routing slot says: True is CALM, False the NLU-based system (both sticky),
        # unset the NLU-based system for this message only.
        "system": "calm" if route is True else "nlu",
        "sticky": route is not None,
        "reset": any(isinstance(event, ev.RoutingSessionEnded) for event in events),
    }


def _flow_position(
    stack: list[Frame], before_reset: list[tuple[str, list[Frame]]]
) -> JsonDict | None:
    """The flow the flow view draws: the top user flow of the stack after the turn (a
    pattern when no user flow is on it); if a reset emptied the stack, the one before it."""
    ended_by = None
    if not stack and before_reset:
        ended_by, stack = before_reset[-1]
    flows = [frame for frame in stack if frame.get("flow_id")]
    if not flows:
        return None
    users = [frame for frame in flows if is_user_frame(frame)]
    frame = (users or flows)[-1]
    return {"flow_id": frame["flow_id"], "step_id": frame.get("step_id"), "ended_by": ended_by}
