"""What a turn's events do not hold, stored with them while the inspector runs: the LLM
calls of the turn (prompt, raw answer or error, tokens, latency, cassette hit) and the
commands that command cleaning and the command processor dropped, with why.

Both are otherwise known only to the process that ran the turn (``TurnNotes``, the LLM
observers). Written into the stored user event's ``parse_data["inspect"]`` before the save,
they reach the tracker store, so any worker's inspector page shows them. Prompts run to
kilobytes, so this happens only in a server started with the inspector.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any, Final

from tandem.conversation import events as ev
from tandem.conversation.tracker import Tracker
from tandem.llm import LLMCall, observe_llm_calls
from tandem.runtime.assistant import TurnNotes

# The key of the user event's parse data that holds the recording.
INSPECT_KEY: Final = "inspect"


@contextmanager
def record_turn(tracker: Tracker, first_new_event: int, notes: TurnNotes) -> Iterator[None]:
    """Observe the turn's LLM calls; afterwards add them and the dropped commands to the
    turn's user event (a ``MessageProcessor.turn_recorder``)."""
    calls: list[LLMCall] = []
    with observe_llm_calls(calls.append):
        yield
    new_events = tracker.events[first_new_event:]
    user = next((e for e in new_events if isinstance(e, ev.UserUttered)), None)
    recording: dict[str, Any] = {}
    if calls:
        recording["llm_calls"] = [_call(call) for call in calls]
    if notes.rejected_commands:
        recording["rejected_commands"] = [dict(item) for item in notes.rejected_commands]
    if notes.command_sources:
        recording["command_sources"] = [dict(item) for item in notes.command_sources]
    if user is not None and recording:
        # The event is not stored yet (the processor saves after this block), so the
        # recording is stored with it.
        user.parse_data[INSPECT_KEY] = recording


def recorded(user: ev.UserUttered, key: str) -> list[dict[str, Any]]:
    """One part of a user event's recording (``llm_calls``, ``rejected_commands``,
    ``command_sources``)."""
    recording = user.parse_data.get(INSPECT_KEY)
    if not isinstance(recording, dict):
        return []
    return list(recording.get(key) or [])


def _call(call: LLMCall) -> dict[str, Any]:
    return {
        "model": call.model,
        "prompt": call.prompt,
        "answer": call.answer,
        "error": call.error,
        "usage": asdict(call.usage),
        "latency_ms": round(call.latency_ms, 1),
        "replayed": call.replayed,
    }
