"""Training conversations: stories and rules as the events a tracker would hold.

Stories are joined at their checkpoints (``STORY_START`` implicitly begins every story that
does not start with one) and expanded at ``or`` steps. Events nobody writes are added: an
``action_listen`` before each user message and at the end, and ``slot`` events for entities
that fill a slot on their own. Rules begin with the rule snippet ``...`` unless they are
``conversation_start`` rules, carry their ``condition`` as the state before their first step,
and end with ``action_listen`` (or ``...`` with ``wait_for_user_input: false``).

Every event remembers the block (story or rule) and the file line it comes from, so training
problems can say where to look.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from tandem import names
from tandem.conversation.events import ActionExecuted, ActiveLoop, Event, SlotSet, UserUttered
from tandem.policies.featurization import FULL_VIEW, StateView
from tandem.project.domain import Domain
from tandem.project.errors import Source
from tandem.project.training_data import Checkpoint, OrStep, StoryBlock, StoryStep

log = logging.getLogger(__name__)

STORY_START = "STORY_START"
# Checkpoints can make stories combine explosively; past this many conversations we stop.
MAX_STORY_CONVERSATIONS = 5000


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an event of a training conversation was written."""

    block: StoryBlock
    source: Source

    def describe(self) -> str:
        return f"{self.block.kind} '{self.block.name}' ({self.block.source})"


@dataclass(frozen=True, slots=True)
class TrainingConversation:
    """One path through the stories, or one rule (one per ``or`` alternative)."""

    events: tuple[Event, ...]
    origins: tuple[Origin, ...]  # one per event
    is_rule: bool = False
    conversation_start: bool = False  # a rule that only applies at the start

    @property
    def blocks(self) -> tuple[StoryBlock, ...]:
        """The stories (or the rule) this conversation was made of, in order."""
        return tuple({id(o.block): o.block for o in self.origins}.values())

    def describe(self) -> str:
        return " + ".join(f"{b.kind} '{b.name}' ({b.source})" for b in self.blocks)


@dataclass(slots=True)
class _Builder:
    """A conversation being written: events, their origins, and which parts it went through."""

    events: list[Event]
    origins: list[Origin]
    parts: frozenset[int] = frozenset()

    def copy(self) -> _Builder:
        return _Builder(list(self.events), list(self.origins), self.parts)

    def add(self, event: Event, origin: Origin) -> None:
        self.events.append(event)
        self.origins.append(origin)

    def last_action(self) -> str | None:
        for event in reversed(self.events):
            if isinstance(event, ActionExecuted):
                return event.name
        return None

    def add_step(self, event: Event, origin: Origin, domain: Domain) -> None:
        """Add a written step with the events it implies."""
        if isinstance(event, UserUttered) and self.last_action() != names.ACTION_LISTEN:
            self.add(ActionExecuted(name=names.ACTION_LISTEN), origin)
        self.add(event, origin)
        if isinstance(event, UserUttered):
            for slot_event in entity_slot_events(event, domain):
                self.add(slot_event, origin)

    def listen_at_end(self, origin: Origin) -> None:
        if self.last_action() != names.ACTION_LISTEN:
            self.add(ActionExecuted(name=names.ACTION_LISTEN), origin)

    def slot_values(self) -> dict[str, object]:
        return {e.name: e.value for e in self.events if isinstance(e, SlotSet)}


def entity_slot_events(user: UserUttered, domain: Domain) -> list[SlotSet]:
    """The slots a user step's entities fill by themselves: ``from_entity``
    mappings that are not tied to an active loop."""
    if not domain.store_entities_as_slots or not user.entities:
        return []
    events = []
    for slot in domain.slots.values():
        for mapping in slot.mappings:
            if mapping.type != "from_entity" or any(
                isinstance(c.active_loop, str) for c in mapping.conditions
            ):
                continue
            values = [
                e.get("value")
                for e in user.entities
                if e.get("entity") == mapping.entity
                and e.get("role") == mapping.role
                and e.get("group") == mapping.group
            ]
            if values:
                value = values if slot.type == "list" else values[-1]
                events.append(SlotSet(name=slot.name, value=value))
                break
    return events


def _alternatives(
    block: StoryBlock, steps: Sequence[tuple[StoryStep, Source]]
) -> Iterator[list[tuple[Event, Origin]]]:
    """Every way through ``steps``: ``or`` steps multiply the ways."""
    choices: list[Sequence[Event]] = []
    sources: list[Source] = []
    for step, source in steps:
        if isinstance(step, OrStep):
            choices.append(step.alternatives)
        elif isinstance(step, Event):
            choices.append((step,))
        else:
            continue
        sources.append(source)
    for combination in itertools.product(*choices):
        yield [
            (event, Origin(block, source))
            for event, source in zip(combination, sources, strict=True)
        ]


# -- stories ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Part:
    """A stretch of a story between checkpoints."""

    block: StoryBlock
    starts: tuple[Checkpoint, ...]  # empty: the story starts here
    steps: tuple[tuple[StoryStep, Source], ...]
    ends: tuple[Checkpoint, ...]  # empty: the story ends here


def _parts(block: StoryBlock) -> list[_Part]:
    """Split a story at its checkpoints (a checkpoint in the middle ends one part and
    starts the next)."""
    sources = block.step_sources or (block.source,) * len(block.steps)
    parts: list[_Part] = []
    starts: list[Checkpoint] = []
    steps: list[tuple[StoryStep, Source]] = []
    checkpoints: list[Checkpoint] = []
    for step, source in zip(block.steps, sources, strict=True):
        if isinstance(step, Checkpoint):
            checkpoints.append(step)
            continue
        if checkpoints and steps:
            parts.append(_Part(block, tuple(starts), tuple(steps), tuple(checkpoints)))
            steps = []
        if checkpoints:
            starts, checkpoints = checkpoints, []
        steps.append((step, source))
    parts.append(_Part(block, tuple(starts), tuple(steps), tuple(checkpoints)))
    return parts


