"""The dialogue stack: frames, the queries the engine asks of them, and their ``stack`` events.

Frames are kept in their serialised form: plain dicts with ``frame_id``,
``type`` and, for flow-like frames, ``flow_id`` and ``step_id``. That is exactly what the
tracker replays from ``stack`` events and what the action server sees, so nothing needs
converting. ``DialogueStack`` is a working copy: the engine changes it and then asks
``update_event`` for the JSON patch from the stack it started from.
"""

from __future__ import annotations

import copy
import json
import secrets
import string
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Required, TypedDict, Unpack, cast

from tandem.conversation import events as ev
from tandem.conversation.json_patch import apply_patch, copy_json, make_patch
from tandem.names import END, NEXT_PREFIX, START


class PatternFields(TypedDict, total=False):
    """The pattern-specific keys of pattern frames (``pattern_frame``'s ``fields``); the
    default patterns read them as ``context.<key>``."""

    # pattern_collect_information
    collect: str
    utter: str
    collect_action: str
    rejections: list[dict[str, Any]]
    # pattern_validate_slot
    validate: str
    refill_utter: str
    refill_action: str
    # pattern_correction
    is_reset_only: bool
    corrected_slots: dict[str, Any]
    reset_flow_id: str | None
    reset_step_id: str | None
    new_slot_values: list[Any]
    # pattern_cancel_flow
    canceled_name: str
    canceled_frames: list[str]
    # pattern_clarification
    names: list[str]
    clarification_options: str
    clarification_ids: list[str]
    # pattern_continue_interrupted
    interrupted_flow_names: list[str]
    interrupted_flow_ids: list[str]
    interrupted_flow_options: str
    multiple_flows_interrupted: bool
    # pattern_completed
    previous_flow_name: str
    # pattern_cannot_handle
    reason: str
    # pattern_internal_error
    error_type: str
    info: dict[str, Any]


class Frame(PatternFields, total=False):
    """One frame in its serialised form. Chitchat and search frames have only ``frame_id``
    and ``type``; flow and pattern frames add ``flow_id`` and ``step_id``, user flow frames
    ``frame_type``."""

    frame_id: Required[str]
    type: Required[str]
    flow_id: str
    step_id: str
    frame_type: str


# ``type`` of user flow frames; pattern frames use their pattern id as type.
FLOW = "flow"
# Frames that are not flow frames (no flow_id / step_id); other policies handle them.
CHITCHAT = "chitchat"
SEARCH = "search"

# ``frame_type`` of user flow frames.
REGULAR = "regular"
INTERRUPT = "interrupt"
LINK = "link"
CALL = "call"

COLLECT_INFORMATION = "pattern_collect_information"
VALIDATE_SLOT = "pattern_validate_slot"
CORRECTION = "pattern_correction"
CANCEL_FLOW = "pattern_cancel_flow"
CLARIFICATION = "pattern_clarification"
CONTINUE_INTERRUPTED = "pattern_continue_interrupted"
COMPLETED = "pattern_completed"
CANNOT_HANDLE = "pattern_cannot_handle"
INTERNAL_ERROR = "pattern_internal_error"
CHITCHAT_PATTERN = "pattern_chitchat"
SEARCH_PATTERN = "pattern_search"
HUMAN_HANDOFF = "pattern_human_handoff"
CODE_CHANGE = "pattern_code_change"

# Extra fields of each pattern frame type, with their defaults, in serialisation order.
_PATTERN_FIELDS: dict[str, dict[str, Any]] = {
    COLLECT_INFORMATION: {"collect": "", "utter": "", "collect_action": "", "rejections": []},
    VALIDATE_SLOT: {"validate": "", "refill_utter": "", "refill_action": "", "rejections": []},
    CORRECTION: {
        "is_reset_only": False,
        "corrected_slots": {},
        "reset_flow_id": None,
        "reset_step_id": None,
        "new_slot_values": [],
    },
    CANCEL_FLOW: {"canceled_name": "", "canceled_frames": []},
    CLARIFICATION: {"names": [], "clarification_options": "", "clarification_ids": []},
    CONTINUE_INTERRUPTED: {
        "interrupted_flow_names": [],
        "interrupted_flow_ids": [],
        "interrupted_flow_options": "",
        "multiple_flows_interrupted": False,
    },
    COMPLETED: {"previous_flow_name": ""},
    CANNOT_HANDLE: {"reason": "cannot_handle_default"},
    INTERNAL_ERROR: {"error_type": "rasa_internal_error_default", "info": {}},
}

NEXT_END = NEXT_PREFIX + END

_ID_ALPHABET = string.ascii_uppercase + string.digits


