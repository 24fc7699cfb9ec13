"""The default actions CALM's patterns run and the ``flow_<id>`` actions.

Most of them rearrange the dialogue stack: each works on a ``DialogueStack`` copy of
``tracker.stack`` and returns the ``stack`` event of its changes, plus the slot, flow
lifecycle and bot events the spec lists. Actions that belong to one pattern do nothing
unless that pattern's frame is on top of the stack. The project's flows reach them as
``context.flows``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any, Literal

from tandem import names
from tandem.actions.base import Action, ActionContext, ActionFailed
from tandem.actions.defaults import DefaultAction, DefaultRun
from tandem.actions.registry import ActionRegistry
from tandem.actions.responses import INTERNAL_ERROR_RESPONSE, bot_event
from tandem.calm.executor import join_names
from tandem.conversation import events as ev
from tandem.conversation import stack as st
from tandem.conversation.tracker import Tracker
from tandem.names import NEXT_PREFIX, START
from tandem.project.flows.conditions import ConditionError, Predicate, render_condition

log = logging.getLogger(__name__)


# Helper slots of pattern_continue_interrupted, cleared once the user has answered.
INTERRUPTED_FLOW_TO_CONTINUE = "interrupted_flow_to_continue"
CONTINUE_INTERRUPTED_FLOW_CONFIRMATION = "continue_interrupted_flow_confirmation"
MAX_CLARIFICATION_OPTIONS = "max_clarification_options"
DEFAULT_MAX_CLARIFICATION_OPTIONS = 3

# The frame field naming the slot a collect / validate pattern checks.
_CHECKED_SLOT_FIELD: dict[str, Literal["collect", "validate"]] = {
    st.COLLECT_INFORMATION: "collect",
    st.VALIDATE_SLOT: "validate",
}
# The response for a value that does not fit its slot's type; other types accept anything.
_TYPE_REJECTIONS = {
    "bool": "utter_boolean_slot_rejection",
    "float": "utter_float_slot_rejection",
    "categorical": "utter_categorical_slot_rejection",
}
# What the reference sends straight to the output channel when the user names no
# interrupted flow (the placeholder stays unrendered there too).
_NO_FLOW_SELECTED = (
    "You haven't selected a valid task to resume. Please specify the task you would like to "
    "continue. The options are: {{context.interrupted_flow_options}}"
)


def _top(tracker: Tracker, *types: str) -> st.Frame | None:
    """The top frame if it is one of ``types``: pattern actions only act for their pattern."""
    stack = tracker.stack
    return stack[-1] if stack and stack[-1].get("type") in types else None


# -- action_run_slot_rejections ------------------------------------------------------------


async def _run_slot_rejections(tracker: Tracker, context: ActionContext) -> list[ev.Event]:
    """Reject a collected value that does not fit the slot's type or hits a rejection.

    A slot never set (the first ask) or set to None has nothing to check. A rejected value
    is cleared so that the pattern asks again, after the rejection's response.
    """
    frame = _top(tracker, st.COLLECT_INFORMATION, st.VALIDATE_SLOT)
    if frame is None:
        return []
    name = frame[_CHECKED_SLOT_FIELD[frame["type"]]]
    slot = context.domain.slots.get(name)
    value = tracker.get_slot(name)
    if slot is None or not tracker.slot_was_set(name) or value is None:
        return []
    typed = slot.coerce(value)
    if not slot.is_valid_value(value):
        response: str | None = _TYPE_REJECTIONS[slot.type]
    else:
        response = _violated_rejection(frame.get("rejections") or [], name, typed)
    if response is not None:
        message = context.nlg.generate(response, tracker, context.output_channel, value=value)
        spoken = [] if message is None else [bot_event(response, message)]
        return [ev.SlotSet(name=name, value=None), *spoken]
    if typed != value or type(typed) is not type(value):
        return [ev.SlotSet(name=name, value=typed)]
    return []


def _violated_rejection(
    rejections: Iterable[Mapping[str, Any]], slot: str, value: Any
) -> str | None:
    """The response of the first rejection whose condition holds for ``value``.

    Conditions see only the collected slot; one that cannot be rendered or
    evaluated counts as violated, with the internal-error response.
    """
    document = {"slots": {slot: value}}
    for rejection in rejections:
        try:
            condition = render_condition(str(rejection["if"]), {}, slots=document["slots"])
            violated = Predicate.parse(condition).evaluate_strict(document)
        except ConditionError as exc:
            log.error("Slot rejection of '%s' failed: %s", slot, exc)
            return INTERNAL_ERROR_RESPONSE
        if violated:
            return str(rejection["utter"])
    return None


# -- action_correct_flow_slot --------------------------------------------------------------


async def _correct_flow_slot(tracker: Tracker, context: ActionContext) -> list[ev.Event]:
    """Rewind the stack to the step the correction resets to, then set the corrected slots."""
    frame = _top(tracker, st.CORRECTION)
    if frame is None:
        return []
    stack = st.DialogueStack(tracker.stack)
    past = _latest_stack_at(tracker, frame["reset_flow_id"], frame["reset_step_id"])
    if past is not None:
        _rewind(stack, past)
    slots = [
        ev.SlotSet(name=name, value=entry.get("value"), filled_by=entry.get("filled_by"))
        for name, entry in frame["corrected_slots"].items()
    ]
    return [*stack.events_since(tracker.stack), *slots]


def _latest_stack_at(
    tracker: Tracker, flow_id: str | None, step_id: str | None
) -> st.DialogueStack | None:
    """The most recent past stack whose top flow frame was at ``step_id`` of ``flow_id``."""
    for frames in reversed(st.stack_history(tracker.applied_events())):
        past = st.DialogueStack(frames)
        top = past.top_flow_frame()
        if top is not None and (top["flow_id"], top["step_id"]) == (flow_id, step_id):
            return past
    return None


def _rewind(stack: st.DialogueStack, past: st.DialogueStack) -> None:
    """Put back ``past``'s frames from its top user flow up, so the reset step runs again.

    The frames below that flow stay as they are now; current frames that did not exist then
    are kept on top, collect patterns and called flows among them wound down.
    """
    target = past.top_user_frame()
    if target is None:
        return
    reused = past.frames[past.frames.index(target) :]
    current_ids = [frame["frame_id"] for frame in stack.frames]
    cut = current_ids.index(target["frame_id"]) if target["frame_id"] in current_ids else 0
    below = stack.frames[:cut]
    placed = {frame["frame_id"] for frame in below + reused}
    newer = [frame for frame in stack.frames if frame["frame_id"] not in placed]
    for frame in newer:
        if frame.get("type") == st.COLLECT_INFORMATION or (
            st.is_user_frame(frame) and st.frame_type(frame) == st.CALL
        ):
            frame["step_id"] = st.NEXT_END
    rerun = next(
        (f for f in reversed(reused) if st.is_flow_frame(f) and f["step_id"] != START), None
    )
    if rerun is not None:
        rerun["step_id"] = NEXT_PREFIX + rerun["step_id"]
    stack.frames = below + reused + newer


# -- cancelling, clarifying, cleaning up ---------------------------------------------------


async def _cancel_flow(tracker: Tracker, context: ActionContext) -> list[ev.Event]:
    """Wind down the frames the cancel pattern lists; they finish when they reach the top."""
    frame = _top(tracker, st.CANCEL_FLOW)
    if frame is None:
        return []
    stack = st.DialogueStack(tracker.stack)
    for frame_id in frame["canceled_frames"]:
        canceled = stack.by_id(frame_id)
        if canceled is not None and st.is_flow_frame(canceled):
            canceled["step_id"] = st.NEXT_END
    return stack.events_since(tracker.stack)


async def _clarify_flows(tracker: Tracker, context: ActionContext) -> list[ev.Event]:
    """Keep at most ``max_clarification_options`` names and list them as ``a, b or c``."""
    if _top(tracker, st.CLARIFICATION) is None:
        return []
    try:
        limit = int(tracker.get_slot(MAX_CLARIFICATION_OPTIONS))
    except (TypeError, ValueError):
        limit = DEFAULT_MAX_CLARIFICATION_OPTIONS
    stack = st.DialogueStack(tracker.stack)
    frame = stack.frames[-1]
    frame["names"] = frame["names"][: max(limit, 0)]
    frame["clarification_options"] = join_names(frame["names"], "or")
    return stack.events_since(tracker.stack)


async def _clean_stack(tracker: Tracker, context: ActionContext) -> list[ev.Event]:
    """Wind down every flow and drop every other frame (after a change of the flows).

    Run by a user flow rather than by ``pattern_code_change``, that flow is moved to the
    bottom so it finishes last and ``pattern_completed`` follows it.
    """
    stack = st.DialogueStack(tracker.stack)
    invoker = stack.top if stack.top is not None and st.is_user_frame(stack.top) else None
    stack.frames = [frame for frame in stack.frames if st.is_flow_frame(frame)]
    for frame in stack.frames:
        frame["step_id"] = st.NEXT_END
        if st.is_user_frame(frame):
            frame["frame_type"] = st.REGULAR
    if invoker is not None:
        stack.frames.remove(invoker)
        stack.frames.insert(0, invoker)
    return stack.events_since(tracker.stack)


# -- after an interruption -----------------------------------------------------


async def _continue_interrupted_flow(tracker: Tracker, context: ActionContext) -> list[ev.Event]:
    """Resume the interrupted flow the user chose (the only one, if only one was offered)."""
    frame = _top(tracker, st.CONTINUE_INTERRUPTED)
    if frame is None:
        return []
    flow_id = _chosen_flow(frame, tracker.get_slot(INTERRUPTED_FLOW_TO_CONTINUE))
    stack = st.DialogueStack(tracker.stack)
    paused = stack.top_user_frame()
    resumed = stack.resume(flow_id) if flow_id is not None else None
    if resumed is None:
        # The reference sends _NO_FLOW_SELECTED to the output channel without a ``bot``
        # event; actions here cannot reach the channel, so it is only logged.
        log.info("%s (%s)", _NO_FLOW_SELECTED, frame["interrupted_flow_options"])
        return []
    events: list[ev.Event] = [
        ev.FlowResumed(flow_id=resumed["flow_id"], step_id=resumed["step_id"]),
        *stack.events_since(tracker.stack),
    ]
    if paused is not None and paused["flow_id"] != resumed["flow_id"]:
        events.append(ev.FlowInterrupted(flow_id=paused["flow_id"], step_id=paused["step_id"]))
    return [*events, *_clear_continue_slots()]


def _chosen_flow(frame: st.Frame, answer: Any) -> str | None:
    """The offered flow id ``answer`` names, by id first, then by readable name."""
    ids: list[str] = frame["interrupted_flow_ids"]
    if len(ids) == 1:
        return ids[0]
    if answer in ids:
        return str(answer)
    by_name = dict(zip(frame["interrupted_flow_names"], ids, strict=False))
    return by_name.get(answer)


async def _cancel_interrupted_flows(tracker: Tracker, context: ActionContext) -> list[ev.Event]:
    """Cancel every interrupted flow: one cancel pattern per flow, named by its id."""
    frame = _top(tracker, st.CONTINUE_INTERRUPTED)
    if frame is None:
        return []
    stack = st.DialogueStack(tracker.stack)
    groups = [
        stack.frame_group(user_frame)
        for user_frame in map(stack.user_frame_of, frame["interrupted_flow_ids"])
        if user_frame is not None
    ]
    canceled: list[ev.Event] = []
    for group in groups:
        user_frame = group[0]
        stack.push(
            st.pattern_frame(
                st.CANCEL_FLOW,
                canceled_name=user_frame["flow_id"],
                canceled_frames=[f["frame_id"] for f in reversed(group)],
            )
        )
        canceled.append(
            ev.FlowCancelled(flow_id=user_frame["flow_id"], step_id=user_frame["step_id"])
        )
    return [*canceled, *stack.events_since(tracker.stack), *_clear_continue_slots()]


def _clear_continue_slots() -> list[ev.Event]:
    return [
        ev.SlotSet(name=INTERRUPTED_FLOW_TO_CONTINUE, value=None),
        ev.SlotSet(name=CONTINUE_INTERRUPTED_FLOW_CONFIRMATION, value=None),
    ]


# -- the rest ------------------------------------------------------------------------------


async def _repeat_bot_messages(tracker: Tracker, context: ActionContext) -> list[ev.Event]:
    """Say the bot's last turn (before the latest user message) again.

    When a collect pattern lies below, its question ends that turn and is about to be asked
    again, so it is left out.
    """
    turn = _last_bot_turn(tracker.events)
    below: Mapping[str, Any] = tracker.stack[-2] if len(tracker.stack) > 1 else {}
    if below.get("type") == st.COLLECT_INFORMATION:
        turn = turn[:-1]
    now = time.time()
    return [event.with_timestamp(now) for event in turn]


def _last_bot_turn(events: list[ev.Event]) -> list[ev.BotUttered]:
    """The bot messages between the latest user message and the one before it, in order."""
    turn: list[ev.BotUttered] = []
    users_seen = 0
    for event in reversed(events):
        if isinstance(event, ev.UserUttered):
            users_seen += 1
            if users_seen == 2:
                break
        elif isinstance(event, ev.BotUttered) and users_seen == 1:
            turn.append(event)
    return turn[::-1]


async def _trigger_search(tracker: Tracker, context: ActionContext) -> list[ev.Event]:
    return _push_non_flow_frame(tracker, st.SEARCH)


async def _trigger_chitchat(tracker: Tracker, context: ActionContext) -> list[ev.Event]:
    return _push_non_flow_frame(tracker, st.CHITCHAT)


def _push_non_flow_frame(tracker: Tracker, frame_type: str) -> list[ev.Event]:
    """Hand the turn to the policy answering ``frame_type`` frames (FlowPolicy abstains)."""
    stack = st.DialogueStack(tracker.stack)
    stack.push({"frame_id": st.new_frame_id(), "type": frame_type})
    return stack.events_since(tracker.stack)


async def _handoff_metric(tracker: Tracker, context: ActionContext) -> list[ev.Event]:
    """Only marks that a handoff was asked for (the reference counts it in its analytics)."""
    return []


async def _hangup(tracker: Tracker, context: ActionContext) -> list[ev.Event]:
    """End the session. The reference also asks the output channel to hang up (voice), which
    actions here cannot reach."""
    return [ev.SessionEnded()]


# -- flow_<id> ----------------------------------------------------------------


class FlowAction(Action):
    """``flow_<id>``: start flow ``<id>`` from a rule or story, interrupting a running flow,
    and set the slots the prediction's metadata gives under ``slots``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.flow_id = name.removeprefix(names.FLOW_ACTION_PREFIX)

    async def run(self, tracker: Tracker, context: ActionContext) -> list[ev.Event]:
        flows = context.flows
        if self.flow_id not in flows:
            raise ActionFailed(f"there is no flow '{self.flow_id}' to start")
        stack = st.DialogueStack(tracker.stack)
        current = stack.top_user_frame()
        events: list[ev.Event] = []
        if current is not None:
            events.append(
                ev.FlowInterrupted(flow_id=current["flow_id"], step_id=current["step_id"])
            )
        # Unlike StartFlow, any frame on the stack (a pattern too) makes this an interruption.
        stack.push(st.flow_frame(self.flow_id, st.INTERRUPT if stack else st.REGULAR))
        events += stack.events_since(tracker.stack)
        slots = context.action_metadata.get("slots") or {}
        events += [ev.SlotSet(name=name, value=value) for name, value in slots.items()]
        if tracker.active_loop_name is not None:
            events.append(ev.ActiveLoop(name=None))
        return events


