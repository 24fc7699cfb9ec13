"""One turn of a conversation, end to end.

lock → load tracker (session start/expiry) → parse → append the user event → slot extraction
→ turn stages (CALM's command processor) → policy loop running actions until the bot listens
→ save → return the bot messages. Data flows one way: every stage reads the tracker and
returns events; only this module appends them.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from tandem import names
from tandem.actions.base import ActionContext, ActionFailed, ActionRejected
from tandem.actions.custom import ActionServerClient
from tandem.actions.registry import UnknownActionError
from tandem.actions.responses import ResponseGenerator
from tandem.conversation import events as ev
from tandem.conversation.parse_data import EVENT_METADATA, TURN_NOTES, ParseData, ParseNotes
from tandem.conversation.tracker import Tracker, applied_events
from tandem.policies import ensemble
from tandem.policies.base import Prediction
from tandem.runtime.assistant import Assistant, TurnNotes
from tandem.runtime.message import UserMessage
from tandem.stores.errors import StoreConflict
from tandem.stores.lock_store import InMemoryLockStore, LockStore
from tandem.stores.tracker_store import InMemoryTrackerStore, TrackerStore

log = logging.getLogger(__name__)

# Called with each bot message as soon as its action has run (streaming channels).
BotMessageSink = Callable[[ev.BotUttered], Awaitable[None]]

# Wraps the handling of each user message, given the tracker (and the index of the turn's
# first event) and the turn's notes, so that what the events do not hold can be stored with
# them before the save (``tandem inspect`` records the LLM calls and dropped commands).
TurnRecorder = Callable[[Tracker, int, TurnNotes], AbstractContextManager[None]]

# Text of the user message that ``trigger_intent`` injects starts with this.
EXTERNAL_MESSAGE_PREFIX = "EXTERNAL: "

# How many conversations' trackers a processor keeps between turns (see ``_retrieve``).
RECENT_CONVERSATIONS = 256


class UnknownConversation(LookupError):
    """The tracker store holds no events for this conversation."""


@dataclass
class TurnResult:
    tracker: Tracker
    messages: list[ev.BotUttered] = field(default_factory=list)
    # Where this turn's events start in ``tracker.events``.
    first_new_event: int = 0
    notes: TurnNotes = field(default_factory=TurnNotes)

    @property
    def new_events(self) -> list[ev.Event]:
        return self.tracker.events[self.first_new_event :]


class MessageProcessor:
    def __init__(
        self,
        assistant: Assistant,
        tracker_store: TrackerStore | None = None,
        lock_store: LockStore | None = None,
        action_server: ActionServerClient | None = None,
        event_sink: Callable[[Tracker, list[ev.Event]], Awaitable[None]] | None = None,
    ) -> None:
        self.assistant = assistant
        self.tracker_store = tracker_store or InMemoryTrackerStore(assistant.domain.slots)
        self.lock_store = lock_store or InMemoryLockStore()
        self.action_server = action_server
        self.nlg = ResponseGenerator(assistant.domain)
        self._event_sink = event_sink  # receives saved events (event brokers)
        self.turn_recorder: TurnRecorder | None = None
        # The trackers of recent conversations as their last turn saved them. The next turn
        # starts from a copy if the store still holds exactly those events, so a turn does
        # not read and replay the whole conversation: its cost stays flat as it grows.
        self._recent: OrderedDict[str, Tracker] = OrderedDict()

    # -- public entry points ------------------------------------------------------------

    async def handle_message(
        self, message: UserMessage, sink: BotMessageSink | None = None
    ) -> TurnResult:
        """Run one user turn under the conversation's lock and save the result."""
        async with self.lock_store.lock(message.sender_id):
            tracker = await self.fetch_tracker(message.sender_id)
            first_new_event = len(tracker.events)
            turn = _Turn(self, tracker, message.input_channel, sink)
            await turn.start_session_if_needed(message.metadata)
            recorder = self.turn_recorder
            if recorder is None:
                await turn.handle_user_message(message)
            else:
                with recorder(tracker, first_new_event, turn.notes):
                    await turn.handle_user_message(message)
            await self.save(tracker, remember=True)
            return TurnResult(tracker, turn.messages, first_new_event, turn.notes)

    async def start_session(
        self,
        sender_id: str,
        metadata: dict[str, Any] | None = None,
        events: Sequence[ev.Event] = (),
    ) -> list[ev.Event]:
        """Start the conversation's session as its first message would, then append ``events``
        (e.g. test fixtures); returns what was added."""
        async with self.lock_store.lock(sender_id):
            tracker = await self.fetch_tracker(sender_id)
            first_new_event = len(tracker.events)
            turn = _Turn(self, tracker, None, None)
            await turn.start_session_if_needed(metadata)
            await turn.append(list(events))
            await self.save(tracker, remember=True)
            return tracker.events[first_new_event:]

    async def fetch_tracker(self, sender_id: str) -> Tracker:
        """The conversation's latest session (a new tracker if it has none)."""
        tracker = await self._retrieve(sender_id)
        if tracker is None:
            tracker = Tracker(sender_id, self.assistant.domain.slots)
        return tracker

    async def save(self, tracker: Tracker, *, remember: bool = False) -> None:
        """Store the tracker's new events and publish them. ``remember``: the tracker holds
        the latest session (as ``fetch_tracker`` returned it), so the conversation's next
        turn may start from it."""
        self._recent.pop(tracker.sender_id, None)
        new_events = await self.tracker_store.save(tracker)
        if remember:
            self._remember(tracker, new_events)
        if new_events and self._event_sink is not None:
            await self._event_sink(tracker, new_events)

    async def _retrieve(self, sender_id: str) -> Tracker | None:
        """The latest session: from the tracker the previous turn saved if the store holds
        exactly its events still (no other process wrote since), else read from the store."""
        kept = self._recent.get(sender_id)
        if kept is not None and kept.stored_offset is not None:
            stored = await self.tracker_store.count_events(sender_id)
            if (
                stored == kept.stored_offset + kept.saved_event_count
                and len(kept.events) == kept.saved_event_count
                and self._recent.get(sender_id) is kept
            ):
                self._recent.move_to_end(sender_id)
                return kept.copy()
        self._recent.pop(sender_id, None)
        return await self.tracker_store.retrieve(sender_id)

    def _remember(self, tracker: Tracker, new_events: Sequence[ev.Event]) -> None:
        first_new = len(tracker.events) - len(new_events)
        for index, event in enumerate(new_events, start=first_new):
            if index and _is_session_start(event):
                return  # holds more than the latest session now: the next turn reads it
        if tracker.stored_offset is None or tracker.terminated:
            return
        self._recent[tracker.sender_id] = tracker
        if len(self._recent) > RECENT_CONVERSATIONS:
            self._recent.popitem(last=False)

    async def aclose(self) -> None:
        """Release what the processor holds (tracker and lock store, event broker, action
        server, the assistant's closeables), each even if another fails. Call it once the
        turns in flight have finished."""
        closers = [self.tracker_store.aclose, self.lock_store.aclose]
        close_sink = getattr(self._event_sink, "aclose", None)  # event brokers have one
        if close_sink is not None:
            closers.append(close_sink)
        if self.action_server is not None:
            closers.append(self.action_server.aclose)
        closers.extend(item.aclose for item in self.assistant.closeables)
        async with AsyncExitStack() as stack:
            for close in reversed(closers):  # the stack runs them last-in first-out
                stack.push_async_callback(close)

    def action_context(self, output_channel: str | None) -> ActionContext:
        return ActionContext(
            domain=self.assistant.domain,
            nlg=self.nlg,
            action_server=self.action_server,
            output_channel=output_channel,
            flows=self.assistant.flows,
        )

    # -- entry points of the HTTP API ------------------------

    async def log_message(self, message: UserMessage) -> TurnResult:
        """Record a user message without predicting actions (``messages``): session check,
        parse (or the given parse data), the user event and slot extraction."""
        async with self._turn(message.sender_id, message.input_channel, None) as turn:
            await turn.start_session_if_needed(message.metadata)
            await turn.handle_user_message(message, predict=False)
        return turn.result()

    async def trigger_intent(
        self,
        sender_id: str,
        intent: str,
        entities: dict[str, Any] | None = None,
        *,
        output_channel: str | None = None,
        sink: BotMessageSink | None = None,
    ) -> TurnResult:
        """Handle an external ``EXTERNAL: <intent>`` message as if the user had sent it
        (``trigger_intent``, reminders): it is read as the intent message ``/<intent>{...}``,
        so the router and the NLU command adapter treat it like a button payload."""
        async with self._turn(sender_id, output_channel, sink) as turn:
            await turn.start_session_if_needed(None)
            await turn.handle_user_message(await turn.external_message(intent, entities or {}))
        return turn.result()

    async def execute_action(
        self,
        sender_id: str,
        name: str,
        *,
        policy: str | None = None,
        confidence: float | None = None,
        output_channel: str | None = None,
        sink: BotMessageSink | None = None,
    ) -> TurnResult:
        """Run exactly one action in an existing conversation (``execute``); nothing is
        predicted after it. Raises ``UnknownActionError`` / ``UnknownConversation``."""
        if name not in self.assistant.actions:
            raise UnknownActionError(f"action '{name}' does not exist in the domain")
        async with self._turn(sender_id, output_channel, sink, must_exist=True) as turn:
            await turn.start_session_if_needed(None)
            await turn.run_action(name, policy=policy, confidence=confidence)
        return turn.result()

    async def predict_next_action(self, sender_id: str) -> tuple[Tracker, str, Prediction]:
        """The next action and every action's score, without running it (``predict``); a
        due session start is run and saved first. Raises ``UnknownConversation``."""
        async with self._turn(sender_id, None, None, must_exist=True) as turn:
            await turn.start_session_if_needed(None)
        name, prediction = await turn.predict()
        if prediction is None:  # a follow-up action is certain
            prediction = Prediction.for_action(self.assistant.domain, name, "FollowupAction", 0)
        return turn.tracker, name, prediction

    async def append_events(
        self,
        sender_id: str,
        events: Sequence[ev.Event],
        *,
        output_channel: str | None = None,
        sink: BotMessageSink | None = None,
    ) -> Tracker:
        """Append events as given (timestamps kept) under the lock (``tracker/events``).

        A brand-new conversation gets its session start first, unless the events bring their
        own. Bot events go to ``sink`` (``execute_side_effects``)."""
        async with self._turn(sender_id, output_channel, sink) as turn:
            if not turn.tracker.events and not _starts_session(events):
                await turn.start_session_if_needed(None)
            await turn.append(list(events), keep_timestamps=True)
        return turn.tracker

    async def replace_events(self, sender_id: str, events: Sequence[ev.Event]) -> Tracker:
        """Make ``events`` the whole conversation (``PUT tracker/events``; no session logic).

        Tracker stores only append: a stored conversation may be extended (it must be the
        start of ``events``) but not rewritten, which raises ``StoreConflict``."""
        stamp = self.assistant.event_metadata
        given = [event.with_metadata(stamp) for event in events]
        async with self.lock_store.lock(sender_id):
            tracker = await self.tracker_store.retrieve_full(sender_id)
            if tracker is None:
                tracker = Tracker(sender_id, self.assistant.domain.slots)
            stored = [event.as_dict() for event in tracker.events]
            if [event.as_dict() for event in given[: len(stored)]] != stored:
                raise StoreConflict(
                    f"conversation '{sender_id}' has other events stored; stores only append,"
                    " so its events can be extended but not replaced"
                )
            tracker.update_many(given[len(stored) :])
            await self.save(tracker)
        return tracker

    async def parse_message(self, message: UserMessage) -> ParseData:
        """What the assistant reads from a message outside any conversation (``model/parse``)."""
        tracker = Tracker(message.sender_id, self.assistant.domain.slots)
        parse_data = (await self.assistant.parse(message, tracker)).copy()
        parse_data.pop(EVENT_METADATA, None)
        parse_data.pop(TURN_NOTES, None)
        parse_data.setdefault("text", message.text)
        return parse_data

    async def fetch_full_tracker(self, sender_id: str) -> Tracker:
        """The conversation over all sessions; an unknown one shows the session start its
        first message would run, without saving it (``GET tracker``)."""
        tracker = await self.tracker_store.retrieve_full(sender_id)
        if tracker is None:
            tracker = Tracker(sender_id, self.assistant.domain.slots)
            await _Turn(self, tracker, None, None).start_session_if_needed(None)
        return tracker

    @asynccontextmanager
    async def _turn(
        self,
        sender_id: str,
        channel: str | None,
        sink: BotMessageSink | None,
        *,
        must_exist: bool = False,
    ) -> AsyncIterator[_Turn]:
        """Lock the conversation, load it, let the caller change it, save it."""
        async with self.lock_store.lock(sender_id):
            tracker = await self._retrieve(sender_id)
            if tracker is None:
                if must_exist:
                    raise UnknownConversation(sender_id)
                tracker = Tracker(sender_id, self.assistant.domain.slots)
            turn = _Turn(self, tracker, channel, sink)
            yield turn
            await self.save(tracker, remember=True)