def story_conversations(
    stories: Iterable[StoryBlock], domain: Domain
) -> list[TrainingConversation]:
    """All complete paths through ``stories``, joined at checkpoints."""
    parts = [part for story in stories for part in _parts(story)]
    consumers: dict[str, list[tuple[int, Checkpoint | None]]] = {}
    for index, part in enumerate(parts):
        for checkpoint in part.starts or (None,):
            name = checkpoint.name if checkpoint is not None else STORY_START
            consumers.setdefault(name, []).append((index, checkpoint))
    finished: list[TrainingConversation] = []
    arrivals: deque[tuple[str, _Builder]] = deque([(STORY_START, _Builder([], []))])
    while arrivals and len(finished) < MAX_STORY_CONVERSATIONS:
        checkpoint_name, builder = arrivals.popleft()
        waiting = consumers.get(checkpoint_name, [])
        if not waiting and checkpoint_name != STORY_START:
            finished.append(_finish(builder))  # a checkpoint nothing continues from
        for index, checkpoint in waiting:
            # A loop of checkpoints is followed once per path.
            if index in builder.parts or not _conditions_hold(checkpoint, builder):
                continue
            part = parts[index]
            for alternative in _alternatives(part.block, part.steps):
                continued = builder.copy()
                continued.parts = builder.parts | {index}
                for event, origin in alternative:
                    continued.add_step(event, origin, domain)
                if part.ends:
                    arrivals.extend((end.name, continued) for end in part.ends)
                else:
                    continued.listen_at_end(Origin(part.block, part.block.source))
                    finished.append(_finish(continued))
    if arrivals:
        log.warning(
            "Stories combine into more than %d conversations at their checkpoints; "
            "only the first %d are used for training.",
            MAX_STORY_CONVERSATIONS,
            MAX_STORY_CONVERSATIONS,
        )
    return finished


def _conditions_hold(checkpoint: Checkpoint | None, builder: _Builder) -> bool:
    if checkpoint is None or not checkpoint.conditions:
        return True
    values = builder.slot_values()
    return all(
        values.get(c.name) == c.value for c in checkpoint.conditions if isinstance(c, SlotSet)
    )


def _finish(builder: _Builder) -> TrainingConversation:
    return TrainingConversation(tuple(builder.events), tuple(builder.origins))


# -- rules --------------------------------------------------------------------------------


def rule_conversations(rule: StoryBlock, domain: Domain) -> list[TrainingConversation]:
    """The conversations of one rule, one per way through its ``or`` steps."""
    at_rule = Origin(rule, rule.source)
    sources = rule.step_sources or (rule.source,) * len(rule.steps)
    conversations = []
    for alternative in _alternatives(rule, list(zip(rule.steps, sources, strict=True))):
        builder = _Builder([], [])
        for event in rule.condition:
            builder.add(event, at_rule)
        if not rule.conversation_start:
            builder.add(ActionExecuted(name=names.RULE_SNIPPET_ACTION), at_rule)
        for event, origin in alternative:
            builder.add_step(event, origin, domain)
        if rule.wait_for_user_input:
            builder.listen_at_end(at_rule)
        else:
            builder.add(ActionExecuted(name=names.RULE_SNIPPET_ACTION), at_rule)
        conversations.append(
            TrainingConversation(
                tuple(builder.events),
                tuple(builder.origins),
                is_rule=True,
                conversation_start=rule.conversation_start,
            )
        )
    return conversations


# -- everything policies train on -------------------------------------------------------------


@dataclass(frozen=True)
class PolicyTrainingData:
    """The training conversations of a project, and what ML policies must not see of them."""

    domain: Domain
    stories: tuple[TrainingConversation, ...]
    rules: tuple[TrainingConversation, ...]
    # With RulePolicy configured, ML policies ignore rule-only slots and loops and the turns
    # of rules that never occur in stories.
    ml_view: StateView = FULL_VIEW

    @classmethod
    def build(
        cls,
        stories: Iterable[StoryBlock],
        rules: Iterable[StoryBlock],
        domain: Domain,
        *,
        with_rule_policy: bool,
    ) -> PolicyTrainingData:
        story_conversations_ = tuple(story_conversations(stories, domain))
        rule_conversations_ = tuple(c for rule in rules for c in rule_conversations(rule, domain))
        view = FULL_VIEW
        if with_rule_policy:
            story_slots, story_loops = _slots_and_loops(story_conversations_)
            rule_slots, rule_loops = _slots_and_loops(rule_conversations_)
            view = StateView(
                rule_only_slots=frozenset(rule_slots - story_slots),
                rule_only_loops=frozenset(rule_loops - story_loops),
                hide_rule_turns=True,
            )
        return cls(domain, story_conversations_, rule_conversations_, view)


def _slots_and_loops(conversations: Iterable[TrainingConversation]) -> tuple[set[str], set[str]]:
    slots: set[str] = set()
    loops: set[str] = set()
    for conversation in conversations:
        for event in conversation.events:
            if isinstance(event, SlotSet):
                slots.add(event.name)
            elif isinstance(event, ActiveLoop) and event.name:
                loops.add(event.name)
    return slots, loops
