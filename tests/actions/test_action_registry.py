"""Resolving action names to implementations."""

from __future__ import annotations

import pytest
from actions_testkit import context_for, domain_of, started

from tandem.actions.base import Action
from tandem.actions.custom import RemoteAction
from tandem.actions.defaults import DefaultAction
from tandem.actions.extract_slots import ExtractSlotsAction
from tandem.actions.registry import ActionRegistry, UnknownActionError
from tandem.actions.responses import ResponseAction

DOMAIN = domain_of(
    """
    responses:
      utter_greet: [{text: hi}]
      utter_faq/ask_name: [{text: I am Tandem.}]
    actions: [action_restart, action_lookup]
    forms:
      booking_form: {required_slots: []}
    """
)


class Marker(Action):
    def __init__(self, name: str) -> None:
        self.name = name

    async def run(self, tracker, context):
        return []


def test_defaults_responses_and_custom_actions():
    registry = ActionRegistry(DOMAIN)
    assert isinstance(registry.get("action_listen"), DefaultAction)
    assert isinstance(registry.get("action_extract_slots"), ExtractSlotsAction)
    assert isinstance(registry.get("utter_greet"), ResponseAction)
    assert isinstance(registry.get("utter_faq"), ResponseAction)  # retrieval action
    assert isinstance(registry.get("action_lookup"), RemoteAction)


def test_listing_a_default_action_makes_it_remote():
    action = ActionRegistry(DOMAIN).get("action_restart")
    assert isinstance(action, RemoteAction) and action.name == "action_restart"


def test_utter_actions_listed_under_actions_utter_their_response():
    # Public projects often declare their responses under `actions:` too; the reference
    # utters them and never calls the action server for an `utter_` name.
    domain = domain_of(
        """
        responses:
          utter_greet: [{text: hi}]
          utter_faq/ask_name: [{text: I am Tandem.}]
        actions: [utter_greet, utter_faq, utter_undefined, action_lookup]
        """
    )
    registry = ActionRegistry(domain)
    for name in ("utter_greet", "utter_faq", "utter_undefined"):
        assert isinstance(registry.get(name), ResponseAction), name
        assert not domain.is_custom_action(name)
    assert isinstance(registry.get("action_lookup"), RemoteAction)


def test_registered_names_and_predicates():
    registry = ActionRegistry(DOMAIN)
    registry.register("booking_form", Marker)
    registry.register(lambda name: name.startswith("flow_"), Marker)
    registry.register("action_session_start", Marker)  # a later stage may replace a default
    assert isinstance(registry.get("booking_form"), Marker)
    flow = registry.get("flow_transfer_money")
    assert isinstance(flow, Marker) and flow.name == "flow_transfer_money"
    assert isinstance(registry.get("action_session_start"), Marker)
    # Projects still win: an action listed in the domain runs on the action server.
    registry.register("action_lookup", Marker)
    assert isinstance(registry.get("action_lookup"), RemoteAction)


def test_registering_after_a_lookup_takes_effect():
    registry = ActionRegistry(DOMAIN)
    with pytest.raises(UnknownActionError):
        registry.get("booking_form")
    registry.register("booking_form", Marker)
    assert isinstance(registry.get("booking_form"), Marker)


def test_unknown_names_raise_a_clear_key_error():
    registry = ActionRegistry(DOMAIN)
    with pytest.raises(KeyError, match="No action named 'utter_nothing'"):
        registry.get("utter_nothing")
    assert "utter_greet" in registry
    assert "action_cancel_flow" not in registry  # CALM defaults come from their own stage
    assert "..." not in registry


async def test_resolved_actions_run():
    registry = ActionRegistry(DOMAIN)
    events = await registry.get("utter_greet").run(started(DOMAIN), context_for(DOMAIN))
    assert [e.text for e in events] == ["hi"]