def _is_session_start(event: ev.Event) -> bool:
    return isinstance(event, ev.ActionExecuted) and event.name == names.ACTION_SESSION_START


def _starts_session(events: Sequence[ev.Event]) -> bool:
    return (
        len(events) >= 2
        and isinstance(events[0], ev.ActionExecuted)
        and events[0].name == names.ACTION_SESSION_START
        and isinstance(events[1], ev.SessionStarted)
    )


# Events after which the applied events may be empty (they drop earlier events).
_RESETTING_EVENTS = (ev.Restarted, ev.SessionStarted, ev.ActionReverted, ev.UserUtteranceReverted)


def _has_applied_events(events: Sequence[ev.Event]) -> bool:
    """``bool(applied_events(events))`` without replaying a long conversation: any other
    last event leaves at least itself (or the loop run it collapses into) applied."""
    if not events:
        return False
    if not isinstance(events[-1], _RESETTING_EVENTS):
        return True
    return bool(applied_events(events))


class _Turn:
    """The mutable state of one turn: the tracker, the channel and the messages sent."""

    def __init__(
        self,
        processor: MessageProcessor,
        tracker: Tracker,
        channel: str | None,
        sink: BotMessageSink | None,
    ) -> None:
        self.processor = processor
        self.assistant = processor.assistant
        self.tracker = tracker
        self.context = processor.action_context(channel)
        self.sink = sink
        self.messages: list[ev.BotUttered] = []
        self.first_new_event = len(tracker.events)
        self.notes = TurnNotes()

    def result(self) -> TurnResult:
        return TurnResult(self.tracker, self.messages, self.first_new_event, self.notes)

    # -- appending ----------------------------------------------------------------------

    async def append(self, events: list[ev.Event], *, keep_timestamps: bool = False) -> None:
        """Append events stamped with now (unless kept) and the model's ids; send bot
        messages on."""
        now = time.time()
        stamp = self.assistant.event_metadata
        for event in events:
            event = event.stamped(stamp, None if keep_timestamps else now)
            self.tracker.update(event)
            if isinstance(event, ev.BotUttered):
                self.messages.append(event)
                if self.sink is not None:
                    await self.sink(event)

    # -- sessions -----------------------------------------------------------------------

    async def start_session_if_needed(self, metadata: dict[str, Any] | None) -> None:
        if not self._session_expired():
            return
        if metadata:
            await self.append(
                [ev.SlotSet(name=names.SLOT_SESSION_STARTED_METADATA, value=metadata)]
            )
        await self.run_action(names.ACTION_SESSION_START, policy=None, confidence=1.0)

    def _session_expired(self) -> bool:
        tracker = self.tracker
        if tracker.terminated:
            return False
        if not _has_applied_events(tracker.events):
            return True
        config = self.assistant.domain.session_config
        if not config.sessions_enabled or not config.start_session_after_expiry:
            return False
        last_user = next(
            (e for e in reversed(tracker.events) if isinstance(e, ev.UserUttered)), None
        )
        if last_user is None:
            return False
        return time.time() - last_user.timestamp > config.session_expiration_time * 60

    # -- the user message ---------------------------------------------------------------

    async def external_message(self, intent: str, entities: dict[str, Any]) -> UserMessage:
        """The message ``trigger_intent`` injects, parsed as the intent message it stands
        for; it arrives through the conversation's latest input channel."""
        text = f"{EXTERNAL_MESSAGE_PREFIX}{intent}"
        channel = self.tracker.latest_input_channel()
        slash = f"/{intent}{json.dumps(entities) if entities else ''}"
        parse_data = await self.assistant.parse(
            UserMessage(slash, self.tracker.sender_id, input_channel=channel), self.tracker
        )
        return UserMessage(
            text,
            self.tracker.sender_id,
            input_channel=channel,
            metadata={"is_external": True},
            parse_data={**parse_data, "text": text},
        )

    async def handle_user_message(self, message: UserMessage, *, predict: bool = True) -> None:
        if self.tracker.terminated:
            log.info("conversation %s has ended; message dropped", self.tracker.sender_id)
            return
        parse_data = message.parse_data
        if parse_data is None:
            parse_data = await self.assistant.parse(message, self.tracker)
        parse_data = parse_data.copy()
        metadata = {**message.metadata, **parse_data.pop(EVENT_METADATA, {})}
        self.notes.add(parse_data.pop(TURN_NOTES, ParseNotes()))
        user = ev.UserUttered.create(
            message.text,
            parse_data=parse_data,
            input_channel=message.input_channel,
            message_id=message.message_id,
            metadata=metadata,
        )
        await self.append([user])
        if not self.assistant.policies:
            return  # an NLU-only model: nothing predicts actions
        await self.extract_slots()
        if not predict:
            return
        for stage in self.assistant.turn_stages:
            await self.append(await stage.run(self.tracker, self.notes))
        await self.predict_and_run_actions()

    async def extract_slots(self) -> None:
        action = self.assistant.actions.get(names.ACTION_EXTRACT_SLOTS)
        try:
            await self.append(await action.run(self.tracker, self.context))
        except (ActionFailed, ActionRejected) as exc:
            log.warning("slot extraction failed: %s", exc)

    # -- the policy loop ----------------------------------------------------------------

    async def predict_and_run_actions(self) -> None:
        """Predict and run actions until one of them hands the turn back to the user."""
        predicted = 0
        while self._may_act():
            limit = self.assistant.max_predictions(self.tracker)
            if predicted >= limit:
                log.warning(
                    "circuit breaker tripped for %s after %d actions", self.tracker.sender_id, limit
                )
                return
            name, prediction = await self.predict()
            predicted += 1
            await self.run_action(
                name,
                policy=prediction.policy_name if prediction else "followup_action",
                confidence=prediction.max_confidence if prediction else 1.0,
                prediction=prediction,
            )
            if name in (names.ACTION_LISTEN, names.ACTION_SESSION_START):
                return

    def _may_act(self) -> bool:
        """A paused conversation only reacts to a restart."""
        tracker = self.tracker
        if tracker.terminated:
            return False
        latest = tracker.latest_message
        return not tracker.paused or (
            latest is not None and latest.intent_name == names.INTENT_RESTART
        )

    async def predict(self) -> tuple[str, Prediction | None]:
        """The next action: a pending follow-up action (no prediction) or the ensemble's."""
        followup = self.tracker.followup_action
        if followup is not None:
            if followup in self.assistant.actions:
                return followup, None
            log.warning("follow-up action '%s' is unknown; predicting instead", followup)
        domain = self.assistant.domain
        prediction = await ensemble.predict(self.assistant.policies, self.tracker, domain)
        return domain.action_names[prediction.action_index], prediction

    async def run_action(
        self,
        name: str,
        *,
        policy: str | None,
        confidence: float | None,
        prediction: Prediction | None = None,
    ) -> None:
        """Run one action and append what it did: the prediction's events, the ``action``
        event and the action's own events; a rejection appends only the rejection, a failure
        the ``action`` event marked as failed."""
        prediction_events = list(prediction.events) if prediction else []
        action_event = ev.ActionExecuted(
            name=name,
            policy=policy,
            confidence=confidence,
            hide_rule_turn=prediction.hide_rule_turn if prediction else False,
            metadata=dict(prediction.action_metadata) if prediction else {},
        )
        action = self.assistant.actions.get(name)
        # The action sees the prediction's events already applied.
        probe = self.tracker.copy()
        probe.update_many(prediction_events)
        context = self.context
        if prediction is not None and prediction.action_metadata:
            context = replace(context, action_metadata=prediction.action_metadata)
        try:
            events = await action.run(probe, context)
        except ActionRejected as exc:
            log.info("action '%s' rejected: %s", name, exc)
            await self.append(
                [ev.ActionExecutionRejected(name=name, policy=policy, confidence=confidence)]
            )
            return
        except ActionFailed as exc:
            log.error("action '%s' failed: %s", name, exc)
            failed = replace(
                action_event,
                metadata={
                    **action_event.metadata,
                    "execution_success": False,
                    "execution_error_message": str(exc),
                },
            )
            await self.append([*prediction_events, failed])
            for handler in self.assistant.failure_handlers:
                await self.append(handler.on_action_failed(self.tracker, name))
            return
        if any(isinstance(e, ev.ActionExecutionRejected) for e in events):
            await self.append(events)  # the action rejected itself: only its events count
            return
        await self.append([*prediction_events, action_event, *events])
        if any(isinstance(e, ev.UserUttered) for e in events):
            await self.extract_slots()
