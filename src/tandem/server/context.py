"""What every handler of one server shares, stored once on the aiohttp application."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from tandem.runtime.processor import BotMessageSink
from tandem.server.auth import AuthConfig
from tandem.server.slot import ProcessorSlot

# A channel that can push messages on its own (socket.io): recipient id -> where to send.
OutputFactory = Callable[[str], BotMessageSink]


@dataclass
class ServerContext:
    slot: ProcessorSlot
    auth: AuthConfig = field(default_factory=AuthConfig)
    # Input channels whose output channel the API's ``output_channel`` parameter may name.
    outputs: dict[str, OutputFactory] = field(default_factory=dict)
    # How long shutdown waits for in-flight turns.
    shutdown_timeout: float = 30.0
    # The largest request body (and socket.io message) accepted.
    max_body_bytes: int = 1024 * 1024


CONTEXT = web.AppKey("tandem_context", ServerContext)


def context(request: web.Request) -> ServerContext:
    return request.app[CONTEXT]
