"""Assertions of e2e test steps (the reference's, plus ``routed_to``) and how each one is checked.

An assertion looks at the ``Turn`` of its user step: the events from that user message up
to the next one. ``check(turn, start)`` considers only ``turn.events[start:]`` (that is how
``assertion_order_enabled`` works) and returns a ``AssertionVerdict``; a passing verdict names the
index of the event it matched, so that the next ordered assertion starts after it.

Semantics follow the reference where it is specific:

* values compare with Python equality (``"150"`` is not ``150``; ``75`` is ``75.0``);
* ``bot_uttered`` checks each given property on its own: some bot message has the
  ``utter_name``, some bot message matches ``text_matches`` (a regex search), some bot
  message has exactly the ``buttons``; ``bot_did_not_utter`` fails if any bot message has
  any of the given properties;
* ``flow_started`` with ``operator: all`` needs every listed flow to start (the reference
  allows one id there; more ids are a natural extension);
* ``slot_was_not_set`` passes when the turn has no event for the slot, or its last event
  sets ``None`` (without ``value``) or a value other than ``value``.

The LLM-judge assertions (``generative_response_is_relevant`` / ``_grounded``) are scored by
the judge a conftest.yml configures (see ``judge``); every bot message they look at must
reach the threshold. Without a judge they are reported as skipped: an assertion that was
not checked must never count as passed. A judge that gives no usable score fails them.
"""

from __future__ import annotations

import dataclasses
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from tandem import names
from tandem.conversation import events as ev
from tandem.conversation.slots import Slot
from tandem.conversation.tracker import Tracker
from tandem.project.errors import ProjectError, Source, suggest
from tandem.project.yaml import as_list, as_map, expect, plain, where
from tandem.testing.judge import Judge, JudgeError, Score
from tandem.testing.render import typed

# -- what an assertion sees and says ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Turn:
    """The events of one user step, the conversation before them (for slot values) and the
    domain's responses (the ground truth ``utter_source`` names)."""

    events: tuple[ev.Event, ...]
    earlier: tuple[ev.Event, ...] = ()
    slot_defs: Mapping[str, Slot] = field(default_factory=dict)
    responses: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)

    def slots_before(self, index: int) -> Mapping[str, Any]:
        """The tracker's slot values just before ``events[index]``."""
        return Tracker("e2e", self.slot_defs, (*self.earlier, *self.events[:index])).slots

    @property
    def user_index(self) -> int | None:
        return next((i for i, e in enumerate(self.events) if isinstance(e, ev.UserUttered)), None)

    @property
    def user_text(self) -> str:
        user = next((e for e in self.events if isinstance(e, ev.UserUttered)), None)
        return str(user.text or "") if user is not None else ""


@dataclass(frozen=True, slots=True)
class AssertionVerdict:
    outcome: Literal["passed", "failed", "skipped"]
    message: str = ""
    index: int | None = None  # the matched event, where the next ordered assertion starts


def _passed(index: int | None = None) -> AssertionVerdict:
    return AssertionVerdict("passed", index=index)


def _failed(message: str) -> AssertionVerdict:
    return AssertionVerdict("failed", message)


def _of_type(turn: Turn, start: int, kind: type[ev.Event]) -> list[tuple[int, Any]]:
    return [(i, e) for i, e in enumerate(turn.events) if i >= start and isinstance(e, kind)]


def _listing(items: list[str]) -> str:
    return ", ".join(items) if items else "none"


# -- the assertion kinds --------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Assertion(ABC):
    kind: ClassVar[str]
    source: Source
    # ``{kind: value}`` as written, for the results file.
    written: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    @abstractmethod
    def parse(cls, value: Any, source: Source) -> Assertion:
        """Read the value written after ``<kind>:``; raise ``ProjectError`` if invalid."""

    @abstractmethod
    def check(self, turn: Turn, start: int) -> AssertionVerdict:
        """Check the turn's events from ``start`` on."""

    async def evaluate(self, turn: Turn, start: int, judge: Judge | None) -> AssertionVerdict:
        """``check``, for the runner: only the LLM-judge assertions use ``judge`` (and await)."""
        return self.check(turn, start)


