"""A conversation as an e2e test case ``tandem test e2e`` runs: what the inspector saw, so a
bug seen on the page becomes a regression test in one click.

The case is in assertion form, one user step per message, each asserting what its turn did:
the route (``routed_to``, in a coexistence assistant), the user flows started, completed and
cancelled, the slots set (the last value each was given) and every bot message (by its
response name, or its exact text when no response produced it). Assertions pass when some
event of the turn matches, so what the turn did besides is not a failure; the expected
values are all read from the stored events.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml

from tandem import names
from tandem.conversation import events as ev
from tandem.conversation.tracker import Tracker
from tandem.runtime.turn_report import QUIET_SLOTS
from tandem.server.inspect.view import conversation_view, turn_events

# The routing slot is asserted by ``routed_to``, which reads it as the policies saw it.
_NOT_ASSERTED_SLOTS = QUIET_SLOTS | {names.ROUTING_SLOT}


def e2e_test_case(tracker: Tracker, *, name: str) -> str:
    """The YAML of an e2e test file with one test case ``name`` replaying ``tracker``."""
    view = conversation_view(tracker)
    steps = []
    for turn, events in zip(view["turns"], turn_events(tracker.events), strict=True):
        if turn["user"] is None:  # the session start: the test runner does it itself
            continue
        assertions = [*_routing(turn["routing"]), *_flows(events), *_slots(events)]
        assertions += [_bot(event) for event in events if isinstance(event, ev.BotUttered)]
        step: dict[str, Any] = {"user": turn["user"]["text"]}
        if assertions:
            step["assertions"] = assertions
        steps.append(step)
    header = f"# Exported by `tandem inspect` from conversation {tracker.sender_id!r}.\n"
    document = {"test_cases": [{"test_case": _case_name(name), "steps": steps}]}
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def _routing(routing: dict[str, Any] | None) -> list[dict[str, Any]]:
    if routing is None:
        return []
    expected = {"system": routing["system"], "sticky": routing["sticky"], "reset": routing["reset"]}
    return [{"routed_to": expected}]


def _flows(events: Sequence[ev.Event]) -> list[dict[str, Any]]:
    """The user flows the turn started, completed and cancelled (patterns are how CALM
    repairs a conversation, not what the test is about)."""
    result: list[dict[str, Any]] = []
    for event in events:
        if isinstance(event, ev.FlowStarted) and not _pattern(event.flow_id):
            result.append({"flow_started": event.flow_id})
        elif isinstance(event, ev.FlowCompleted) and not _pattern(event.flow_id):
            result.append({"flow_completed": {"flow_id": event.flow_id}})
        elif isinstance(event, ev.FlowCancelled) and not _pattern(event.flow_id):
            result.append({"flow_cancelled": {"flow_id": event.flow_id}})
    return result


def _slots(events: Sequence[ev.Event]) -> list[dict[str, Any]]:
    """Each slot the turn set, with the last value it was given; a reset to None at the end
    of a flow does not hide the value the turn set before it (the assertion matches any of
    the turn's events, and the value is what the turn was about)."""
    last: dict[str, Any] = {}
    for event in events:
        if not isinstance(event, ev.SlotSet) or event.name in _NOT_ASSERTED_SLOTS:
            continue
        if event.value is not None or last.get(event.name) is None:
            last[event.name] = event.value
    if not last:
        return []
    return [{"slot_was_set": [{"name": name, "value": value} for name, value in last.items()]}]


def _bot(event: ev.BotUttered) -> dict[str, Any]:
    if event.utter_action:
        return {"bot_uttered": {"utter_name": event.utter_action}}
    # ``text_matches`` is a regular expression searched in the text: anchored and escaped,
    # it asks for exactly this text.
    return {"bot_uttered": {"text_matches": f"^{re.escape(event.text or '')}$"}}


def _pattern(flow_id: str) -> bool:
    return flow_id.startswith("pattern_")


def _case_name(name: str) -> str:
    return re.sub(r"[^\w-]+", "_", name).strip("_") or "inspected_conversation"
