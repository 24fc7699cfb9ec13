"""An incoming user message, as a channel hands it to the processor."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from tandem.conversation.parse_data import ParseData

DEFAULT_SENDER_ID = "default"


@dataclass(frozen=True, slots=True)
class UserMessage:
    text: str
    sender_id: str = DEFAULT_SENDER_ID
    input_channel: str | None = None
    message_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    metadata: dict[str, Any] = field(default_factory=dict)
    # Parse data supplied by the caller (HTTP ``/messages``); skips the NLU pipeline.
    parse_data: ParseData | None = None