def new_frame_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def flow_frame(flow_id: str, frame_type: str = REGULAR, step_id: str = START) -> Frame:
    """A user flow frame (also used for patterns reached by ``link``)."""
    return {
        "frame_id": new_frame_id(),
        "flow_id": flow_id,
        "step_id": step_id,
        "frame_type": frame_type,
        "type": FLOW,
    }


def pattern_frame(pattern_id: str, **fields: Unpack[PatternFields]) -> Frame:
    """A pattern frame; unknown ``fields`` are an error, missing ones take their defaults."""
    defaults = _PATTERN_FIELDS.get(pattern_id, {})
    unknown = set(fields) - set(defaults)
    if unknown:
        raise TypeError(f"{pattern_id} frames have no field(s) {sorted(unknown)}")
    values: dict[str, Any] = {"frame_id": new_frame_id(), "flow_id": pattern_id, "step_id": START}
    for name, default in defaults.items():
        values[name] = fields.get(name, copy.deepcopy(default))
    # ``type`` is set last (the serialisation order of the reference's frames).
    frame = cast("Frame", values)
    if pattern_id == CONTINUE_INTERRUPTED:
        frame["multiple_flows_interrupted"] = len(frame["interrupted_flow_names"]) > 1
    if pattern_id == CORRECTION:
        frame["new_slot_values"] = [
            entry.get("value") for entry in frame["corrected_slots"].values()
        ]
    frame["type"] = pattern_id
    return frame


def is_flow_frame(frame: Mapping[str, Any]) -> bool:
    """User flow frames and pattern frames: the frames ``FlowPolicy`` runs."""
    return "flow_id" in frame


def is_user_frame(frame: Mapping[str, Any]) -> bool:
    return frame.get("type") == FLOW


def is_pattern_frame(frame: Mapping[str, Any]) -> bool:
    return str(frame.get("type", "")).startswith("pattern_")


def frame_type(frame: Mapping[str, Any]) -> str:
    return str(frame.get("frame_type") or REGULAR)


def is_ending(frame: Mapping[str, Any]) -> bool:
    return frame.get("step_id") in (END, NEXT_END)


def stack_context(frames: list[Frame]) -> dict[str, Any]:
    """``context`` of conditions and responses: the top frame.

    While a slot is being collected the frame below is merged over the collect pattern's
    frame, so ``context.flow_id`` and ``context.step_id`` name the user flow's collect step.
    """
    if not frames:
        return {}
    top = dict(frames[-1])
    if top.get("type") == COLLECT_INFORMATION and len(frames) > 1:
        top.update(frames[-2])
    return top


