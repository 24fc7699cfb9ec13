"""Input channels: how users' messages reach the assistant.

``credentials.yml`` names the channels to open, each mounted under ``/webhooks/<name>/``:
``rest`` (a request per message, the reply in the response) and ``socketio`` (the web chat
widgets' protocol). Without a credentials file the REST channel is open. Channel webhooks are
never behind the API's token or JWT, as in the reference.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from aiohttp import web

from tandem.conversation.events import BotUttered
from tandem.runtime.message import DEFAULT_SENDER_ID, UserMessage
from tandem.runtime.processor import BotMessageSink
from tandem.server.context import ServerContext, context
from tandem.server.errors import UNAVAILABLE_ERRORS, ApiError
from tandem.server.output import rest_messages
from tandem.server.requests import bool_parameter, check_conversation_id, read_body
from tandem.server.schemas import RestMessage

log = logging.getLogger(__name__)

Credentials = Mapping[str, Mapping[str, Any] | None]


class Channel(Protocol):
    name: str

    def install(self, app: web.Application, server: ServerContext) -> None:
        """Add the channel's routes (and output channel, if it has one) to the app."""


async def health(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok"})


class RestChannel:
    """``POST /webhooks/rest/webhook`` with ``{"sender", "message", "metadata"}``; the answer
    is the list of bot messages, or with ``?stream=true`` one JSON message per line as each
    is produced."""

    name = "rest"

    def install(self, app: web.Application, server: ServerContext) -> None:
        app.router.add_get("/webhooks/rest/", health)
        app.router.add_post("/webhooks/rest/webhook", self.receive)

    async def receive(self, request: web.Request) -> web.StreamResponse:
        body = await read_body(request, RestMessage)
        stream = bool_parameter(request, "stream")
        sender = DEFAULT_SENDER_ID if body.sender is None else str(body.sender)
        sender = check_conversation_id(sender)
        message = UserMessage(
            body.message.strip(),
            sender,
            input_channel=body.input_channel or self.name,
            metadata=body.metadata or {},
        )
        if stream:
            return await self._stream(request, message)
        collected: list[dict[str, Any]] = []

        async def collect(event: BotUttered) -> None:
            collected.extend(rest_messages(sender, [event]))

        await _handle(request, message, collect)
        return web.json_response(collected)

    async def _stream(self, request: web.Request, message: UserMessage) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)

        async def send(event: BotUttered) -> None:
            for part in rest_messages(message.sender_id, [event]):
                await response.write(json.dumps(part).encode() + b"\n")

        try:
            await _handle(request, message, send)
        except _STREAM_ERRORS as error:  # headers are sent: end the stream
            log.error("REST message of %s failed: %s", message.sender_id, error)
        await response.write_eof()
        return response


# Failures that end a stream whose headers are already sent.
_STREAM_ERRORS: tuple[type[BaseException], ...] = (ApiError, *UNAVAILABLE_ERRORS)


async def _handle(request: web.Request, message: UserMessage, sink: BotMessageSink) -> None:
    """Run the turn. A store that is down is the client's 503; any other failure is logged
    and the messages sent so far stand, as the reference does for its REST channel."""
    async with context(request).slot.use() as processor:
        try:
            await processor.handle_message(message, sink)
        except UNAVAILABLE_ERRORS:
            raise
        except Exception:
            log.exception("handling a message of %s failed", message.sender_id)


def build_channels(credentials: Credentials | None, connector: str | None = None) -> list[Channel]:
    """The channels ``credentials.yml`` asks for (REST alone when there is no such file);
    ``connector`` keeps only the channel of that name."""
    from tandem.server.socketio_channel import SocketIOChannel

    if credentials is None or (not credentials and connector is None):
        credentials = {"rest": None}
    channels: list[Channel] = []
    for name, settings in credentials.items():
        if connector is not None and name != connector:
            continue
        if name == "rest":
            channels.append(RestChannel())
        elif name == "socketio":
            channels.append(SocketIOChannel(settings or {}))
        else:
            log.warning("channel '%s' in the credentials is not supported; it stays closed", name)
    if connector is not None and not channels:
        if connector == "rest":
            channels.append(RestChannel())
        elif connector == "socketio":
            channels.append(SocketIOChannel({}))
        else:
            raise ValueError(f"unknown connector '{connector}'; use rest or socketio")
    return channels
