"""The command processor: turns the latest message's commands into events.

It runs once per user message, after slot extraction and before the policies: stale frames
are dropped, changed flows are detected, the commands are cleaned, reordered and executed.
Executing a command mostly changes the dialogue stack; every change becomes a ``stack``
event, so the policies that follow see the new stack.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tandem import names
from tandem.calm.cleaning import clean_commands
from tandem.conversation import commands as cmd
from tandem.conversation import events as ev
from tandem.conversation import stack as st
from tandem.conversation.tracker import Tracker
from tandem.project.domain import Domain
from tandem.project.flows.model import CollectStep, Flow, FlowsList
from tandem.runtime.assistant import TurnNotes

log = logging.getLogger(__name__)

# Extractors whose SetSlots must belong to a flow that is running or starting.
_CHECKED_EXTRACTORS = frozenset({cmd.LLM, cmd.COMMAND_PAYLOAD_READER, cmd.NLU})


@dataclass
class _Run:
    """What one command sees: the tracker so far, the stack before any command, the flows."""

    tracker: Tracker  # updated after every command
    original: st.DialogueStack  # the stack before the first command ran
    flows: FlowsList
    domain: Domain
    started_flows: tuple[str, ...]  # StartFlow commands of the latest message
    rejections: list[dict[str, Any]] = field(default_factory=list)  # commands that did not run

    def stack(self) -> st.DialogueStack:
        return st.DialogueStack(self.tracker.stack)

    def original_top_user_frame(self, *, include_call_link: bool = False) -> st.Frame | None:
        return self.original.top_user_frame(include_call_link=include_call_link)


class CommandProcessor:
    """CALM's turn stage (``TurnStage``): the events of the latest message's commands."""

    def __init__(
        self, flows: FlowsList, domain: Domain, *, chitchat_available: bool = False
    ) -> None:
        self.flows = flows
        self.domain = domain
        self.chitchat_available = chitchat_available

    async def run(self, tracker: Tracker, notes: TurnNotes) -> list[ev.Event]:
        return self.process(tracker, notes.rejected_commands)

    def process(self, tracker: Tracker, rejected: list[dict[str, Any]]) -> list[ev.Event]:
        """The events of the latest message's commands; ``rejected`` gets the commands that
        do not run and why."""
        work = tracker.copy()
        produced: list[ev.Event] = []

        def emit(events: Sequence[ev.Event]) -> None:
            produced.extend(events)
            work.update_many(events)

        emit(purge_stale_frames(work, self.flows))
        message = work.latest_message
        written = message.parse_data.get("commands", []) if message is not None else []
        commands = cmd.commands_from_dicts(written)
        if flows_changed(work, self.flows):
            rejected.extend(
                cmd.rejection(c, "the flows changed in the conversation") for c in commands
            )
            commands = [cmd.HandleCodeChange()]
        else:
            commands = clean_commands(
                commands,
                work,
                self.flows,
                self.domain,
                chitchat_available=self.chitchat_available,
                rejections=rejected,
            )
        emit(self._flow_hashes_update(work))
        run = _Run(
            tracker=work,
            original=st.DialogueStack(work.stack),
            flows=self.flows,
            domain=self.domain,
            started_flows=tuple(c.flow for c in commands if isinstance(c, cmd.StartFlow)),
            rejections=rejected,
        )
        validations: list[st.Frame] = []
        command_events: list[ev.Event] = []
        for command in reversed(execution_order(commands, run.original)):
            events = _EXECUTORS.get(type(command), _nothing)(command, run)
            command_events.extend(events)
            work.update_many(events)
            validations.extend(self._validation_frames(events))
        if validations:
            stack = run.stack()
            before = stack.snapshot()
            for frame in validations:
                stack.push(frame)
            command_events.extend(stack.events_since(before))
        produced.extend(_last_slot_event_only(command_events))
        return produced

    def _flow_hashes_update(self, tracker: Tracker) -> list[ev.Event]:
        if not tracker.has_slot(names.SLOT_FLOW_HASHES):
            return []
        hashes = self.flows.fingerprints
        if tracker.get_slot(names.SLOT_FLOW_HASHES) == hashes:
            return []
        return [ev.SlotSet(name=names.SLOT_FLOW_HASHES, value=hashes)]

    def _validation_frames(self, events: Sequence[ev.Event]) -> list[st.Frame]:
        """A ``pattern_validate_slot`` frame for each slot set here that has a ``validation``."""
        frames = []
        for event in events:
            if not isinstance(event, ev.SlotSet) or event.metadata.get("reset"):
                continue
            slot = self.domain.slots.get(event.name)
            validation = slot.extra.get("validation") if slot is not None else None
            if not isinstance(validation, dict):
                continue
            refill = validation.get("refill_utter") or f"{names.ASK_RESPONSE_PREFIX}{event.name}"
            frames.append(
                st.pattern_frame(
                    st.VALIDATE_SLOT,
                    validate=event.name,
                    refill_utter=refill,
                    refill_action=f"{names.ASK_ACTION_PREFIX}{event.name}",
                    rejections=list(validation.get("rejections") or []),
                )
            )
        return frames


def flows_changed(tracker: Tracker, flows: FlowsList) -> bool:
    """Whether a running flow was removed or edited since its fingerprint was stored."""
    stored = tracker.get_slot(names.SLOT_FLOW_HASHES)
    if not isinstance(stored, dict):
        return False
    for frame in tracker.stack:
        if not st.is_flow_frame(frame):
            continue
        flow = flows.get(frame["flow_id"])
        if flow is None:
            return True
        if frame["flow_id"] in stored and stored[frame["flow_id"]] != flow.fingerprint:
            return True
    return False


def purge_stale_frames(tracker: Tracker, flows: FlowsList) -> list[ev.Event]:
    """Drop flow frames whose flow or step no longer exists (after a model change)."""
    stack = st.DialogueStack(tracker.stack)
    before = stack.snapshot()
    stack.frames = [
        frame
        for frame in stack.frames
        if not st.is_flow_frame(frame) or _frame_step_exists(frame, flows)
    ]
    return stack.events_since(before)


def _frame_step_exists(frame: st.Frame, flows: FlowsList) -> bool:
    flow = flows.get(frame["flow_id"])
    return flow is not None and flow.step_by_id(frame["step_id"]) is not None


def execution_order(commands: Sequence[cmd.Command], stack: st.DialogueStack) -> list[cmd.Command]:
    """Commands in the order they are listed for execution; they then run in
    reverse, so the first listed ends up on top of the stack.

    With no user flow running, the last StartFlow moves to the end: it is pushed first and
    so sits below everything else (e.g. below a chitchat answer, which runs first).
    """
    ordered = list(commands)
    if stack.top_user_frame() is not None:
        return ordered
    starts = [index for index, c in enumerate(ordered) if isinstance(c, cmd.StartFlow)]
    if starts:
        ordered.append(ordered.pop(starts[-1]))
    return ordered


# -- per-command execution ----------------------------------------------------------

Executor = Callable[[Any, _Run], list[ev.Event]]


def _nothing(command: cmd.Command, run: _Run) -> list[ev.Event]:
    return []


def _remove_patterns_on_top(stack: st.DialogueStack, pattern_type: str) -> list[ev.Event]:
    """If ``pattern_type`` is active, pop the pattern frames above the top user frame,
    each with its ``flow_completed`` event."""
    if not stack.is_active(pattern_type):
        return []
    completed: list[ev.Event] = []
    while stack.top is not None and st.is_pattern_frame(stack.top):
        frame = stack.pop()
        completed.append(ev.FlowCompleted(flow_id=frame["flow_id"], step_id=frame["step_id"]))
    return completed


def _start_flow(command: cmd.StartFlow, run: _Run) -> list[ev.Event]:
    flow = run.flows.get(command.flow)
    if flow is None:
        log.warning("StartFlow of unknown flow '%s' ignored.", command.flow)
        return []
    stack = run.stack()
    before = stack.snapshot()
    current = run.original_top_user_frame()
    completed = _remove_patterns_on_top(stack, st.COMPLETED)
    resuming = stack.is_active(st.CONTINUE_INTERRUPTED)
    if current is not None and current["flow_id"] == flow.id:
        if not resuming:
            return completed + stack.events_since(before)
        completed += _remove_patterns_on_top(stack, st.CONTINUE_INTERRUPTED)
        stack.resume(flow.id)
        return [*completed, _flow_resumed(stack, flow.id), *stack.events_since(before)]
    if current is not None and flow.id in stack.user_flow_ids():
        completed += _remove_patterns_on_top(stack, st.CONTINUE_INTERRUPTED)
        stack.resume(flow.id)
        return [
            *completed,
            _flow_resumed(stack, flow.id),
            *stack.events_since(before),
            ev.FlowInterrupted(flow_id=current["flow_id"], step_id=current["step_id"]),
        ]
    completed += _remove_patterns_on_top(stack, st.CONTINUE_INTERRUPTED)
    interrupted: list[ev.Event] = []
    if current is not None:
        interrupted.append(
            ev.FlowInterrupted(flow_id=current["flow_id"], step_id=current["step_id"])
        )
    stack.push(st.flow_frame(flow.id, st.INTERRUPT if current is not None else st.REGULAR))
    return [*completed, *interrupted, *stack.events_since(before)]


def _flow_resumed(stack: st.DialogueStack, flow_id: str) -> ev.Event:
    frame = stack.top_user_frame()
    step_id = frame["step_id"] if frame is not None and frame["flow_id"] == flow_id else None
    return ev.FlowResumed(flow_id=flow_id, step_id=step_id)


def _set_slot(command: cmd.SetSlot, run: _Run) -> list[ev.Event]:
    slot = run.domain.slots.get(command.name)
    if slot is None:
        return []
    if slot.store(command.value) == run.tracker.get_slot(command.name):
        return []
    is_builtin = command.name in (names.ROUTING_SLOT, names.SLOT_FLOW_HASHES)
    if (
        not is_builtin
        and command.extractor in _CHECKED_EXTRACTORS
        and command.name not in _allowed_slots(run)
        and not _collected_by_starting_flow(command.name, run)
    ):
        run.rejections.append(
            cmd.rejection(command, "no running or starting flow collects the slot")
        )
        return []
    return [ev.SlotSet(name=command.name, value=command.value, filled_by=command.extractor)]


def _allowed_slots(run: _Run) -> set[str]:
    """Slots the running flows may fill now: the not ask-before-filling collect slots of the
    top user flow and of the top flow that was not called, plus the slot a collect or
    validate pattern on top is working on."""
    stack = run.stack()
    allowed: set[str] = set()
    for frame in (
        stack.top_user_frame(include_call_link=True),
        stack.top_user_frame(),
    ):
        flow = run.flows.get(frame["flow_id"]) if frame is not None else None
        if flow is not None:
            allowed |= _fillable_slots(flow, run.flows)
    top = stack.top
    if top is not None and top.get("type") == st.COLLECT_INFORMATION:
        allowed.add(top["collect"])
    if top is not None and top.get("type") == st.VALIDATE_SLOT:
        allowed.add(top["validate"])
    return allowed


def _fillable_slots(flow: Flow, flows: FlowsList) -> set[str]:
    """Slots of ``flow``'s (and its called flows') collect steps that are not ask-before-filling."""
    return {
        step.collect
        for member in (flow, *flows.called_flows(flow))
        for step in member.collect_steps
        if not step.ask_before_filling
    }


def _collected_by_starting_flow(slot: str, run: _Run) -> bool:
    """Whether a flow started by this message (or, without any, a default pattern) fills it."""
    if run.started_flows:
        candidates = [run.flows.get(flow_id) for flow_id in run.started_flows]
    else:
        candidates = list(run.flows.patterns)
    return any(flow is not None and slot in _fillable_slots(flow, run.flows) for flow in candidates)


def _correct_slots(command: cmd.CorrectSlots, run: _Run) -> list[ev.Event]:
    stack = run.stack()
    if not any(st.is_flow_frame(frame) for frame in stack):
        return []
    user_flows = [run.flows.get(f["flow_id"]) for f in stack if st.is_user_frame(f)]
    collected = {
        step.collect for flow in user_flows if flow is not None for step in flow.collect_steps
    }
    if any(slot.name not in collected for slot in command.corrected_slots):
        return []
    changed = [
        slot
        for slot in command.corrected_slots
        if run.tracker.get_slot(slot.name) != run.domain.slots[slot.name].store(slot.value)
    ]
    if not changed:
        return []
    names_ = {slot.name for slot in changed}
    asking = [step for flow in run.flows for step in flow.collect_steps if step.collect in names_]
    reset_flow_id, reset_step_id = _reset_target(names_, run, stack)
    frame = st.pattern_frame(
        st.CORRECTION,
        is_reset_only=all(step.ask_before_filling for step in asking),
        corrected_slots={s.name: {"value": s.value, "filled_by": s.filled_by} for s in changed},
        reset_flow_id=reset_flow_id,
        reset_step_id=reset_step_id,
    )
    before = stack.snapshot()
    top_flow = stack.top_flow_frame()
    if top_flow is not None and top_flow.get("type") == st.CORRECTION:
        index = stack.frames.index(top_flow)
        for above in stack.frames[index:]:
            if st.is_flow_frame(above):
                above["step_id"] = st.NEXT_END
        stack.frames.insert(index, frame)
    else:
        stack.push(frame)
    return stack.events_since(before)


def _reset_target(
    slot_names: set[str], run: _Run, stack: st.DialogueStack
) -> tuple[str | None, str | None]:
    """The collect step the correction rewinds to: the earliest already visited step of the
    top user flow that collects a corrected slot, or the step being asked if it comes earlier."""
    top = stack.top_user_frame()
    if top is None:
        return None, None
    flow = run.flows.get(top["flow_id"])
    if flow is None:
        return None, None
    order = [step for step in flow.collect_steps if step.collect in slot_names]
    visited = _visited_steps(run.tracker, flow.id)
    earliest = next((step for step in order if step.id in visited), None)
    asked = st.DialogueStack(run.tracker.stack).context().get("step_id")
    current = flow.step_by_id(str(asked)) if asked else None
    if (
        isinstance(current, CollectStep)
        and current.collect in slot_names
        and (earliest is None or order.index(current) < order.index(earliest))
    ):
        earliest = current
    if earliest is None:
        return None, None
    return flow.id, earliest.id


def _visited_steps(tracker: Tracker, flow_id: str) -> set[str]:
    """Step ids ``flow_id``'s frames have stood on, as recorded by the stack's history."""
    visited: set[str] = set()
    for frames in st.stack_history(tracker.applied_events()):
        visited.update(
            f["step_id"] for f in frames if st.is_flow_frame(f) and f["flow_id"] == flow_id
        )
    return visited


def _cancel_flow(command: cmd.CancelFlow, run: _Run) -> list[ev.Event]:
    target = run.original_top_user_frame(include_call_link=True)
    if target is None:
        return []
    flow = run.flows.get(target["flow_id"])
    stack = run.stack()
    before = stack.snapshot()
    stack.push(
        st.pattern_frame(
            st.CANCEL_FLOW,
            canceled_name=flow.readable_name() if flow is not None else target["flow_id"],
            canceled_frames=run.original.frames_to_cancel(),
        )
    )
    return [
        ev.FlowCancelled(flow_id=target["flow_id"], step_id=target["step_id"]),
        *stack.events_since(before),
    ]


def _push(pattern_type: str, **fields: Any) -> Executor:
    """An executor pushing one pattern frame (of the command's fields named in ``fields``)."""

    def execute(command: cmd.Command, run: _Run) -> list[ev.Event]:
        stack = run.stack()
        before = stack.snapshot()
        values = {key: getattr(command, attribute) for key, attribute in fields.items()}
        if isinstance(command, cmd.Error):
            values["info"] = dict(command.info)
        stack.push(st.pattern_frame(pattern_type, **values))
        return stack.events_since(before)

    return execute


def _if_user_flow(execute: Executor) -> Executor:
    """Only run ``execute`` when a user flow is running (skip question, code change)."""

    def guarded(command: cmd.Command, run: _Run) -> list[ev.Event]:
        if run.original_top_user_frame() is None:
            return []
        return execute(command, run)

    return guarded


def _clarify(command: cmd.Clarify, run: _Run) -> list[ev.Event]:
    flows = [run.flows.get(option) for option in command.options]
    known = [flow for flow in flows if flow is not None]
    stack = run.stack()
    before = stack.snapshot()
    completed = _remove_patterns_on_top(stack, st.COMPLETED)
    stack.push(
        st.pattern_frame(
            st.CLARIFICATION,
            names=[flow.readable_name() for flow in known],
            clarification_ids=[flow.id for flow in known],
        )
    )
    return [*completed, *stack.events_since(before)]


_EXECUTORS: dict[type[cmd.Command], Executor] = {
    cmd.StartFlow: _start_flow,
    cmd.SetSlot: _set_slot,
    cmd.CorrectSlots: _correct_slots,
    cmd.CancelFlow: _cancel_flow,
    cmd.Clarify: _clarify,
    cmd.ChitChatAnswer: _push(st.CHITCHAT_PATTERN),
    cmd.KnowledgeAnswer: _push(st.SEARCH_PATTERN),
    cmd.SkipQuestion: _if_user_flow(_push("pattern_skip_question")),
    cmd.RepeatBotMessages: _push("pattern_repeat_bot_messages"),
    cmd.CannotHandle: _push(st.CANNOT_HANDLE, reason="reason"),
    cmd.Error: _push(st.INTERNAL_ERROR, error_type="error_type"),
    cmd.Restart: _push("pattern_restart"),
    cmd.SessionStart: _push("pattern_session_start"),
    cmd.SessionEnd: _push("pattern_session_end"),
    cmd.UserSilence: _push("pattern_user_silence"),
    cmd.HandleCodeChange: _if_user_flow(_push(st.CODE_CHANGE)),
    cmd.HumanHandoff: _push(st.HUMAN_HANDOFF),
}


def _last_slot_event_only(events: list[ev.Event]) -> list[ev.Event]:
    """Collapse ``slot`` events of the same slot, keeping the last one where it stands."""
    last = {e.name: i for i, e in enumerate(events) if isinstance(e, ev.SlotSet)}
    return [e for i, e in enumerate(events) if not isinstance(e, ev.SlotSet) or last[e.name] == i]
