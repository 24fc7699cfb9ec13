"""Which system a turn of a coexistence assistant belongs to: the one place that reads the
routing slot ``route_session_to_calm`` for the routers, the command generators, the policies,
slot extraction and failure handling.

An assistant is a coexistence assistant when its domain declares the routing slot. The slot
is the session's route once set (True: CALM, False: the NLU-based system); while it is unset
the session is undecided and the router's commands on the message decide.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tandem.conversation.commands import Command, Noop, SetSlot
from tandem.conversation.slots import Slot, to_bool
from tandem.conversation.tracker import Tracker
from tandem.names import ROUTING_SLOT

# Where a message goes: to CALM (sticky), to the NLU-based system for the session, or to the
# NLU-based system for this turn only.
CALM = "calm"
NLU_STICKY = "nlu_sticky"
NLU_NON_STICKY = "nlu_non_sticky"


@dataclass(frozen=True)
class RoutingVerdict:
    """Where a message of an undecided (or decided) session goes, and why."""

    route: str  # CALM, NLU_STICKY or NLU_NON_STICKY
    reason: str

    @classmethod
    def of_routing_value(cls, value: bool | None, reason: str) -> RoutingVerdict:
        """The verdict a ``set slot`` of the routing slot to ``value`` stands for."""
        route = CALM if value else NLU_NON_STICKY if value is None else NLU_STICKY
        return cls(route, reason)

    def as_dict(self, router: str) -> dict[str, Any]:
        """The verdict as the user event's ``metadata["routing"]`` records it."""
        return {
            "router": router,
            "system": "calm" if self.route == CALM else "nlu",
            "sticky": self.route != NLU_NON_STICKY,
            "reason": self.reason,
        }


def is_coexistence(tracker: Tracker) -> bool:
    """Whether the conversation's assistant routes between two systems."""
    return tracker.has_slot(ROUTING_SLOT)


def session_route(tracker: Tracker) -> bool | None:
    """The routing session's system: True for CALM, False for the NLU-based system, None
    while undecided (or without routing)."""
    value = tracker.get_slot(ROUTING_SLOT) if is_coexistence(tracker) else None
    return None if value is None else to_bool(value)


def routed_to_calm(tracker: Tracker) -> bool:
    """Whether the routing slot sends the conversation to CALM."""
    return session_route(tracker) is True


def calm_abstains(tracker: Tracker) -> bool:
    """Whether CALM's policies and failure handling keep out: the assistant routes and the
    session is the NLU system's or undecided."""
    return is_coexistence(tracker) and not routed_to_calm(tracker)


def routing_command(commands: Sequence[Command]) -> SetSlot | None:
    """The message's command that sets the routing slot, if any."""
    return next((c for c in commands if isinstance(c, SetSlot) and c.name == ROUTING_SLOT), None)


def handled_by_nlu(tracker: Tracker | None, commands: Sequence[Command]) -> bool:
    """Whether the NLU system owns this message, so command generators must leave it alone.

    The routing slot decides once set; while it is undecided, the router's commands on the
    message (``commands``) do: a lone ``Noop`` is a one-turn hand-off to the NLU system.
    Without a tracker or routing every message is CALM's.
    """
    if tracker is None or not is_coexistence(tracker):
        return False
    route = session_route(tracker)
    if route is not None:
        return not route
    if len(commands) == 1 and isinstance(commands[0], Noop):
        return True
    decision = routing_command(commands)
    return decision is not None and not decision.value


def is_calm_turn(tracker: Tracker) -> bool:
    """Whether the latest message carries a command other than ``noop`` and the routing
    ``set slot``: CALM handles this turn."""
    message = tracker.latest_message
    return message is not None and any(
        not _is_routing_command(command) for command in message.commands
    )


def _is_routing_command(command: Mapping[str, Any]) -> bool:
    kind = command.get("command")
    return kind == "noop" or (kind == "set slot" and command.get("name") == ROUTING_SLOT)


def fill_in_this_system(slot: Slot, calm_turn: bool, calm_slot_names: Collection[str]) -> bool:
    """Whether slot mappings may fill ``slot`` in this turn: a shared slot always, CALM's
    slots (those its flows collect, or with a ``controlled`` CALM mapping) only in CALM's
    turns, the others only in the NLU system's."""
    if slot.shared_for_coexistence:
        return True
    systems = {m.coexistence_system for m in slot.mappings if m.type == "controlled"}
    if not calm_turn and (slot.name in calm_slot_names or "CALM" in systems):
        return False
    return not (calm_turn and (slot.name not in calm_slot_names or "NLU" in systems))
