"""Which ``Action`` runs for an action name.

Resolution order:

1. names listed under the domain's ``actions`` run on the action server (this is also how a
   project overrides a default action), except ``utter_`` names, which are responses;
2. implementations registered by later stages (forms, ``flow_<id>``, CALM patterns), exact
   names before predicates, each group in registration order;
3. the built-in default actions, including ``action_extract_slots``;
4. responses (and retrieval actions ``utter_<retrieval intent>``).
"""

from __future__ import annotations

from collections.abc import Callable

from tandem import names
from tandem.actions.base import Action
from tandem.actions.custom import RemoteAction
from tandem.actions.defaults import default_action
from tandem.actions.extract_slots import ExtractSlotsAction
from tandem.actions.responses import ResponseAction
from tandem.project.domain import Domain

ActionFactory = Callable[[str], Action]
NamePredicate = Callable[[str], bool]


class UnknownActionError(KeyError):
    """No action with this name exists for the domain."""

    def __str__(self) -> str:  # KeyError would show the message's repr
        return str(self.args[0])


class ActionRegistry:
    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        self._named: dict[str, ActionFactory] = {}
        self._matching: list[tuple[NamePredicate, ActionFactory]] = []
        self._resolved: dict[str, Action] = {}

    def register(self, name_or_predicate: str | NamePredicate, factory: ActionFactory) -> None:
        """Provide actions for a name (``"restaurant_form"``) or a family of names
        (``lambda name: name.startswith("flow_")``); ``factory`` gets the name to build."""
        if isinstance(name_or_predicate, str):
            self._named[name_or_predicate] = factory
        else:
            self._matching.append((name_or_predicate, factory))
        self._resolved.clear()

    def get(self, name: str) -> Action:
        action = self._resolved.get(name)
        if action is None:
            action = self._resolved[name] = self._build(name)
        return action

    def __contains__(self, name: object) -> bool:
        try:
            self.get(str(name))
        except UnknownActionError:
            return False
        return True

    def _build(self, name: str) -> Action:
        if self.domain.is_custom_action(name):
            return RemoteAction(name)
        factory = self._named.get(name) or next(
            (factory for matches, factory in self._matching if matches(name)), None
        )
        if factory is not None:
            return factory(name)
        if name == names.ACTION_EXTRACT_SLOTS:
            return ExtractSlotsAction()
        action = default_action(name)
        if action is not None:
            return action
        if name in self.domain.responses or self.domain.is_retrieval_action(name):
            return ResponseAction(name)
        if name.startswith(names.RESPONSE_PREFIX) and name in self.domain.actions:
            return ResponseAction(name)  # declared without a response: utters nothing
        raise UnknownActionError(
            f"No action named '{name}': it is neither a default action, a response, nor listed "
            f"under 'actions' in the domain."
        )
