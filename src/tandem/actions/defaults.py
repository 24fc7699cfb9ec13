"""The built-in default actions and the exact events each returns.

Each default is an async function registered under its reserved name; ``default_action(name)``
wraps it into an ``Action``. ``action_extract_slots`` lives in its own module, and forms and
CALM pattern actions are registered with the ``ActionRegistry`` by the stages that own them.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from tandem import names
from tandem.actions.base import Action, ActionContext
from tandem.actions.responses import bot_event, utter
from tandem.conversation.events import (
    ActionExecuted,
    ActiveLoop,
    Event,
    Restarted,
    RoutingSessionEnded,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from tandem.conversation.tracker import Tracker

LANGUAGE_SLOT = "language"

DefaultRun = Callable[[Tracker, ActionContext], Awaitable[list[Event]]]
_DEFAULTS: dict[str, DefaultRun] = {}


class DefaultAction(Action):
    def __init__(self, name: str, run: DefaultRun) -> None:
        self.name = name
        self._run = run

    async def run(self, tracker: Tracker, context: ActionContext) -> list[Event]:
        return await self._run(tracker, context)


def default_action(name: str) -> Action | None:
    """The built-in implementation of ``name``, or ``None`` if it is not one of ours."""
    run = _DEFAULTS.get(name)
    return None if run is None else DefaultAction(name, run)


def default_action_names() -> frozenset[str]:
    return frozenset(_DEFAULTS)


def _default(name: str) -> Callable[[DefaultRun], DefaultRun]:
    def register(run: DefaultRun) -> DefaultRun:
        _DEFAULTS[name] = run
        return run

    return register


@_default(names.ACTION_LISTEN)
@_default(names.ACTION_UNLIKELY_INTENT)
async def _nothing(tracker: Tracker, context: ActionContext) -> list[Event]:
    return []


@_default(names.ACTION_RESTART)
async def _restart(tracker: Tracker, context: ActionContext) -> list[Event]:
    # The restart queues action_session_start as the follow-up action.
    return [*utter("utter_restart", tracker, context), Restarted()]


@_default(names.ACTION_SESSION_START)
async def _session_start(tracker: Tracker, context: ActionContext) -> list[Event]:
    events: list[Event] = [SessionStarted()]
    if context.domain.session_config.carry_over_slots_to_new_session:
        # Replayed after the reset, these restore the ending session's slot values.
        events += [
            SlotSet(name=event.name, value=event.value, metadata=dict(event.metadata))
            for event in tracker.applied_events()
            if isinstance(event, SlotSet)
        ]
    session_metadata = tracker.get_slot(names.SLOT_SESSION_STARTED_METADATA)
    if (
        isinstance(session_metadata, dict)
        and "language" in session_metadata
        and tracker.has_slot(LANGUAGE_SLOT)
    ):
        events.append(SlotSet(name=LANGUAGE_SLOT, value=session_metadata["language"]))
    events.append(ActionExecuted(name=names.ACTION_LISTEN))
    return events


@_default(names.ACTION_DEFAULT_FALLBACK)
async def _default_fallback(tracker: Tracker, context: ActionContext) -> list[Event]:
    # The rewind removes the message nobody understood from the history policies see.
    return [*utter("utter_default", tracker, context), UserUtteranceReverted()]


@_default(names.ACTION_DEACTIVATE_LOOP)
async def _deactivate_loop(tracker: Tracker, context: ActionContext) -> list[Event]:
    return [ActiveLoop(name=None), SlotSet(name=names.SLOT_REQUESTED, value=None)]


@_default(names.ACTION_BACK)
async def _back(tracker: Tracker, context: ActionContext) -> list[Event]:
    # Undo the "/back" message and the user turn before it.
    return [
        *utter("utter_back", tracker, context),
        UserUtteranceReverted(),
        UserUtteranceReverted(),
    ]


@_default(names.ACTION_RESET_ROUTING)
async def _reset_routing(tracker: Tracker, context: ActionContext) -> list[Event]:
    # Explicitly None even if the routing slot had an initial value.
    return [RoutingSessionEnded(), SlotSet(name=names.ROUTING_SLOT, value=None)]


@_default(names.ACTION_SEND_TEXT)
async def _send_text(tracker: Tracker, context: ActionContext) -> list[Event]:
    """Sends the message (a dict such as ``{"text": ...}``) given under ``message`` by the
    predicting policy, else by the latest user message's metadata; nothing without one."""
    metadata = context.action_metadata or tracker.latest_message_dict().get("metadata") or {}
    message = metadata.get("message")
    return [bot_event(None, message)] if isinstance(message, dict) and message else []


# -- fallbacks ------------------------------------------------------------------------------


