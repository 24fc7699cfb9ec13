"""Command cleaning and how generators combine their commands.

Generators say what a message means without looking closely at the conversation; cleaning
makes their commands fit it before they run: a new value for a slot that was filled earlier
becomes a correction, a command the dialogue cannot act on becomes ``CannotHandle``, free-form
answers move to the front (so their pattern ends up on top of the stack and answers first),
and duplicates go. The code-change check that precedes cleaning belongs to the command
processor.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import Any

from tandem.conversation.commands import (
    A2A_CLIENT,
    CANNOT_HANDLE_CHITCHAT,
    COMMAND_PAYLOAD_READER,
    LLM,
    NLU,
    CancelFlow,
    CannotHandle,
    ChitChatAnswer,
    Clarify,
    Command,
    CorrectedSlot,
    CorrectSlots,
    KnowledgeAnswer,
    RepeatBotMessages,
    SetSlot,
    StartFlow,
    rejection,
)
from tandem.conversation.slots import NLU_MAPPING_TYPES, Slot
from tandem.conversation.stack import (
    CHITCHAT_PATTERN,
    COLLECT_INFORMATION,
    CONTINUE_INTERRUPTED,
    DialogueStack,
)
from tandem.conversation.tracker import Tracker
from tandem.names import ACTION_TRIGGER_CHITCHAT, ROUTING_SLOT
from tandem.project.domain import Domain
from tandem.project.flows.model import ActionStep, FlowsList

# With this environment variable set to "true", several flow starts in an empty conversation
# become one question about which of them the user means.
CLARIFY_ON_MULTIPLE_START_FLOWS = "CLARIFY_ON_MULTIPLE_START_FLOWS"

# Free-text CannotHandle reasons; the cannot-handle pattern treats them like the default.
UNKNOWN_SLOT_REASON = "The slot predicted by the LLM is not defined in the domain."
SLOT_NOT_SETTABLE_REASON = "The slot's mappings do not let this extractor set it."
NO_ACTIVE_FLOW_REASON = "CancelFlowCommand was predicted but no flows are active."

FROM_LLM = "from_llm"
CONTROLLED_MAPPING_TYPES = frozenset({"controlled", "custom"})  # "custom": deprecated alias

# Commands of which cleaning keeps only the first.
_AT_MOST_ONCE = (CannotHandle, RepeatBotMessages, ChitChatAnswer)


def should_slot_be_set(slot: Slot, command: SetSlot, clean_so_far: Sequence[Command]) -> bool:
    """Whether ``slot``'s mappings let ``command``'s extractor fill it.

    LLM values are refused for NLU-only slots and NLU values for LLM-only slots; nobody may
    set controlled-only slots by command; and an LLM value does not override an NLU value
    predicted for the same message.
    """
    if command.extractor in (COMMAND_PAYLOAD_READER, A2A_CLIENT):
        return True
    types = {mapping.type for mapping in slot.mappings} or {FROM_LLM}
    has_nlu = bool(types & NLU_MAPPING_TYPES)
    llm_ok = FROM_LLM in types
    earlier = [c for c in clean_so_far if isinstance(c, SetSlot) and c.name == slot.name]
    if earlier and command.extractor == LLM:
        return llm_ok and all(c.extractor != NLU for c in earlier)
    if has_nlu and command.extractor == LLM and not llm_ok:
        return False
    if llm_ok and command.extractor == NLU and not has_nlu:
        return False
    return has_nlu or llm_ok or not types & CONTROLLED_MAPPING_TYPES


def clean_commands(
    commands: Sequence[Command],
    tracker: Tracker,
    flows: FlowsList,
    domain: Domain,
    *,
    chitchat_available: bool = False,
    rejections: list[dict[str, Any]] | None = None,
) -> list[Command]:
    """``commands`` made fit for the current conversation.

    ``chitchat_available``: an IntentlessPolicy is configured and has responses to use, so a
    ``pattern_chitchat`` that runs ``action_trigger_chitchat`` can answer. ``rejections``,
    if given, gets a ``rejection`` for each command dropped or replaced.
    """
    found = [] if rejections is None else rejections
    return _Cleaning(commands, tracker, flows, domain, chitchat_available, found).run()


class _Cleaning:
    """One cleaning pass: the per-command rules build ``clean``, then post-processing."""

    def __init__(
        self,
        commands: Sequence[Command],
        tracker: Tracker,
        flows: FlowsList,
        domain: Domain,
        chitchat_available: bool,
        rejections: list[dict[str, Any]],
    ) -> None:
        self.commands = commands
        self.tracker = tracker
        self.flows = flows
        self.domain = domain
        self.chitchat_available = chitchat_available
        self.stack = DialogueStack(tracker.stack)
        self.clean: list[Command] = []
        self.rejections = rejections

    def _reject(self, command: Command, reason: str) -> None:
        self.rejections.append(rejection(command, reason))

    def run(self) -> list[Command]:
        for command in self.commands:
            if isinstance(command, SetSlot):
                self._set_slot(command)
            elif isinstance(command, CancelFlow):
                self._cancel_flow(command)
            elif isinstance(command, CannotHandle):
                if not any(isinstance(c, CannotHandle) for c in self.clean):
                    self.clean.append(command)
            elif isinstance(command, StartFlow):
                self._start_flow(command)
            elif isinstance(command, ChitChatAnswer):
                if not self._chitchat_can_answer:
                    self._reject(command, "pattern_chitchat has no chitchat answer to give")
                self.clean.insert(0, command if self._chitchat_can_answer else _CHITCHAT_REFUSAL)
            elif isinstance(command, KnowledgeAnswer):
                self.clean.insert(0, command)
            elif isinstance(command, Clarify):
                self._clarify(command)
            else:
                self.clean.append(command)
        return self._post_processed()

    # -- per-command rules ---------------------------------------------------------------------

    def _set_slot(self, command: SetSlot) -> None:
        slot = self.domain.slots.get(command.name)
        if slot is None:
            self._reject(command, "the domain has no such slot")
            self.clean.append(CannotHandle(UNKNOWN_SLOT_REASON))
            return
        if not should_slot_be_set(slot, command, self.clean):
            self._reject(command, f"the slot's mappings do not let the {command.extractor} set it")
            if not any(isinstance(c, SetSlot) and c.name == slot.name for c in self.clean):
                self._add_unless_present(CannotHandle(SLOT_NOT_SETTABLE_REASON))
            return
        if self._keeps_nlu_value(slot, command):
            self._reject(command, "the NLU filled the slot and no mapping allows_nlu_correction")
            return
        if command.name not in self._correctable or command.name == ROUTING_SLOT:
            self.clean.append(command)
        elif command.name == self._asked_slot:
            self.clean.append(command)  # the answer to the question being asked
        elif str(command.value) != str(self.tracker.get_slot(command.name)):
            self._correct(command)
        else:
            self._reject(command, "the slot holds this value already")

    def _keeps_nlu_value(self, slot: Slot, command: SetSlot) -> bool:
        """An LLM may only overwrite an NLU-filled value if a mapping allows it."""
        return (
            command.extractor == LLM
            and self.tracker.slot_filled_by(slot.name) == NLU
            and not any(m.type == FROM_LLM and m.allow_nlu_correction for m in slot.mappings)
        )

    def _correct(self, command: SetSlot) -> None:
        """Add the slot to the one ``CorrectSlots`` of ``clean``, creating it here if needed."""
        corrected = CorrectedSlot(command.name, command.value, command.extractor)
        for index, existing in enumerate(self.clean):
            if isinstance(existing, CorrectSlots):
                self.clean[index] = CorrectSlots((*existing.corrected_slots, corrected))
                return
        self.clean.append(CorrectSlots((corrected,)))

    def _cancel_flow(self, command: CancelFlow) -> None:
        if self.stack.context().get("flow_id") is None:
            self._reject(command, "no flow is active")
            self._add_unless_present(CannotHandle(NO_ACTIVE_FLOW_REASON))
        else:
            self._add_unless_present(CancelFlow())

    def _start_flow(self, command: StartFlow) -> None:
        """Starting the flow that is already running is a no-op, unless the user is being
        asked whether to continue an interrupted flow (then it is the answer)."""
        top = self.stack.top_user_frame(include_call_link=True)
        if (
            top is not None
            and top["flow_id"] == command.flow
            and not self.stack.is_active(CONTINUE_INTERRUPTED)
        ):
            self._reject(command, "the flow is running already")
            return
        self.clean.append(command)

    def _clarify(self, command: Clarify) -> None:
        """A lone Clarify stands; among other commands it is dropped, and of several Clarify
        commands only the first is kept."""
        if len(self.commands) <= 1:
            self.clean.append(command)
            return
        only_clarify = all(
            isinstance(c, Clarify) for c in self.commands if not _is_routing_command(c)
        )
        if only_clarify and all(_is_routing_command(c) for c in self.clean):
            self.clean.append(command)
        else:
            self._reject(command, "a clarification only stands alone")

    def _add_unless_present(self, command: Command) -> None:
        if command not in self.clean:
            self.clean.append(command)

    @cached_property
    def _chitchat_can_answer(self) -> bool:
        pattern = self.flows.get(CHITCHAT_PATTERN)
        if pattern is None:
            return False
        triggers_intentless = any(
            isinstance(step, ActionStep) and step.action == ACTION_TRIGGER_CHITCHAT
            for step in pattern.steps
        )
        return self.chitchat_available or not triggers_intentless

    @cached_property
    def _correctable(self) -> frozenset[str]:
        """Slots set earlier in the conversation that hold a value: new values correct them."""
        set_before = self.tracker.slots_in_events()
        return frozenset(name for name in set_before if self.tracker.get_slot(name) is not None)

    @cached_property
    def _asked_slot(self) -> str | None:
        """The slot of the collect step being asked, i.e. of a collect pattern on top."""
        top = self.stack.top
        return top.get("collect") if top and top.get("type") == COLLECT_INFORMATION else None

    # -- post-processing -----------------------------------------------------------------------

    def _post_processed(self) -> list[Command]:
        clean = self.clean
        starts = [c for c in clean if isinstance(c, StartFlow)]
        if _clarify_multiple_starts() and not self.stack and len(starts) > 1:
            clean = [c for c in clean if not isinstance(c, StartFlow)]
            if not any(isinstance(c, Clarify) for c in clean):
                clean.append(Clarify(tuple(start.flow for start in starts)))
        clean = _first_of_each(clean, _AT_MOST_ONCE)
        # A CannotHandle is only worth it when nothing else was understood; in coexistence
        # the routing SetSlot comes with every message, hence the higher threshold.
        if len(clean) > (2 if self.domain.has_routing_slot else 1):
            for command in clean:
                if isinstance(command, CannotHandle):
                    self._reject(command, "other commands were understood")
            clean = [c for c in clean if not isinstance(c, CannotHandle)]
        return clean


_CHITCHAT_REFUSAL = CannotHandle(CANNOT_HANDLE_CHITCHAT)


def _is_routing_command(command: Command) -> bool:
    return isinstance(command, SetSlot) and command.name == ROUTING_SLOT


def _clarify_multiple_starts() -> bool:
    return os.environ.get(CLARIFY_ON_MULTIPLE_START_FLOWS, "false").strip().lower() == "true"


def _first_of_each(commands: Iterable[Command], kinds: tuple[type[Command], ...]) -> list[Command]:
    """``commands`` keeping only the first command of each of ``kinds``."""
    seen: set[type[Command]] = set()
    kept = []
    for command in commands:
        kind = next((k for k in kinds if isinstance(command, k)), None)
        if kind in seen:
            continue
        if kind is not None:
            seen.add(kind)
        kept.append(command)
    return kept


# -- merging with the commands of earlier generators ---------------------------------


def merge_nlu_commands(prior: Sequence[Command], nlu_commands: Sequence[Command]) -> list[Command]:
    """NLU wins: prior commands for slots the NLU commands set go, and so do prior flow
    starts when the NLU commands start a flow; the NLU commands come last."""
    nlu_slots = _slots_set(nlu_commands)
    nlu_starts = any(isinstance(c, StartFlow) for c in nlu_commands)
    kept = [
        c
        for c in prior
        if not (isinstance(c, SetSlot) and c.name in nlu_slots)
        and not (nlu_starts and isinstance(c, StartFlow))
    ]
    return [*kept, *nlu_commands]


def merge_llm_commands(prior: Sequence[Command], llm_commands: Sequence[Command]) -> list[Command]:
    """Prior wins: LLM values for slots the prior commands set go, and so do LLM flow starts
    when the prior commands start a flow; the LLM commands come last."""
    prior_slots = _slots_set(prior)
    prior_starts = any(isinstance(c, StartFlow) for c in prior)
    merged = list(prior)
    for command in llm_commands:
        if isinstance(command, SetSlot) and command.name in prior_slots:
            continue
        if isinstance(command, StartFlow) and prior_starts:
            continue
        if isinstance(command, CorrectSlots):
            kept = tuple(s for s in command.corrected_slots if s.name not in prior_slots)
            if not kept:
                continue
            command = CorrectSlots(kept)
        merged.append(command)
    return merged


def _slots_set(commands: Iterable[Command]) -> set[str]:
    """Slots that ``commands`` set, directly or as corrections."""
    names: set[str] = set()
    for command in commands:
        if isinstance(command, SetSlot):
            names.add(command.name)
        elif isinstance(command, CorrectSlots):
            names.update(s.name for s in command.corrected_slots)
    return names