def _flow_ids(value: Any, source: Source, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    items = as_list(value, source, what)
    if not items:
        raise ProjectError(source, f"{what} is empty", "list at least one flow id")
    return tuple(
        str(expect(item, str, items.at(i), f"a flow id in {what}")) for i, item in enumerate(items)
    )


def _operator(data: Mapping[str, Any], source: Source) -> str:
    operator = data.get("operator", "any")
    if operator not in ("any", "all"):
        raise ProjectError(
            where(data, "operator", source), f"unknown operator {operator!r}", "write any or all"
        )
    return str(operator)


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowStarted(Assertion):
    kind: ClassVar[str] = "flow_started"
    flow_ids: tuple[str, ...]
    operator: str = "any"

    @classmethod
    def parse(cls, value: Any, source: Source) -> FlowStarted:
        if isinstance(value, str):  # the older form: one flow id
            return cls(source=source, flow_ids=(value,))
        data = as_map(value, source, "`flow_started`", ("flow_ids", "operator"))
        if "flow_ids" not in data:
            raise ProjectError(source, "`flow_started` needs `flow_ids`", "or write a flow id")
        ids = _flow_ids(data["flow_ids"], data.at("flow_ids"), "`flow_ids`")
        return cls(source=source, flow_ids=ids, operator=_operator(data, source))

    def check(self, turn: Turn, start: int) -> AssertionVerdict:
        started = _of_type(turn, start, ev.FlowStarted)
        first: dict[str, int] = {}
        for index, event in started:
            first.setdefault(event.flow_id, index)
        found = [first[flow] for flow in self.flow_ids if flow in first]
        any_of = self.operator == "any"
        if len(found) >= (1 if any_of else len(self.flow_ids)):
            return _passed(min(found) if any_of else max(found))
        wanted = (" or " if any_of else " and ").join(self.flow_ids)
        return _failed(f"flow {wanted} did not start; flows started: {_listing(list(first))}")


@dataclass(frozen=True, slots=True, kw_only=True)
class _FlowEnded(Assertion):
    event_type: ClassVar[type[ev.Event]]
    verb: ClassVar[str]
    flow_id: str
    flow_step_id: str | None = None

    @classmethod
    def parse(cls, value: Any, source: Source) -> _FlowEnded:
        data = as_map(value, source, f"`{cls.kind}`", ("flow_id", "flow_step_id"))
        if "flow_id" not in data:
            raise ProjectError(source, f"`{cls.kind}` needs `flow_id`", "add `flow_id: <id>`")
        step = data.get("flow_step_id")
        return cls(
            source=source,
            flow_id=str(expect(data["flow_id"], str, data.at("flow_id"), "`flow_id`")),
            flow_step_id=None if step is None else str(step),
        )

    def check(self, turn: Turn, start: int) -> AssertionVerdict:
        ended = _of_type(turn, start, self.event_type)
        mine = [(i, e) for i, e in ended if e.flow_id == self.flow_id]
        if not mine:
            others = _listing([e.flow_id for _, e in ended])
            return _failed(f"flow {self.flow_id} was not {self.verb}; {self.verb}: {others}")
        index, event = mine[0]
        if self.flow_step_id is not None and event.step_id != self.flow_step_id:
            return _failed(
                f"flow {self.flow_id} was {self.verb} at step {event.step_id}, "
                f"not at {self.flow_step_id}"
            )
        return _passed(index)


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowCompleted(_FlowEnded):
    kind: ClassVar[str] = "flow_completed"
    event_type: ClassVar[type[ev.Event]] = ev.FlowCompleted
    verb: ClassVar[str] = "completed"


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowCancelled(_FlowEnded):
    kind: ClassVar[str] = "flow_cancelled"
    event_type: ClassVar[type[ev.Event]] = ev.FlowCancelled
    verb: ClassVar[str] = "cancelled"


CLARIFICATION_PATTERN = "pattern_clarification"


@dataclass(frozen=True, slots=True, kw_only=True)
class PatternClarificationContains(Assertion):
    """The older list form names readable flow names and must equal the options exactly."""

    kind: ClassVar[str] = "pattern_clarification_contains"
    options: frozenset[str]
    operator: str = "all"
    by_name: bool = False

    @classmethod
    def parse(cls, value: Any, source: Source) -> PatternClarificationContains:
        if isinstance(value, list):
            names_ = _flow_ids(value, source, f"`{cls.kind}`")
            return cls(source=source, options=frozenset(names_), by_name=True)
        data = as_map(value, source, f"`{cls.kind}`", ("flow_ids", "operator"))
        if "flow_ids" not in data:
            raise ProjectError(source, f"`{cls.kind}` needs `flow_ids`", "list the flow ids")
        ids = _flow_ids(data["flow_ids"], data.at("flow_ids"), "`flow_ids`")
        return cls(source=source, options=frozenset(ids), operator=_operator(data, source))

    def check(self, turn: Turn, start: int) -> AssertionVerdict:
        key = "names" if self.by_name else "clarification_ids"
        offered = []
        for index, event in _of_type(turn, start, ev.FlowStarted):
            if event.flow_id != CLARIFICATION_PATTERN:
                continue
            options = frozenset(event.metadata.get(key) or ())
            offered.append(sorted(options))
            matches = options == self.options if self.operator == "all" else options & self.options
            if matches:
                return _passed(index)
        if not offered:
            return _failed(f"{CLARIFICATION_PATTERN} did not start")
        return _failed(
            f"clarification offered {offered}, expected {self.operator} of {sorted(self.options)}"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionExecuted(Assertion):
    kind: ClassVar[str] = "action_executed"
    name: str

    @classmethod
    def parse(cls, value: Any, source: Source) -> ActionExecuted:
        return cls(source=source, name=str(expect(value, str, source, "`action_executed`")))

    def check(self, turn: Turn, start: int) -> AssertionVerdict:
        actions = _of_type(turn, start, ev.ActionExecuted)
        index = next((i for i, e in actions if e.name == self.name), None)
        if index is None:
            ran = _listing([str(e.name) for _, e in actions])
            return _failed(f"action {self.name} did not run; actions run: {ran}")
        return _passed(index)


@dataclass(frozen=True, slots=True)
class SlotExpectation:
    """A slot, optionally with the value it must have (``value: null`` expects ``None``)."""

    name: str
    value: Any = None
    has_value: bool = False

    def accepts(self, value: Any) -> bool:
        return not self.has_value or value == self.value

    def __str__(self) -> str:
        return f"{self.name}: {typed(self.value)}" if self.has_value else self.name


def _slot_items(value: Any, source: Source, what: str) -> tuple[SlotExpectation, ...]:
    items = as_list(value, source, what)
    result = []
    for index, item in enumerate(items):
        data = as_map(item, items.at(index), f"a slot in {what}", ("name", "value"))
        if "name" not in data:
            raise ProjectError(items.at(index), f"a slot in {what} needs `name`", "add `name:`")
        name = str(expect(data["name"], str, data.at("name"), "`name`"))
        result.append(SlotExpectation(name, data.get("value"), "value" in data))
    return tuple(result)


@dataclass(frozen=True, slots=True, kw_only=True)
class SlotWasSet(Assertion):
    kind: ClassVar[str] = "slot_was_set"
    slots: tuple[SlotExpectation, ...]

    @classmethod
    def parse(cls, value: Any, source: Source) -> SlotWasSet:
        return cls(source=source, slots=_slot_items(value, source, f"`{cls.kind}`"))

    def check(self, turn: Turn, start: int) -> AssertionVerdict:
        slot_events = _of_type(turn, start, ev.SlotSet)
        last = start - 1
        for expected in self.slots:
            mine = [(i, e) for i, e in slot_events if e.name == expected.name]
            if not mine:
                return _failed(f"slot {expected.name} was not set")
            index = next((i for i, e in mine if expected.accepts(e.value)), None)
            if index is None:
                values = _listing([typed(e.value) for _, e in mine])
                wanted = typed(expected.value)
                return _failed(f"slot {expected.name} was set to {values}, not {wanted}")
            last = max(last, index)
        return _passed(last)


@dataclass(frozen=True, slots=True, kw_only=True)
class SlotWasNotSet(Assertion):
    kind: ClassVar[str] = "slot_was_not_set"
    slots: tuple[SlotExpectation, ...]

    @classmethod
    def parse(cls, value: Any, source: Source) -> SlotWasNotSet:
        return cls(source=source, slots=_slot_items(value, source, f"`{cls.kind}`"))

    def check(self, turn: Turn, start: int) -> AssertionVerdict:
        slot_events = _of_type(turn, start, ev.SlotSet)
        for expected in self.slots:
            mine = [e for _, e in slot_events if e.name == expected.name]
            if not mine:
                continue
            value = mine[-1].value
            if (value is not None) if not expected.has_value else expected.accepts(value):
                return _failed(f"slot {expected.name} was set to {typed(value)}")
        return _passed()


@dataclass(frozen=True, slots=True)
class BotMessage:
    """What ``bot_uttered`` / ``bot_did_not_utter`` look for; each property on its own."""

    utter_name: str | None = None
    text_matches: str | None = None
    buttons: tuple[tuple[Any, Any], ...] | None = None

    @classmethod
    def parse(cls, value: Any, source: Source, what: str) -> BotMessage:
        data = as_map(value, source, what, ("utter_name", "text_matches", "buttons"))
        if not data:
            hint = "give utter_name, text_matches or buttons"
            raise ProjectError(source, f"{what} is empty", hint)
        text = data.get("text_matches")
        if text is not None:
            text = str(text)
            try:
                re.compile(text)
            except re.error as error:
                raise ProjectError(
                    data.at("text_matches"), f"`text_matches` is not a valid regex: {error}"
                ) from None
        buttons = None
        if "buttons" in data:
            items = as_list(data["buttons"], data.at("buttons"), "`buttons`")
            buttons = tuple(_button(item, items.at(index)) for index, item in enumerate(items))
        utter = data.get("utter_name")
        return cls(None if utter is None else str(utter), text, buttons)

    def properties(self) -> list[tuple[str, Any]]:
        given: list[tuple[str, Any]] = [
            ("utter_name", self.utter_name),
            ("text_matches", self.text_matches),
        ]
        given.append(("buttons", None if self.buttons is None else list(self.buttons)))
        return [(key, value) for key, value in given if value is not None]

    def has(self, key: str, event: ev.BotUttered) -> bool:
        if key == "utter_name":
            return event.utter_action == self.utter_name
        if key == "text_matches":
            return re.search(str(self.text_matches), event.text or "") is not None
        actual = [(b.get("title"), b.get("payload")) for b in event.data.get("buttons") or ()]
        return actual == list(self.buttons or ())


def _button(item: Any, source: Source) -> tuple[Any, Any]:
    data = as_map(item, source, "a button", ("title", "payload"))
    return data.get("title"), data.get("payload")


def _bot_summary(bots: list[tuple[int, ev.BotUttered]]) -> str:
    return _listing([f"{e.utter_action or '-'}: {e.text!r}" for _, e in bots])


@dataclass(frozen=True, slots=True, kw_only=True)
class BotUttered(Assertion):
    kind: ClassVar[str] = "bot_uttered"
    message: BotMessage

    @classmethod
    def parse(cls, value: Any, source: Source) -> BotUttered:
        return cls(source=source, message=BotMessage.parse(value, source, f"`{cls.kind}`"))

    def check(self, turn: Turn, start: int) -> AssertionVerdict:
        bots = _of_type(turn, start, ev.BotUttered)
        last = start - 1
        for key, value in self.message.properties():
            index = next((i for i, e in bots if self.message.has(key, e)), None)
            if index is None:
                said = _bot_summary(bots)
                return _failed(f"no bot message with {key} {value!r}; the bot said: {said}")
            last = max(last, index)
        return _passed(last)


@dataclass(frozen=True, slots=True, kw_only=True)
class BotDidNotUtter(Assertion):
    kind: ClassVar[str] = "bot_did_not_utter"
    message: BotMessage

    @classmethod
    def parse(cls, value: Any, source: Source) -> BotDidNotUtter:
        return cls(source=source, message=BotMessage.parse(value, source, f"`{cls.kind}`"))

    def check(self, turn: Turn, start: int) -> AssertionVerdict:
        for _, event in _of_type(turn, start, ev.BotUttered):
            for key, value in self.message.properties():
                if self.message.has(key, event):
                    return _failed(f"the bot uttered {event.text!r} ({key} {value!r})")
        return _passed()


@dataclass(frozen=True, slots=True, kw_only=True)
class _GenerativeResponse(Assertion):
    """Every bot message of the turn (with ``utter_name``: of that response) must score at
    least ``threshold`` with the judge; the subclasses say what the judge compares it with."""

    threshold: float
    utter_name: str | None = None
    utter_source: str | None = None
    ground_truth: str | None = None

    @classmethod
    def parse(cls, value: Any, source: Source) -> _GenerativeResponse:
        keys = ("threshold", "utter_name", "utter_source", "ground_truth")
        data = as_map(value, source, f"`{cls.kind}`", keys)
        if "threshold" not in data:
            raise ProjectError(source, f"`{cls.kind}` needs `threshold`", "add `threshold: 0.8`")
        at = data.at("threshold")
        threshold = expect(data["threshold"], (int, float), at, "`threshold`")
        if not 0 <= threshold <= 1:
            raise ProjectError(at, "`threshold` must be between 0 and 1")
        texts = {
            key: str(expect(data[key], str, data.at(key), f"`{key}`"))
            for key in keys[1:]
            if data.get(key) is not None
        }
        return cls(
            source=source,
            threshold=float(threshold),
            utter_name=texts.get("utter_name"),
            utter_source=texts.get("utter_source"),
            ground_truth=texts.get("ground_truth"),
        )

    def check(self, turn: Turn, start: int) -> AssertionVerdict:
        return AssertionVerdict(
            "skipped",
            f"{self.kind}: no LLM judge is configured, so it was not checked "
            "(configure one under `llm_judge` in a conftest.yml)",
        )

    async def evaluate(self, turn: Turn, start: int, judge: Judge | None) -> AssertionVerdict:
        if judge is None:
            return self.check(turn, start)
        answers = [
            (index, str(event.text))
            for index, event in _of_type(turn, start, ev.BotUttered)
            if event.text and self.utter_name in (None, event.utter_action)
        ]
        if not answers:
            which = f" of {self.utter_name}" if self.utter_name else ""
            return _failed(f"no bot message{which} to judge in this turn")
        basis = self.basis(turn)
        if isinstance(basis, AssertionVerdict):
            return basis
        for _, answer in answers:
            try:
                score = await self.score(judge, basis, answer)
            except JudgeError as error:
                return _failed(f"{error} (judging {answer!r})")
            if score.value < self.threshold:
                return _failed(
                    f"{answer!r} scored {score.value:g}, below the threshold "
                    f"{self.threshold:g}: {score.reason or 'the judge gave no reason'}"
                )
        return _passed(answers[-1][0])

    @abstractmethod
    def basis(self, turn: Turn) -> str | AssertionVerdict:
        """What the answers are judged against, or the failure if it is not available."""

    @abstractmethod
    async def score(self, judge: Judge, basis: str, answer: str) -> Score: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerativeResponseIsRelevant(_GenerativeResponse):
    """Judged against the user's message of the turn."""

    kind: ClassVar[str] = "generative_response_is_relevant"

    def basis(self, turn: Turn) -> str | AssertionVerdict:
        return turn.user_text or _failed("the turn has no user message to judge against")

    async def score(self, judge: Judge, basis: str, answer: str) -> Score:
        return await judge.relevance(basis, answer)


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerativeResponseIsGrounded(_GenerativeResponse):
    """Judged against ``ground_truth``, else the text of the domain response named by
    ``utter_source`` (else ``utter_name``): the template a rephrased message came from."""

    kind: ClassVar[str] = "generative_response_is_grounded"

    def basis(self, turn: Turn) -> str | AssertionVerdict:
        if self.ground_truth is not None:
            return self.ground_truth
        name = self.utter_source or self.utter_name
        if name is None:
            return _failed("say what to judge against: `ground_truth` or `utter_source`")
        texts = [str(v["text"]) for v in turn.responses.get(name, ()) if v.get("text")]
        if not texts:
            return _failed(f"the domain has no response {name} with a text to judge against")
        return "\n".join(texts)

    async def score(self, judge: Judge, basis: str, answer: str) -> Score:
        return await judge.groundedness(basis, answer)


SYSTEMS = ("calm", "nlu")


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutedTo(Assertion):
    """Which system handled the message (README: "Routing assertions in e2e tests").

    The route is read from the routing slot as the policies saw it: its value before the
    message plus the slot events between the user event and the first predicted action.
    ``True`` is CALM (sticky), ``False`` the NLU-based system (sticky), ``None`` the
    NLU-based system for this message only. ``reset`` is whether the turn ended the routing
    session (a ``routing_session_ended`` event). The router's verdict, when the user event
    carries one in ``metadata["routing"]``, is quoted in failure messages.
    """

    kind: ClassVar[str] = "routed_to"
    system: str
    sticky: bool | None = None
    reset: bool | None = None

    @classmethod
    def parse(cls, value: Any, source: Source) -> RoutedTo:
        data = as_map(value, source, f"`{cls.kind}`", ("system", "sticky", "reset"))
        system = data.get("system")
        if system not in SYSTEMS:
            at = data.at("system") if "system" in data else source
            raise ProjectError(
                at,
                f"`system` must be calm or nlu, not {system!r}",
                "write `system: calm` or `system: nlu`",
            )
        flags = {
            key: expect(data[key], bool, data.at(key), f"`{key}`") if key in data else None
            for key in ("sticky", "reset")
        }
        if system == "calm" and flags["sticky"] is False:
            raise ProjectError(
                data.at("sticky"),
                "a message is never routed to CALM for one turn only",
                "CALM routes are always sticky: drop `sticky: false` or expect `system: nlu`",
            )
        return cls(source=source, system=str(system), sticky=flags["sticky"], reset=flags["reset"])

    def check(self, turn: Turn, start: int) -> AssertionVerdict:
        if names.ROUTING_SLOT not in turn.slot_defs:
            return _failed(
                f"the assistant has no `{names.ROUTING_SLOT}` slot, so messages are not routed"
            )
        user = turn.user_index
        if user is None:
            return _failed("the message was not processed (no user event in this turn)")
        route = turn.slots_before(_policies_start(turn, user)).get(names.ROUTING_SLOT)
        actual = {
            "system": "calm" if route is True else "nlu",
            "sticky": route is not None,
            "reset": any(isinstance(e, ev.RoutingSessionEnded) for e in turn.events[user:]),
        }
        expected = {"system": self.system, "sticky": self.sticky, "reset": self.reset}
        wrong = [key for key, want in expected.items() if want is not None and actual[key] != want]
        if not wrong:
            return _passed()
        said = f"{names.ROUTING_SLOT} was {route!r} when the policies ran"
        verdict = turn.events[user].metadata.get("routing")
        if verdict is not None:
            said += f"; the router's verdict: {verdict}"
        got = ", ".join(f"{key} {actual[key]!r} (expected {expected[key]!r})" for key in wrong)
        return _failed(f"routed with {got}: {said}")


def _policies_start(turn: Turn, user: int) -> int:
    """The first predicted action after the user event: slot events before it (the
    router's and the command processor's) gate the policies."""
    return next(
        (i for i in range(user, len(turn.events)) if isinstance(turn.events[i], ev.ActionExecuted)),
        len(turn.events),
    )


ASSERTION_KINDS: Mapping[str, type[Assertion]] = {
    cls.kind: cls
    for cls in (
        FlowStarted,
        FlowCompleted,
        FlowCancelled,
        PatternClarificationContains,
        ActionExecuted,
        SlotWasSet,
        SlotWasNotSet,
        BotUttered,
        BotDidNotUtter,
        GenerativeResponseIsRelevant,
        GenerativeResponseIsGrounded,
        RoutedTo,
    )
}

# Assertion kinds of the reference's other dialogue engine, which CALM rejects.
_OTHER_ENGINE = re.compile(
    r"^(skill_|memory_|ordered_block_|tool_executed$|tools_within_one_turn$)"
)


def parse_assertion(item: Any, source: Source) -> Assertion:
    """One item of a step's ``assertions`` list: a mapping with exactly one kind."""
    if not isinstance(item, dict) or len(item) != 1:
        raise ProjectError(
            source,
            "an assertion must be one `kind: value` mapping",
            "write e.g. `- bot_uttered: {utter_name: utter_greet}`",
        )
    kind, value = next(iter(item.items()))
    at = where(item, kind, source)
    cls = ASSERTION_KINDS.get(kind)
    if cls is not None:
        return dataclasses.replace(cls.parse(value, at), written=plain(dict(item)))
    if _OTHER_ENGINE.match(str(kind)):
        raise ProjectError(at, f"assertion '{kind}' is not supported for CALM assistants")
    raise ProjectError(at, f"unknown assertion '{kind}'", suggest(str(kind), ASSERTION_KINDS))
