"""Step-form expectations (``bot``, ``utter``, ``slot_was_set``, ``slot_was_not_set``) against
the bot messages and slot events of one turn.

Order within the turn does not matter and extra messages or slot events are no failure.
Each actual event satisfies at most one expectation, so expecting the same response twice
needs two messages. The result is a diff: ``=`` matched, ``-`` expected but missing (or, for
``slot_was_not_set``, contradicted), ``+`` actual and not expected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from tandem.conversation import events as ev
from tandem.project.errors import Source
from tandem.testing.assertions import SlotExpectation
from tandem.testing.cases import BotStep, Expectation, SlotStep, UtterStep
from tandem.testing.render import bot_line, slot_line

E = TypeVar("E", bound=ev.Event)

NO_BOT_RESPONSE = "* No Bot Response *"
NO_SLOT_SET = "* No Slot Set *"


@dataclass(frozen=True, slots=True)
class DiffLine:
    mark: str  # "=", "-" or "+"
    text: str
    source: Source | None = None  # the expectation's step, for "=" and "-"

    def __str__(self) -> str:
        where = f"  ({self.source})" if self.source is not None and self.mark == "-" else ""
        return f"{self.mark} {self.text}{where}"


@dataclass(frozen=True, slots=True)
class TurnDiff:
    lines: tuple[DiffLine, ...]

    @property
    def first_mismatch(self) -> Source | None:
        return next((line.source for line in self.lines if line.mark == "-"), None)


class _Pool(Generic[E]):
    """The actual events of a kind that no expectation has matched yet."""

    def __init__(self, events: Sequence[ev.Event], kind: type[E]) -> None:
        self.all = [e for e in events if isinstance(e, kind)]
        self.left = list(self.all)

    def take(self, matches: Callable[[E], bool]) -> bool:
        for index, event in enumerate(self.left):
            if matches(event):
                del self.left[index]
                return True
        return False


def check_turn(expectations: Sequence[Expectation], events: Sequence[ev.Event]) -> TurnDiff:
    bots = _Pool(events, ev.BotUttered)
    slots = _Pool(events, ev.SlotSet)
    lines: list[DiffLine] = []
    for step in expectations:
        lines += _slot_lines(step, slots) if isinstance(step, SlotStep) else [_bot(step, bots)]
    lines += [DiffLine("+", bot_line(e)) for e in bots.left]
    lines += [DiffLine("+", slot_line(e)) for e in slots.left]
    if not bots.all and any(isinstance(s, (BotStep, UtterStep)) for s in expectations):
        lines.append(DiffLine("+", NO_BOT_RESPONSE))
    if not slots.all and any(isinstance(s, SlotStep) and s.was_set for s in expectations):
        lines.append(DiffLine("+", NO_SLOT_SET))
    return TurnDiff(tuple(lines))


def _bot(step: BotStep | UtterStep, bots: _Pool[ev.BotUttered]) -> DiffLine:
    if isinstance(step, BotStep):
        found = bots.take(lambda event: event.text == step.text)
        return DiffLine("=" if found else "-", f"bot: {step.text!r}", step.source)
    found = bots.take(lambda event: event.utter_action == step.name)
    return DiffLine("=" if found else "-", f"utter: {step.name}", step.source)


def _slot_lines(step: SlotStep, slots: _Pool[ev.SlotSet]) -> list[DiffLine]:
    return [_slot(step, expected, slots) for expected in step.slots]


def _slot(step: SlotStep, expected: SlotExpectation, slots: _Pool[ev.SlotSet]) -> DiffLine:
    def matches(event: ev.SlotSet) -> bool:
        return event.name == expected.name and expected.accepts(event.value)

    if step.was_set:
        found = slots.take(matches)
        return DiffLine("=" if found else "-", f"slot_was_set: {expected}", step.source)
    # Checked against every slot event of the turn, matched by another step or not.
    mark = "-" if any(matches(event) for event in slots.all) else "="
    return DiffLine(mark, f"slot_was_not_set: {expected}", step.source)