@_default(names.ACTION_DEFAULT_ASK_AFFIRMATION)
async def _ask_affirmation(tracker: Tracker, context: ActionContext) -> list[Event]:
    message = tracker.latest_message_dict()
    intent = (message.get("intent") or {}).get("name")
    ranking = message.get("intent_ranking") or []
    if intent == names.INTENT_NLU_FALLBACK and len(ranking) > 1:
        intent = ranking[1].get("name")  # the best guess behind the fallback
    return [
        bot_event(
            names.ACTION_DEFAULT_ASK_AFFIRMATION,
            {
                "text": f"Did you mean '{intent}'?",
                "buttons": [
                    {"title": "Yes", "payload": f"/{intent}"},
                    {"title": "No", "payload": f"/{names.INTENT_OUT_OF_SCOPE}"},
                ],
            },
        )
    ]


@_default(names.ACTION_DEFAULT_ASK_REPHRASE)
async def _ask_rephrase(tracker: Tracker, context: ActionContext) -> list[Event]:
    return utter("utter_ask_rephrase", tracker, context)


@_default(names.ACTION_TWO_STAGE_FALLBACK)
async def _two_stage_fallback(tracker: Tracker, context: ActionContext) -> list[Event]:
    """A loop: ask "did you mean X?", then for a rephrase, then give up."""
    name = names.ACTION_TWO_STAGE_FALLBACK
    if tracker.active_loop_name != name:
        return [ActiveLoop(name=name), *await _ask_affirmation(tracker, context)]
    intents = _intents_since_activation(tracker, name)
    fallback, out_of_scope = names.INTENT_NLU_FALLBACK, names.INTENT_OUT_OF_SCOPE
    if intents[-1] not in (fallback, out_of_scope):
        # Clarified: replace the unclear message by the clarified one, as if said originally.
        # Earlier turns of this loop vanish from the applied events when its runs are collapsed.
        return [
            ActiveLoop(name=None),
            UserUtteranceReverted(),
            ActionExecuted(name=names.ACTION_LISTEN),
            *_latest_message_copy(tracker, certain=True),
        ]
    two_unclear = intents[-2:] == [fallback, fallback]
    denied_twice = intents[-3:] == [out_of_scope, fallback, out_of_scope]
    if two_unclear or denied_twice:
        return [ActiveLoop(name=None), *await _default_fallback(tracker, context)]
    if intents[-1] == fallback:
        return await _ask_affirmation(tracker, context)
    return await _ask_rephrase(tracker, context)


def _intents_since_activation(tracker: Tracker, loop: str) -> list[str | None]:
    """Intents of the message that activated ``loop`` and of every user message since."""
    intents: list[str | None] = []
    for event in reversed(tracker.events):
        if isinstance(event, ActiveLoop) and event.name == loop:
            break
        if isinstance(event, UserUttered):
            intents.append(event.intent_name)
    trigger = tracker.active_loop.trigger_message if tracker.active_loop else None
    if trigger is not None:
        intents.append((trigger.get("intent") or {}).get("name"))
    return intents[::-1] or [None]


_FALLBACK_PROMPTS = (names.ACTION_DEFAULT_ASK_AFFIRMATION, names.ACTION_DEFAULT_ASK_REPHRASE)


@_default(names.ACTION_REVERT_FALLBACK_EVENTS)
async def _revert_fallback_events(tracker: Tracker, context: ActionContext) -> list[Event]:
    """Legacy helper: after a successful affirmation or rephrase, keep only the final message.

    Every user message of the exchange is rewound: the one that triggered the first prompt
    and each answer to ``action_default_ask_affirmation``/``_rephrase`` since.
    """
    prompts = _prompts_before_user_messages(tracker)
    if not prompts or prompts[-1] not in _FALLBACK_PROMPTS:
        return []
    answered = 0
    for prompt in reversed(prompts):
        if prompt not in _FALLBACK_PROMPTS:
            break
        answered += 1
    rewinds = min(answered + 1, len(prompts))
    affirmed = prompts[-1] == names.ACTION_DEFAULT_ASK_AFFIRMATION
    return [
        *(UserUtteranceReverted() for _ in range(rewinds)),
        ActionExecuted(name=names.ACTION_LISTEN),
        *_latest_message_copy(tracker, certain=affirmed),
    ]


def _prompts_before_user_messages(tracker: Tracker) -> list[str | None]:
    """For each applied user message, the last action other than ``action_listen`` before it."""
    prompts: list[str | None] = []
    last_action: str | None = None
    for event in tracker.applied_events():
        if isinstance(event, ActionExecuted) and event.name != names.ACTION_LISTEN:
            last_action = event.name
        elif isinstance(event, UserUttered):
            prompts.append(last_action)
            last_action = None
    return prompts


def _latest_message_copy(tracker: Tracker, *, certain: bool = False) -> list[Event]:
    """A fresh copy of the latest user message; ``certain`` sets its intent confidence to 1."""
    message = tracker.latest_message
    if message is None:
        return []
    parse_data = message.parse_data.copy()
    if certain:
        parse_data["intent"] = {**message.intent, "confidence": 1.0}
    return [replace(message, parse_data=parse_data, timestamp=time.time())]
