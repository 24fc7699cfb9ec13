"""Actions served by a real rasa-sdk action server in ``test_action_server_client.py``.

Loaded by ``python -m rasa_sdk --actions sdk_test_actions``; never imported by the tests.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import ActionExecutionRejection


class ActionGreetByName(Action):
    """Answers with a domain response filled by kwargs, a plain message and a slot."""

    def name(self) -> str:
        return "action_greet_by_name"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
        dispatcher.utter_message(
            response="utter_hello", name="Ann", buttons=[{"title": "More", "payload": "/more"}]
        )
        dispatcher.utter_message(text=f"you said: {tracker.latest_message.get('text')}")
        return [
            SlotSet("city", "Berlin"),
            # What the server saw of our request, echoed back for the test to check.
            SlotSet(
                "seen",
                {
                    "sender_id": tracker.sender_id,
                    "slot_city": tracker.get_slot("city"),
                    "events": len(tracker.events),
                    "forms": sorted(domain.get("forms", {})),
                    "responses": sorted(domain.get("responses", {})),
                },
            ),
        ]


class ActionReject(Action):
    def name(self) -> str:
        return "action_reject"

    def run(self, dispatcher, tracker, domain):
        raise ActionExecutionRejection(self.name(), "not now")


class ActionCrash(Action):
    def name(self) -> str:
        return "action_crash"

    def run(self, dispatcher, tracker, domain):
        raise RuntimeError("boom")


class ActionUnknownEvent(Action):
    def name(self) -> str:
        return "action_unknown_event"

    def run(self, dispatcher, tracker, domain):
        return [{"event": "no_such_event"}]


class ActionSlotWithoutValue(Action):
    def name(self) -> str:
        return "action_slot_without_value"

    def run(self, dispatcher, tracker, domain):
        return [{"event": "slot", "name": "city"}]


class ValidateRestaurantForm(FormValidationAction):
    def name(self) -> str:
        return "validate_restaurant_form"

    def validate_city(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        if str(value).lower() == "atlantis":
            dispatcher.utter_message(text="Atlantis is not a real city.")
            return {"city": None}
        return {"city": str(value).title()}
