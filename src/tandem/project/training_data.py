"""Training data: NLU examples, synonyms, regexes, lookup tables, stories and rules.

Plain immutable values; ``tandem.project.data_files`` reads them from YAML.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tandem.conversation.events import Event
from tandem.conversation.parse_data import EntityPrediction
from tandem.project.errors import Source

_NOWHERE = Source("<unknown>", 0)


@dataclass(frozen=True, slots=True)
class EntityAnnotation:
    """An entity in a training example; ``start``/``end`` are offsets into the plain text."""

    entity: str
    value: Any
    start: int
    end: int
    role: str | None = None
    group: str | None = None

    def as_dict(self) -> EntityPrediction:
        """The entity as the NLU gives it in parse data."""
        data: EntityPrediction = {
            "entity": self.entity,
            "start": self.start,
            "end": self.end,
            "value": self.value,
        }
        if self.role is not None:
            data["role"] = self.role
        if self.group is not None:
            data["group"] = self.group
        return data


@dataclass(frozen=True, slots=True)
class NluExample:
    text: str  # annotations removed
    intent: str | None
    entities: tuple[EntityAnnotation, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    source: Source = _NOWHERE


@dataclass(frozen=True, slots=True)
class NluData:
    examples: tuple[NluExample, ...] = ()
    # Entity text as written -> canonical value (explicit synonyms and annotated ones); the
    # texts are matched whatever their case.
    synonyms: Mapping[str, str] = field(default_factory=dict)
    regexes: tuple[tuple[str, str], ...] = ()  # (name, pattern) in file order
    lookups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def intents(self) -> tuple[str, ...]:
        return tuple(sorted({e.intent for e in self.examples if e.intent}))

    @property
    def entity_names(self) -> tuple[str, ...]:
        return tuple(sorted({a.entity for e in self.examples for a in e.entities}))


@dataclass(frozen=True, slots=True)
class Checkpoint:
    name: str
    # Conditions as SlotSet events that must hold for the checkpoint to connect.
    conditions: tuple[Event, ...] = ()


@dataclass(frozen=True, slots=True)
class OrStep:
    """Alternatives: the story continues with any one of them."""

    alternatives: tuple[Event, ...]


StoryStep = Event | Checkpoint | OrStep


@dataclass(frozen=True, slots=True)
class StoryBlock:
    """A story or a rule: steps as events (user turns, actions, slots, loops) and links."""

    name: str
    kind: str  # "story" or "rule"
    steps: tuple[StoryStep, ...]
    step_sources: tuple[Source, ...] = ()
    source: Source = _NOWHERE
    condition: tuple[Event, ...] = ()  # rules: state that must hold before the first step
    conversation_start: bool = False
    wait_for_user_input: bool = True

    @property
    def is_rule(self) -> bool:
        return self.kind == "rule"


@dataclass(frozen=True, slots=True)
class TrainingData:
    nlu: NluData = field(default_factory=NluData)
    stories: tuple[StoryBlock, ...] = ()
    rules: tuple[StoryBlock, ...] = ()
    # Retrieval-intent responses written in NLU files, merged into the domain.
    responses: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)
    # The files with flows or responses, in reading order: a trained model reads these again
    # (its archive keeps a copy), while examples, stories and rules live on in what was trained.
    runtime_files: tuple[Path, ...] = ()
