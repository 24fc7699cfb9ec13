"""Running e2e test cases against a message processor.

Each test case is a fresh conversation (sender id ``<test case>_<run timestamp>_<index>``):
the session is started as a first message would start it, the fixtures' slots are set,
then the user steps are sent one by one. Step-form test cases are checked turn by turn and
stop sending messages at the first turn that does not match; assertion-form test cases
send every message first and then check each step's assertions against its turn.

``run_cases`` runs up to ``concurrency`` conversations at once on one processor (the
tracker and lock stores keep them apart) and reports results in the order of the cases,
so ``-j 4`` reads exactly like ``-j 1``. LLM-judge assertions are scored by the judge
``judges`` has for the test case's file; without one they are not checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from tandem.conversation import events as ev
from tandem.project.errors import Source
from tandem.runtime.message import UserMessage
from tandem.runtime.processor import MessageProcessor
from tandem.testing.assertions import Turn
from tandem.testing.cases import Expectation, TestCase, UserStep
from tandem.testing.render import event_line
from tandem.testing.steps import check_turn
from tandem.testing.stubs import StubActionServer, stubbed

# What the results say about a plain step in a test case with assertions (assertion mode
# checks the assertions only, as the reference does).
UNCHECKED_STEP = "this step is not checked: the test case uses assertions"

if TYPE_CHECKING:
    from tandem.testing.judge import Judge, Judges

Status = Literal["passed", "failed", "skipped"]


@dataclass(frozen=True, slots=True)
class Failure:
    source: Source  # where the mismatch starts: the step or the assertion
    message: str
    context: str = ""  # which turn failed, or what else explains the message
    difference: tuple[str, ...] = ()  # step form: the diff of the turn
    transcript: tuple[str, ...] = ()  # assertion form: the turn's events
    assertion: Mapping[str, Any] | None = None  # assertion form: the assertion as written

    @property
    def details(self) -> tuple[str, ...]:
        """What a report shows under the message."""
        context = (self.context,) if self.context else ()
        return (*context, *self.difference, *(f"  {line}" for line in self.transcript))


@dataclass(frozen=True)
class TestResult:
    __test__ = False  # not a pytest class

    case: TestCase
    status: Status
    sender_id: str = ""  # the conversation's id in the processor's tracker store
    failure: Failure | None = None
    notes: tuple[str, ...] = ()  # assertions that were not checked, and why
    events: tuple[ev.Event, ...] = ()  # the whole conversation
    duration: float = 0.0  # seconds


ResultSink = Callable[[TestResult], None]


async def run_cases(
    processor: MessageProcessor,
    cases: Sequence[TestCase],
    *,
    concurrency: int = 1,
    fail_fast: bool = False,
    on_result: ResultSink | None = None,
    judges: Judges | None = None,
) -> list[TestResult]:
    """Run ``cases``; results (and ``on_result`` calls) come in the order of ``cases``.

    With ``fail_fast`` nothing after the first failed test case (in that order) is
    reported, however many conversations were already running.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    stamp = int(time.time())
    gate = asyncio.Semaphore(concurrency)
    with contextlib.ExitStack() as stack:
        stubs = None
        if any(case.stubs is not None for case in cases):
            stubs = stack.enter_context(stubbed(processor))

        async def run_one(index: int, case: TestCase) -> TestResult:
            async with gate:
                sender_id = f"{case.name}_{stamp}_{index}"
                judge = judges.for_case(case) if judges is not None else None
                return await run_case(processor, case, sender_id, stubs, judge)

        tasks = [asyncio.create_task(run_one(i, case)) for i, case in enumerate(cases)]
        results: list[TestResult] = []
        try:
            for task in tasks:
                result = await task
                results.append(result)
                if on_result is not None:
                    on_result(result)
                if fail_fast and result.status == "failed":
                    break
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return results


async def run_case(
    processor: MessageProcessor,
    case: TestCase,
    sender_id: str,
    stubs: StubActionServer | None = None,
    judge: Judge | None = None,
) -> TestResult:
    """Run one test case as conversation ``sender_id``; never raises for what the
    conversation does (a crash fails the test case)."""
    started = time.perf_counter()
    conversation = _Conversation(processor, sender_id)
    with contextlib.ExitStack() as stack:
        unstubbed: list[str] = []
        if case.stubs is not None:
            if stubs is None:
                raise ValueError("a test case with stubs needs a StubActionServer")
            unstubbed = stack.enter_context(stubs.serving(sender_id, case.stubs))
        try:
            await conversation.open(case)
            if case.uses_assertions:
                outcome = await _run_assertions(case, conversation, judge)
            else:
                outcome = await _run_steps(case, conversation)
        except Exception as error:  # one broken conversation must not stop the others
            outcome = _Outcome(_crash(conversation.at or case.source, error))
        failure = outcome.failure
        if unstubbed:
            failure = Failure(
                case.source,
                f"custom action {', '.join(dict.fromkeys(unstubbed))} ran without a stub",
                "this file has `stub_custom_actions`, so every custom action must be stubbed",
            )
    # A test case whose every assertion went unchecked proves nothing: skipped, not passed.
    unchecked = outcome.notes and not outcome.checked
    status: Status = "failed" if failure else "skipped" if unchecked else "passed"
    return TestResult(
        case,
        status,
        sender_id,
        failure,
        outcome.notes,
        tuple(conversation.events),
        time.perf_counter() - started,
    )


