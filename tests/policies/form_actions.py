"""Actions for the form tests, served by a real rasa-sdk server (``test_forms.py``).

Loaded by ``python -m rasa_sdk --actions form_actions``; never imported by the tests.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher

BRANCHES = {"downtown": "Downtown", "harbour": "Harbour"}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")


class ValidateAppointmentForm(FormValidationAction):
    """Names branches properly, refuses unknown ones and weekend days."""

    def name(self) -> str:
        return "validate_appointment_form"

    def validate_branch(self, value: Any, dispatcher: CollectingDispatcher, tracker, domain):
        branch = BRANCHES.get(str(value).lower())
        if branch is None:
            dispatcher.utter_message(response="utter_unknown_branch")
        return {"branch": branch}

    def validate_day(self, value: Any, dispatcher: CollectingDispatcher, tracker, domain):
        day = str(value).lower()
        if day not in WEEKDAYS:
            dispatcher.utter_message(response="utter_closed")
            return {"day": None}
        return {"day": day.capitalize()}


class ActionAskTopic(Action):
    """Asks for the topic itself, naming the branch the form has validated."""

    def name(self) -> str:
        return "action_ask_topic"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain):
        dispatcher.utter_message(text=f"What shall {tracker.get_slot('branch')} prepare?")
        return []