_PATTERN_ACTIONS: dict[str, DefaultRun] = {
    names.ACTION_RUN_SLOT_REJECTIONS: _run_slot_rejections,
    names.ACTION_CORRECT_FLOW_SLOT: _correct_flow_slot,
    names.ACTION_CANCEL_FLOW: _cancel_flow,
    names.ACTION_CLARIFY_FLOWS: _clarify_flows,
    names.ACTION_CLEAN_STACK: _clean_stack,
    names.ACTION_CONTINUE_INTERRUPTED_FLOW: _continue_interrupted_flow,
    names.ACTION_CANCEL_INTERRUPTED_FLOWS: _cancel_interrupted_flows,
    names.ACTION_REPEAT_BOT_MESSAGES: _repeat_bot_messages,
    names.ACTION_TRIGGER_SEARCH: _trigger_search,
    names.ACTION_TRIGGER_CHITCHAT: _trigger_chitchat,
    names.ACTION_HANDOFF_METRIC: _handoff_metric,
    names.ACTION_HANGUP: _hangup,
}


def register_pattern_actions(registry: ActionRegistry) -> None:
    """Provide the pattern actions and every ``flow_<id>`` action through ``registry``.

    ``flow_<id>`` resolves for any ``<id>``; whether the flow exists is checked when it runs.
    """
    for name, run in _PATTERN_ACTIONS.items():
        registry.register(name, partial(DefaultAction, run=run))
    registry.register(lambda name: name.startswith(names.FLOW_ACTION_PREFIX), FlowAction)