def _crash(source: Source, error: Exception) -> Failure:
    return Failure(source, f"the conversation failed: {type(error).__name__}: {error}")


@dataclass(frozen=True, slots=True)
class _Outcome:
    failure: Failure | None = None
    notes: tuple[str, ...] = ()  # assertions that were not checked, and why
    checked: int = 0  # assertions that were checked


async def _run_steps(case: TestCase, conversation: _Conversation) -> _Outcome:
    for user, expectations in _turns_of(case):
        events = conversation.prelude if user is None else await conversation.send(user)
        diff = check_turn(expectations, events)
        if diff.first_mismatch is not None:
            said = f"after user: {user.text!r} ({user.source})" if user else "before any message"
            message = "the bot did not do what the steps expect"
            difference = tuple(map(str, diff.lines))
            return _Outcome(Failure(diff.first_mismatch, message, said, difference))
    return _Outcome()


def _turns_of(case: TestCase) -> list[tuple[UserStep | None, list[Expectation]]]:
    """The expectations after each user step (``None``: those before the first message)."""
    turns: list[tuple[UserStep | None, list[Expectation]]] = [(None, [])]
    for step in case.steps:
        if isinstance(step, UserStep):
            turns.append((step, []))
        else:
            turns[-1][1].append(step)
    return turns


async def _run_assertions(
    case: TestCase, conversation: _Conversation, judge: Judge | None
) -> _Outcome:
    for step in case.user_steps:
        await conversation.send(step)
    notes = [f"{step.source}: {UNCHECKED_STEP}" for step in case.unchecked_steps]
    checked = 0
    for index, step in enumerate(case.user_steps):
        turn = conversation.turn(index)
        start = 0
        for assertion in step.assertions:
            verdict = await assertion.evaluate(turn, start, judge)
            if verdict.outcome == "skipped":
                notes.append(f"{assertion.source}: {verdict.message}")
                continue
            if verdict.outcome == "failed":
                failure = Failure(
                    assertion.source,
                    f"{assertion.kind}: {verdict.message}",
                    f"events of the turn of user: {step.text!r} ({step.source})",
                    transcript=_transcript(turn),
                    assertion=assertion.written,
                )
                return _Outcome(failure, tuple(notes), checked)
            checked += 1
            if step.assertion_order_enabled and verdict.index is not None:
                start = verdict.index + 1
    return _Outcome(None, tuple(notes), checked)


def _transcript(turn: Turn) -> tuple[str, ...]:
    return tuple(line for event in turn.events if (line := event_line(event)) is not None)


@dataclass
class _Conversation:
    """One test case's conversation and the events it produced, turn by turn."""

    processor: MessageProcessor
    sender_id: str
    prelude: tuple[ev.Event, ...] = ()  # session start and fixtures
    turns: list[tuple[ev.Event, ...]] = field(default_factory=list)
    at: Source | None = None  # the step being sent, for errors

    async def open(self, case: TestCase) -> None:
        """Start the session as the first message would (with its metadata), then set the
        fixtures' slots, before anything is sent."""
        users = case.user_steps
        metadata: dict[str, Any] = dict(users[0].metadata) if users else {}
        fixtures = [ev.SlotSet(name=name, value=value) for name, value in case.fixtures]
        added = await self.processor.start_session(self.sender_id, metadata, fixtures)
        self.prelude = tuple(added)

    async def send(self, step: UserStep) -> tuple[ev.Event, ...]:
        self.at = step.source
        message = UserMessage(step.text, sender_id=self.sender_id, metadata=dict(step.metadata))
        result = await self.processor.handle_message(message)
        events = tuple(result.new_events)
        self.turns.append(events)
        return events

    @property
    def events(self) -> list[ev.Event]:
        return [*self.prelude, *(event for turn in self.turns for event in turn)]

    def turn(self, index: int) -> Turn:
        """What the assertions of the ``index``-th user step see; the first one includes
        the session start and fixtures."""
        earlier = [event for turn in self.turns[:index] for event in turn]
        events = self.turns[index]
        if index == 0:
            events = (*self.prelude, *events)
        else:
            earlier = [*self.prelude, *earlier]
        domain = self.processor.assistant.domain
        return Turn(events, tuple(earlier), domain.slots, domain.responses)
