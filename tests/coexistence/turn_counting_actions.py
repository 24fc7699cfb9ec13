"""Custom actions of test_slot_systems.py, served by a real rasa-sdk action server: each
counts the turns of one system into its slot.

Loaded by ``python -m rasa_sdk --actions turn_counting_actions``; never imported by tests.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher


class _CountTurns(Action):
    slot = ""

    def name(self) -> str:
        return f"action_count_{self.slot}"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        return [SlotSet(self.slot, (tracker.get_slot(self.slot) or 0) + 1)]


class CountCalmTurns(_CountTurns):
    slot = "calm_turns"


class CountNluTurns(_CountTurns):
    slot = "nlu_turns"
