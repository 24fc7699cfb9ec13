"""The custom action of the fault tests' assistant, served by a real rasa-sdk action server.

Loaded by ``python -m rasa_sdk --actions deployment_actions``; never imported by the tests.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher


class ActionTellOpeningHours(Action):
    def name(self) -> str:
        return "action_tell_opening_hours"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(response="utter_opening_hours")
        return []