class DialogueStack:
    """A working copy of the stack, bottom first. Changing it never touches the tracker."""

    def __init__(self, frames: Iterable[Frame] = ()) -> None:
        self.frames: list[Frame] = copy_json(list(frames))

    def snapshot(self) -> list[Frame]:
        """A deep copy of the frames, to diff against after changing them in place."""
        return copy_json(self.frames)

    def __iter__(self) -> Iterator[Frame]:
        return iter(self.frames)

    def __bool__(self) -> bool:
        return bool(self.frames)

    @property
    def top(self) -> Frame | None:
        return self.frames[-1] if self.frames else None

    def context(self) -> dict[str, Any]:
        return stack_context(self.frames)

    def by_id(self, frame_id: str) -> Frame | None:
        return next((f for f in self.frames if f.get("frame_id") == frame_id), None)

    # -- changes -------------------------------------------------------------------------------

    def push(self, frame: Frame) -> None:
        self.frames.append(frame)

    def push_below_top(self, frame: Frame) -> None:
        """Insert ``frame`` directly below the top frame (links)."""
        self.frames.insert(max(len(self.frames) - 1, 0), frame)

    def pop(self) -> Frame:
        return self.frames.pop()

    def remove(self, frame_id: str) -> None:
        self.frames = [f for f in self.frames if f.get("frame_id") != frame_id]

    def end_top_user_flow(self) -> None:
        """From the top down, wind every flow frame to END, up to the first user flow frame."""
        for frame in reversed(self.frames):
            if not is_flow_frame(frame):
                continue
            frame["step_id"] = NEXT_END
            if is_user_frame(frame):
                return

    # -- queries -------------------------------------------------------------------

    def top_flow_frame(
        self, *, include_collect: bool = False, include_call: bool = False
    ) -> Frame | None:
        """The topmost flow frame, by default skipping collect patterns and called flows."""
        for frame in reversed(self.frames):
            if not is_flow_frame(frame):
                continue
            if frame.get("type") == COLLECT_INFORMATION and not include_collect:
                continue
            if is_user_frame(frame) and frame_type(frame) == CALL and not include_call:
                continue
            return frame
        return None

    def top_user_frame(self, *, include_call_link: bool = False) -> Frame | None:
        """The topmost user flow frame; ``call`` and ``link`` frames only if asked for."""
        for frame in reversed(self.frames):
            if is_user_frame(frame) and (
                include_call_link or frame_type(frame) not in (CALL, LINK)
            ):
                return frame
        return None

    def user_flow_ids(self) -> set[str]:
        return {f["flow_id"] for f in self.frames if is_user_frame(f)}

    def user_frame_of(self, flow_id: str) -> Frame | None:
        """The topmost user flow frame (of any ``frame_type``) running ``flow_id``."""
        return next(
            (f for f in reversed(self.frames) if is_user_frame(f) and f["flow_id"] == flow_id),
            None,
        )

    def is_active(self, pattern_type: str) -> bool:
        """Whether a frame of ``pattern_type`` lies above every user flow frame."""
        for frame in reversed(self.frames):
            if frame.get("type") == pattern_type:
                return True
            if is_user_frame(frame):
                return False
        return False

    def active_user_flows(self) -> list[str]:
        """Flows of user frames from the top down to the first non-``call`` one."""
        found = []
        for frame in reversed(self.frames):
            if is_user_frame(frame):
                found.append(frame["flow_id"])
                if frame_type(frame) != CALL:
                    break
        return found

    def frame_group(self, frame: Frame) -> list[Frame]:
        """``frame`` and every frame above it up to the next regular/interrupt user frame:
        what belongs to that flow (its patterns, links and calls)."""
        start = self.frames.index(frame)
        group = [frame]
        for above in self.frames[start + 1 :]:
            if is_user_frame(above) and frame_type(above) in (REGULAR, INTERRUPT):
                break
            group.append(above)
        return group

    def frames_to_cancel(self) -> list[str]:
        """Ids of the frames a cancellation winds down: from the top down to and including
        the first user flow frame that was not called."""
        ids = []
        for frame in reversed(self.frames):
            ids.append(frame["frame_id"])
            if is_user_frame(frame) and frame_type(frame) != CALL:
                break
        return ids

    def resumable_user_frames(self) -> list[Frame]:
        """Regular/interrupt user frames that have not finished, bottom first."""
        return [
            f
            for f in self.frames
            if is_user_frame(f) and frame_type(f) in (REGULAR, INTERRUPT) and not is_ending(f)
        ]

    def resume(self, flow_id: str) -> Frame | None:
        """Move the frame group of user flow ``flow_id`` to the top.

        Afterwards every regular user frame is an interrupt frame except the lowest user
        frame, which is regular. Returns the resumed frame, or None if the flow is not here.
        """
        frame = self.user_frame_of(flow_id)
        if frame is None:
            return None
        group = self.frame_group(frame)
        ids = {f["frame_id"] for f in group}
        self.frames = [f for f in self.frames if f["frame_id"] not in ids] + group
        user_frames = [
            f for f in self.frames if is_user_frame(f) and frame_type(f) in (REGULAR, INTERRUPT)
        ]
        for index, user_frame in enumerate(user_frames):
            user_frame["frame_type"] = REGULAR if index == 0 else INTERRUPT
        return frame

    # -- events --------------------------------------------------------------------------------

    def update_event(self, before: list[Frame]) -> ev.DialogueStackUpdated | None:
        """The ``stack`` event turning ``before`` into this stack, or None if nothing changed."""
        if before == self.frames:
            return None
        return ev.DialogueStackUpdated(update=json.dumps(make_patch(before, self.frames)))

    def move_top(self, step_id: str) -> list[ev.Event]:
        """Move the top frame to ``step_id``; its ``stack`` event (none if it is there).

        The patch is the one ``update_event`` would compute, written directly: flows move a
        frame on every step, and diffing the whole stack for it was a large part of a turn.
        """
        top = self.frames[-1]
        previous = top["step_id"]
        if type(previous) is not str:
            before = self.snapshot()
            top["step_id"] = step_id
            return self.events_since(before)
        top["step_id"] = step_id
        if previous == step_id:
            return []
        patch = [{"op": "replace", "path": f"/{len(self.frames) - 1}/step_id", "value": step_id}]
        return [ev.DialogueStackUpdated(update=json.dumps(patch))]

    def events_since(self, before: list[Frame]) -> list[ev.Event]:
        """``update_event`` as a list: empty when nothing changed."""
        event = self.update_event(before)
        return [event] if event is not None else []


def stack_history(events: Iterable[ev.Event]) -> list[list[Frame]]:
    """Every stack state ``events`` (applied events of a tracker) went through, oldest first.

    Restarts, session starts and routing resets empty the stack without a patch.
    """
    frames: list[Frame] = []
    states: list[list[Frame]] = []
    for event in events:
        if isinstance(event, (ev.Restarted, ev.SessionStarted, ev.RoutingSessionEnded)):
            frames = []
        elif isinstance(event, ev.DialogueStackUpdated):
            frames = apply_patch(frames, event.update)
            states.append(frames)
    return states
