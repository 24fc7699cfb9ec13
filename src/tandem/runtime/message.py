"""An incoming user message, as a channel hands it to the processor."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

DEFAULT_SENDER_ID = "default"
# Parse data key of metadata for the user event (e.g. the router's verdict); the processor
# moves it from the parse data into the event's metadata.
EVENT_METADATA = "event_metadata"
# Parse data key of what reading the message notes for the turn's ``TurnNotes`` (field name
# -> items: the commands the generators dropped, which component gave which command); the
# processor moves it into the turn's notes, so it is never stored.
TURN_NOTES = "turn_notes"


@dataclass(frozen=True, slots=True)
class UserMessage:
    text: str
    sender_id: str = DEFAULT_SENDER_ID
    input_channel: str | None = None
    message_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    metadata: dict[str, Any] = field(default_factory=dict)
    # Parse data supplied by the caller (HTTP ``/messages``); skips the NLU pipeline.
    parse_data: dict[str, Any] | None = None
