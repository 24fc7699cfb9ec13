"""The domain: what an assistant knows about (intents, entities, slots, responses, actions, forms).

Built by ``tandem.project.domain_files`` from one file or a directory of files; immutable
once built. Lookups the runtime needs on every turn (action index, used entities) are
computed once here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from tandem import names
from tandem.conversation.slots import Slot
from tandem.project.errors import Source


@dataclass(frozen=True, slots=True)
class IntentConfig:
    # True = every entity, False = none, or the names of the entities to use.
    use_entities: bool | tuple[str, ...] = True
    ignore_entities: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EntityConfig:
    roles: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    influence_conversation: bool = True


@dataclass(frozen=True, slots=True)
class Form:
    required_slots: tuple[str, ...] = ()
    ignored_intents: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SessionConfig:
    session_expiration_time: float = 60.0  # minutes; 0 = sessions never expire
    carry_over_slots_to_new_session: bool = True
    start_session_after_expiry: bool = True

    @property
    def sessions_enabled(self) -> bool:
        return self.session_expiration_time > 0


@dataclass(frozen=True)
class Domain:
    intents: Mapping[str, IntentConfig] = field(default_factory=dict)
    entities: Mapping[str, EntityConfig] = field(default_factory=dict)
    slots: Mapping[str, Slot] = field(default_factory=dict)
    responses: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)
    # Custom actions (and overridden default actions) in the order they were declared.
    actions: tuple[str, ...] = ()
    send_domain_actions: frozenset[str] = frozenset()
    forms: Mapping[str, Form] = field(default_factory=dict)
    session_config: SessionConfig = field(default_factory=SessionConfig)
    store_entities_as_slots: bool = True
    # Flow ids of the project (each flow is also the action ``flow_<id>``).
    flow_ids: tuple[str, ...] = ()
    # Where each declaration was written, keyed "<kind>:<name>" (e.g. "slot:city").
    sources: Mapping[str, Source] = field(default_factory=dict, compare=False)

    # -- actions --------------------------------------------------------------------------

    @cached_property
    def action_names(self) -> tuple[str, ...]:
        """The action index: defaults, custom actions, responses, forms, flow actions."""
        seen: set[str] = set()
        ordered: list[str] = []
        groups = (
            names.DEFAULT_ACTIONS,
            self.actions,
            sorted(self._response_actions),
            tuple(self.forms),
            tuple(names.FLOW_ACTION_PREFIX + flow_id for flow_id in self.flow_ids),
        )
        for group in groups:
            for name in group:
                if name not in seen:
                    seen.add(name)
                    ordered.append(name)
        return tuple(ordered)

    @cached_property
    def _response_actions(self) -> set[str]:
        """``utter_`` responses, and for ``utter_faq/<key>`` also the retrieval action
        ``utter_faq`` that stories and rules predict."""
        uttered = {r for r in self.responses if r.startswith(names.RESPONSE_PREFIX)}
        return uttered | {r.split("/", 1)[0] for r in uttered if "/" in r}

    @cached_property
    def action_index(self) -> Mapping[str, int]:
        return {name: index for index, name in enumerate(self.action_names)}

    def is_custom_action(self, name: str) -> bool:
        """Declared under ``actions``: runs on the action server (a form listed there is
        implemented by the action server instead of the built-in form action).

        ``utter_`` names are the exception: the reference always utters their response, so
        projects list them under ``actions`` only to declare them.
        """
        return name in self._custom_actions

    @cached_property
    def _custom_actions(self) -> frozenset[str]:
        return frozenset(a for a in self.actions if not a.startswith(names.RESPONSE_PREFIX))

    def is_retrieval_action(self, name: str) -> bool:
        """``utter_faq`` when responses ``utter_faq/<key>`` exist: it utters the response the
        response selector chose."""
        prefix = name + "/"
        return name.startswith(names.RESPONSE_PREFIX) and any(
            response.startswith(prefix) for response in self.responses
        )

    def has_action(self, name: str) -> bool:
        return name in self.action_index or name in self.responses

    # -- slots and entities ---------------------------------------------------------------

    def used_entities(self, intent: str | None) -> frozenset[str]:
        """Entity labels (with ``#role``/``#group`` variants) featurised for ``intent``."""
        return self._used_entities.get(intent or "", self._all_entity_labels)

    @cached_property
    def _all_entity_labels(self) -> frozenset[str]:
        return frozenset(label for entity in self.entities for label in self._labels(entity))

    @cached_property
    def _used_entities(self) -> Mapping[str, frozenset[str]]:
        default_ignored = {e for e, cfg in self.entities.items() if not cfg.influence_conversation}
        result = {}
        for intent, config in self.intents.items():
            if config.use_entities is True:
                included = set(self.entities)
            elif config.use_entities is False:
                included = set()
            else:
                included = set(config.use_entities)
            ignored = set(config.ignore_entities) | (
                default_ignored if config.use_entities is True else set()
            )
            result[intent] = frozenset(
                label for entity in included - ignored for label in self._labels(entity)
            )
        return result

    def _labels(self, entity: str) -> list[str]:
        config = self.entities.get(entity, EntityConfig())
        return [
            entity,
            *(f"{entity}#{r}" for r in config.roles),
            *(f"{entity}#{g}" for g in config.groups),
        ]

    @property
    def has_routing_slot(self) -> bool:
        return names.ROUTING_SLOT in self.slots

    # -- wire form ------------------------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        """The domain as the reference sends it to action servers (and writes into models)."""
        session = self.session_config
        intents: list[Any] = []
        for name, config in self.intents.items():
            props: dict[str, Any] = {
                "use_entities": config.use_entities
                if isinstance(config.use_entities, bool)
                else list(config.use_entities)
            }
            if config.ignore_entities:
                props["ignore_entities"] = list(config.ignore_entities)
            intents.append({name: props})
        entities: list[Any] = []
        for name, entity in self.entities.items():
            if entity.roles or entity.groups or not entity.influence_conversation:
                entity_props: dict[str, Any] = {}
                if entity.roles:
                    entity_props["roles"] = list(entity.roles)
                if entity.groups:
                    entity_props["groups"] = list(entity.groups)
                if not entity.influence_conversation:
                    entity_props["influence_conversation"] = False
                entities.append({name: entity_props})
            else:
                entities.append(name)
        return {
            "version": "3.1",
            "intents": intents,
            "entities": entities,
            "slots": {name: slot.as_dict() for name, slot in self.slots.items()},
            "responses": {
                name: [dict(v) for v in variations] for name, variations in self.responses.items()
            },
            "actions": [
                {a: {"send_domain": True}} if a in self.send_domain_actions else a
                for a in self.actions
            ],
            "forms": {
                name: {
                    "required_slots": list(form.required_slots),
                    "ignored_intents": list(form.ignored_intents),
                }
                for name, form in self.forms.items()
            },
            "session_config": {
                "session_expiration_time": session.session_expiration_time,
                "carry_over_slots_to_new_session": session.carry_over_slots_to_new_session,
            },
            "config": {"store_entities_as_slots": self.store_entities_as_slots},
        }
