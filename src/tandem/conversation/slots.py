"""Slot definitions: types, value coercion, featurisation and mappings.

A ``Slot`` is the immutable definition from the domain; the value lives on the tracker.
Coercion follows the reference: only ``categorical`` and ``list`` slots change the value that is
stored; ``bool`` and ``float`` coercion is applied when featurising or when CALM sets a slot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SLOT_TYPES = ("text", "bool", "categorical", "float", "list", "any")
OTHER_VALUE = "__other__"  # hidden categorical value that stands for "something unknown"

# Mapping types and the keys each accepts besides ``type`` (``conditions`` is common to most).
MAPPING_TYPES: dict[str, frozenset[str]] = {
    "from_entity": frozenset({"entity", "role", "group", "intent", "not_intent", "conditions"}),
    "from_text": frozenset({"intent", "not_intent", "conditions"}),
    "from_intent": frozenset({"value", "intent", "not_intent", "conditions"}),
    "from_trigger_intent": frozenset({"value", "intent", "not_intent", "conditions"}),
    "from_llm": frozenset({"allow_nlu_correction", "conditions", "prompt"}),
    "controlled": frozenset(
        {"run_action_every_turn", "action", "coexistence_system", "conditions"}
    ),
}
NLU_MAPPING_TYPES = frozenset({"from_entity", "from_text", "from_intent", "from_trigger_intent"})


class MISSING:
    """Marker for a key that was not written at all."""


@dataclass(frozen=True, slots=True)
class MappingCondition:
    """One entry of a mapping's ``conditions``; ``None`` fields are not constrained.

    ``active_loop`` uses ``MISSING`` when the key is absent (different from ``null``, which
    means "no loop is active").
    """

    active_loop: str | type[MISSING] | None = MISSING
    requested_slot: str | None = None
    active_flow: str | None = None


@dataclass(frozen=True, slots=True)
class SlotMapping:
    type: str
    entity: str | None = None
    role: str | None = None
    group: str | None = None
    value: Any = None
    intent: tuple[str, ...] = ()
    not_intent: tuple[str, ...] = ()
    conditions: tuple[MappingCondition, ...] = ()
    action: str | None = None  # controlled: run_action_every_turn (legacy ``action``)
    coexistence_system: str | None = None  # controlled: NLU / CALM / SHARED
    allow_nlu_correction: bool = False  # from_llm

    @property
    def is_nlu(self) -> bool:
        return self.type in NLU_MAPPING_TYPES

    def intent_allows(
        self, intent: str | None, extra_excluded: frozenset[str] = frozenset()
    ) -> bool:
        """The mapping's ``intent``/``not_intent`` filter (plus e.g. a form's ignored intents)."""
        if self.intent:
            return intent in self.intent and intent not in self.not_intent
        return intent not in self.not_intent and intent not in extra_excluded

    def as_dict(self) -> dict[str, Any]:
        """The mapping as written in a domain file (for the domain sent to action servers)."""
        data: dict[str, Any] = {"type": self.type}
        for key in ("entity", "role", "group", "value"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if self.intent:
            data["intent"] = list(self.intent)
        if self.not_intent:
            data["not_intent"] = list(self.not_intent)
        if self.conditions:
            data["conditions"] = [_condition_dict(c) for c in self.conditions]
        if self.action is not None:
            data["run_action_every_turn"] = self.action
        if self.coexistence_system is not None:
            data["coexistence_system"] = self.coexistence_system
        if self.allow_nlu_correction:
            data["allow_nlu_correction"] = True
        return data


def _condition_dict(condition: MappingCondition) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if condition.active_loop is not MISSING:
        data["active_loop"] = condition.active_loop
    if condition.requested_slot is not None:
        data["requested_slot"] = condition.requested_slot
    if condition.active_flow is not None:
        data["active_flow"] = condition.active_flow
    return data


@dataclass(frozen=True, slots=True)
class Slot:
    """A slot as declared in the domain."""

    name: str
    type: str
    mappings: tuple[SlotMapping, ...] = ()
    initial_value: Any = None
    influence_conversation: bool = True
    values: tuple[str, ...] = ()  # categorical
    min_value: float = 0.0  # float
    max_value: float = 1.0
    shared_for_coexistence: bool = False
    # Extra keys of the slot definition (custom slot classes, CALM validation blocks, ...).
    extra: Mapping[str, Any] = field(default_factory=dict)

    # -- values -------------------------------------------------------------------------

    def store(self, value: Any) -> Any:
        """The value the tracker holds after a ``slot`` event with ``value``."""
        if value is None:
            return None
        if self.type == "categorical":
            return self._match_category(value)
        if self.type == "list" and not isinstance(value, list):
            return [value] if value else []
        return value

    def coerce(self, value: Any) -> Any:
        """The typed value CALM uses (bool/float parsed); unchanged when not coercible."""
        if value is None:
            return None
        if self.type == "bool":
            parsed = to_bool(value)
            return value if parsed is None else parsed
        if self.type == "float":
            number = to_float(value)
            return value if number is None else number
        return self.store(value)

    def is_valid_value(self, value: Any) -> bool:
        """Whether ``value`` has this slot's type (used by CALM's slot rejections)."""
        if value is None:
            return True
        if self.type == "bool":
            return to_bool(value) is not None
        if self.type == "float":
            return to_float(value) is not None
        if self.type == "categorical" and self.extra.get("strict", False):
            return self._match_category(value) in self.values
        if self.type == "categorical":
            return str(value).lower() in {v.lower() for v in self.values}
        return True

    def _match_category(self, value: Any) -> Any:
        text = str(value)
        if text in self.values:
            return text
        lowered = text.lower()
        for candidate in self.values:
            if candidate.lower() == lowered:
                return candidate
        return value

    # -- featurisation ------------------------------------------------------------------

    def features(self, value: Any) -> tuple[float, ...]:
        """The feature vector policies see for this slot (empty when not featurised)."""
        if not self.influence_conversation or self.type == "any":
            return ()
        if self.type == "text":
            return (1.0,) if value is not None else (0.0,)
        if self.type == "bool":
            parsed = to_bool(value) if value is not None else None
            return (0.0, 0.0) if parsed is None else (1.0, 1.0 if parsed else 0.0)
        if self.type == "float":
            number = to_float(value) if value is not None and not isinstance(value, bool) else None
            if number is None:
                return (0.0, 0.0)
            span = self.max_value - self.min_value
            clipped = min(max(number, self.min_value), self.max_value)
            return (1.0, (clipped - self.min_value) / span if span else 0.0)
        if self.type == "list":
            return (1.0,) if value else (0.0,)
        if self.type == "categorical":
            labels = [*self.values, OTHER_VALUE]
            vector = [0.0] * len(labels)
            if value is not None:
                matched = self._match_category(value)
                index = labels.index(matched) if matched in self.values else len(labels) - 1
                vector[index] = 1.0
            return tuple(vector)
        return ()

    def as_dict(self) -> dict[str, Any]:
        """The slot as written in a domain file (for the domain sent to action servers)."""
        data: dict[str, Any] = {
            "type": self.type,
            "initial_value": self.initial_value,
            "influence_conversation": self.influence_conversation,
            "mappings": [mapping.as_dict() for mapping in self.mappings],
        }
        if self.type == "categorical":
            data["values"] = list(self.values)
        if self.type == "float":
            data["min_value"] = self.min_value
            data["max_value"] = self.max_value
        if self.shared_for_coexistence:
            data["shared_for_coexistence"] = True
        data.update(self.extra)
        return data


def to_bool(value: Any) -> bool | None:
    """The reference's bool coercion: true/false/yes/no, numbers (1 = true), numeric strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value) == 1.0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "yes"):
            return True
        if text in ("false", "no"):
            return False
        number = to_float(text)
        if number is not None:
            return number == 1.0
    return None


def to_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
