"""The flow executor: walks the flow on top of the stack until a step needs an action.

``advance`` works on a copy of the tracker. Each transition moves the top frame's pointer to
the next step (one ``stack`` event), runs the step (pushing, popping or inserting frames —
another ``stack`` event — and emitting its own events) and applies it all to the copy, so
the next transition sees the new state. It stops at the first step that predicts an action;
everything produced on the way is returned with that action, to be applied before it runs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import jinja2

from tandem import names
from tandem.conversation import events as ev
from tandem.conversation import stack as st
from tandem.conversation.tracker import Tracker
from tandem.project.domain import Domain
from tandem.project.flows.model import (
    END,
    START,
    ActionStep,
    CallStep,
    CollectStep,
    Flow,
    FlowsList,
    LinkStep,
    SetSlotsStep,
    Step,
)

log = logging.getLogger(__name__)

# More transitions than this in one prediction means the flows loop without asking anything.
MAX_TRANSITIONS = 250

_JINJA = jinja2.Environment(autoescape=False)


@lru_cache(maxsize=1024)
def _action_template(text: str) -> jinja2.Template:
    """A templated action name, compiled once (patterns run them on every step)."""
    return _JINJA.from_string(text)


class NoNextStep(RuntimeError):
    """A step has no way out: the flow is invalid (the loader normally prevents this)."""


@dataclass
class Advance:
    """Where the flows stopped: the action to run (None: nothing to do) and the events."""

    action: str | None
    events: list[ev.Event] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


class FlowExecutor:
    def __init__(self, flows: FlowsList, domain: Domain) -> None:
        self.flows = flows
        self.domain = domain
        self._actions = frozenset(domain.action_names)

    def advance(self, tracker: Tracker) -> Advance:
        """Run steps until one predicts an action."""
        work = tracker.copy()
        if not work.stack:
            return Advance(None)
        events: list[ev.Event] = []
        try:
            action = self._walk(work, events)
        except _CircuitBroken:
            log.error(
                "The flows of %s ran %d steps without asking anything; stopping them.",
                tracker.sender_id,
                MAX_TRANSITIONS,
            )
            stack = st.DialogueStack(work.stack)
            before = stack.snapshot()
            stack.end_top_user_flow()
            stack.push(st.pattern_frame(st.INTERNAL_ERROR))
            _emit(work, events, stack.events_since(before))
            action = self._walk(work, events)
        context = st.stack_context(work.stack)
        return Advance(
            action,
            events,
            {"active_flow": context.get("flow_id"), "step_id": context.get("step_id")},
        )

    def _walk(self, work: Tracker, events: list[ev.Event]) -> str:
        for _ in range(MAX_TRANSITIONS):
            if work.terminated:
                return names.ACTION_LISTEN
            stack = st.DialogueStack(work.stack)
            top = stack.top
            if top is None or not st.is_flow_frame(top):
                return names.ACTION_LISTEN
            flow = self.flows.get(top["flow_id"])
            current = flow.step_by_id(top["step_id"]) if flow is not None else None
            if flow is None or current is None:
                log.warning("Dropping stale frame %s.", top)
                before = stack.snapshot()
                stack.pop()
                _emit(work, events, stack.events_since(before))
                continue
            action = self._transition(work, events, stack, flow, current)
            if action is not None:
                return action
        raise _CircuitBroken

    def _transition(
        self,
        work: Tracker,
        events: list[ev.Event],
        stack: st.DialogueStack,
        flow: Flow,
        current: Step,
    ) -> str | None:
        """Move the top frame to its next step and run that step; the action it needs, if any."""
        target = current.successor(stack.context(), work.slots)
        if target is None:
            raise NoNextStep(f"step '{current.id}' of flow '{flow.id}' has no next step")
        step = flow.step_by_id(target)
        if step is None:
            raise NoNextStep(f"flow '{flow.id}' has no step '{target}'")
        top = stack.top
        assert top is not None
        previous_id = top["step_id"]
        produced = stack.move_top(step.id)
        moved = stack.snapshot()
        if step.id == END:
            own = self._end(work, stack, flow, top, previous_id)
            action = None
        else:
            own, action = self._run_step(work, stack, flow, step)
            if previous_id == START:
                own.insert(0, self._flow_started(stack, flow))
        produced += stack.events_since(moved) + own
        tag = {"step_id": step.id, "active_flow": flow.id}
        _emit(work, events, [event.with_metadata(tag) for event in produced])
        return action

    # -- steps -----------------------------------------------------------------

    def _run_step(
        self, work: Tracker, stack: st.DialogueStack, flow: Flow, step: Step
    ) -> tuple[list[ev.Event], str | None]:
        if isinstance(step, ActionStep):
            return [], self._action_of(work, stack, step)
        if isinstance(step, CollectStep):
            return self._collect(work, stack, step), None
        if isinstance(step, SetSlotsStep):
            return [ev.SlotSet(name=name, value=value) for name, value in step.slots], None
        if isinstance(step, LinkStep):
            if step.link == st.HUMAN_HANDOFF:
                stack.push_below_top(st.pattern_frame(st.HUMAN_HANDOFF))
            else:
                stack.push_below_top(st.flow_frame(step.link, st.LINK))
            return [], None
        if isinstance(step, CallStep):
            stack.push(st.flow_frame(step.call, st.CALL))
        return [], None

    def _action_of(self, work: Tracker, stack: st.DialogueStack, step: ActionStep) -> str | None:
        name = step.action
        templated = "{" in name
        if templated:
            try:
                name = _action_template(name).render(context=stack.context()).strip()
            except jinja2.TemplateError as exc:
                log.warning("Cannot render action name '%s': %s", step.action, exc)
                return None
        if name not in self._actions:
            # Templated steps of patterns name optional actions (validate_<slot>, ...).
            report = log.debug if templated else log.warning
            report("Skipping step '%s': no action named '%s'.", step.id, name)
            return None
        if name == names.ACTION_SESSION_START and _session_started_for_message(work):
            return None
        return name

    def _collect(self, work: Tracker, stack: st.DialogueStack, step: CollectStep) -> list[ev.Event]:
        slot = self.domain.slots.get(step.collect)
        can_ask = (
            (slot is not None and slot.initial_value is not None)
            or step.utter in self.domain.responses
            or step.collect_action in self._actions
        )
        if not can_ask:
            log.error(
                "Collect step '%s' cannot ask for '%s': there is no '%s' response, no '%s' "
                "action and no initial value.",
                step.id,
                step.collect,
                step.utter,
                step.collect_action,
            )
            return _cancel_top_flow_with_error(stack, self.flows)
        stack.push(
            st.pattern_frame(
                st.COLLECT_INFORMATION,
                collect=step.collect,
                utter=step.utter,
                collect_action=step.collect_action,
                rejections=[rejection.as_dict() for rejection in step.rejections],
            )
        )
        if step.ask_before_filling and slot is not None:
            return [ev.SlotSet(name=step.collect, value=None)]
        return []

    def _flow_started(self, stack: st.DialogueStack, flow: Flow) -> ev.Event:
        metadata = dict(stack.context())
        user_frames = [f for f in stack if st.is_user_frame(f)]
        if len(user_frames) >= 2:
            parent = user_frames[-2]
            metadata["parent_flow_id"] = parent["flow_id"]
            metadata["parent_step_id"] = parent["step_id"]
        return ev.FlowStarted(flow_id=flow.id, metadata=metadata)

    # -- the end of a flow -----------------------------------------------------

    def _end(
        self,
        work: Tracker,
        stack: st.DialogueStack,
        flow: Flow,
        frame: st.Frame,
        last_step_id: str,
    ) -> list[ev.Event]:
        stack.pop()
        ended_search = frame["flow_id"] == st.SEARCH_PATTERN
        if not stack and (st.is_user_frame(frame) or ended_search) and flow.run_pattern_completed:
            stack.push(st.pattern_frame(st.COMPLETED, previous_flow_name=flow.readable_name()))
        if (st.is_user_frame(frame) and st.frame_type(frame) == st.INTERRUPT) or ended_search:
            self._offer_to_continue(stack)
        resets = [] if st.frame_type(frame) == st.CALL else self._slot_resets(work, flow)
        return [*resets, ev.FlowCompleted(flow_id=flow.id, step_id=last_step_id)]

    def _offer_to_continue(self, stack: st.DialogueStack) -> None:
        waiting = [self.flows.get(f["flow_id"]) for f in stack.resumable_user_frames()]
        flows = [flow for flow in waiting if flow is not None]
        if not flows:
            return
        readable = [flow.readable_name() for flow in flows]
        frame = st.pattern_frame(
            st.CONTINUE_INTERRUPTED,
            interrupted_flow_names=readable,
            interrupted_flow_ids=[flow.id for flow in flows],
            interrupted_flow_options=join_names(readable, "and"),
        )
        top = stack.top
        if top is not None and st.is_user_frame(top) and st.frame_type(top) == st.LINK:
            stack.push_below_top(frame)
        else:
            stack.push(frame)

    def _slot_resets(self, work: Tracker, flow: Flow) -> list[ev.Event]:
        members = (flow, *self.flows.called_flows(flow))
        persisted = {name for member in members for name in member.persisted_slots}
        kept = {
            step.collect
            for member in members
            for step in member.collect_steps
            if not step.reset_after_flow_ends
        }
        to_reset: dict[str, None] = {}
        for member in members:
            for step in member.steps:
                if isinstance(step, CollectStep) and step.reset_after_flow_ends:
                    to_reset[step.collect] = None
                elif isinstance(step, SetSlotsStep):
                    to_reset.update((name, None) for name, _ in step.slots)
        resets: list[ev.Event] = []
        for name in to_reset:
            slot = self.domain.slots.get(name)
            if slot is None or name in persisted or name in kept:
                continue
            resets.append(ev.SlotSet(name=name, value=slot.initial_value, metadata={"reset": True}))
        return resets


class _CircuitBroken(Exception):
    pass


def join_names(names_: Sequence[str], last_word: str) -> str:
    """``a, b and c`` (or ``a, b or c``): how pattern texts list flows."""
    if len(names_) <= 1:
        return "".join(names_)
    return f"{', '.join(names_[:-1])} {last_word} {names_[-1]}"


def _cancel_top_flow_with_error(stack: st.DialogueStack, flows: FlowsList) -> list[ev.Event]:
    """Wind down the top user flow behind a cancel frame and report an internal error."""
    frame = stack.top_user_frame(include_call_link=True)
    if frame is None:
        stack.push(st.pattern_frame(st.INTERNAL_ERROR))
        return []
    flow = flows.get(frame["flow_id"])
    stack.push(
        st.pattern_frame(
            st.CANCEL_FLOW,
            canceled_name=flow.readable_name() if flow is not None else frame["flow_id"],
            canceled_frames=stack.frames_to_cancel(),
        )
    )
    stack.push(st.pattern_frame(st.INTERNAL_ERROR))
    return [ev.FlowCancelled(flow_id=frame["flow_id"], step_id=frame["step_id"])]


def cancel_top_flow_with_error(tracker: Tracker, flows: FlowsList) -> list[ev.Event]:
    """The events that cancel the running flow and push ``pattern_internal_error``: what
    CALM does when a custom action fails."""
    stack = st.DialogueStack(tracker.stack)
    before = stack.snapshot()
    own = _cancel_top_flow_with_error(stack, flows)
    return [*own, *stack.events_since(before)]


def _session_started_for_message(tracker: Tracker) -> bool:
    """Whether the session was (re)started right before the latest user message."""
    seen_user = False
    for event in reversed(tracker.events):
        if isinstance(event, ev.UserUttered):
            if seen_user:
                return False
            seen_user = True
        elif isinstance(event, ev.SessionStarted):
            return True
    return False


def _emit(work: Tracker, events: list[ev.Event], new: Sequence[ev.Event]) -> None:
    events.extend(new)
    work.update_many(new)
