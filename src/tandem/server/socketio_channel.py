"""The socket.io channel that web chat widgets (rasa-webchat, chatwidget, ...) speak.

python-socketio runs the socket.io protocol (it mounts on aiohttp, so the channel shares the
server's port and event loop). The exchange, as in the reference:

* the client emits ``session_request`` ``{"session_id": id or null}``; the server answers
  ``session_confirm`` with the id (a new one if none was given). With
  ``session_persistence: true`` the socket joins a room named after the session id, which is
  then the conversation id, so a reloaded page continues its conversation; otherwise the
  conversation id is the socket id;
* the client emits ``user_uttered`` ``{"message", "session_id", "metadata"}``; every bot
  message comes back as a ``bot_uttered`` event as soon as its action has run.

Credentials keys: ``user_message_evt``, ``bot_message_evt``, ``session_persistence``,
``namespace``, ``socketio_path``, ``jwt_key``, ``jwt_method``, ``metadata_key``.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any

import jwt
import socketio
from aiohttp import web

from tandem.conversation.events import BotUttered
from tandem.runtime.message import UserMessage
from tandem.runtime.processor import BotMessageSink
from tandem.server.auth import check_jwt_method
from tandem.server.channels import health
from tandem.server.context import ServerContext
from tandem.server.errors import ApiError
from tandem.server.output import socketio_custom, socketio_payloads
from tandem.server.requests import conversation_id_problem

log = logging.getLogger(__name__)


class SocketIOChannel:
    name = "socketio"

    def __init__(self, credentials: Mapping[str, Any]) -> None:
        self.user_message_evt = str(credentials.get("user_message_evt") or "user_uttered")
        self.bot_message_evt = str(credentials.get("bot_message_evt") or "bot_uttered")
        self.session_persistence = bool(credentials.get("session_persistence", False))
        self.namespace: str | None = credentials.get("namespace")
        self.path = str(credentials.get("socketio_path") or "/socket.io")
        self.jwt_key: str | None = credentials.get("jwt_key")
        self.jwt_method = str(credentials.get("jwt_method") or "HS256")
        self.metadata_key = str(credentials.get("metadata_key") or "metadata")
        if self.jwt_key is not None:
            check_jwt_method(self.jwt_method)
        self.sio: socketio.AsyncServer | None = None
        self._server: ServerContext | None = None

    def install(self, app: web.Application, server: ServerContext) -> None:
        # CORS is answered by the app's own middleware for every route alike.
        self.sio = socketio.AsyncServer(
            async_mode="aiohttp",
            cors_allowed_origins=[],
            max_http_buffer_size=server.max_body_bytes,
        )
        self.sio.attach(app, socketio_path=self.path.strip("/"))
        self._server = server
        for event, handler in (
            ("connect", self._connect),
            ("session_request", self._session_request),
            (self.user_message_evt, self._user_message),
        ):
            self.sio.on(event, handler, namespace=self.namespace)
        app.router.add_get("/webhooks/socketio/", health)
        server.outputs[self.name] = self.output
        app.on_shutdown.append(self._disconnect_all)

    async def _disconnect_all(self, app: web.Application) -> None:
        """Open sockets would keep the server's shutdown waiting for its full timeout."""
        if self.sio is not None:
            await self.sio.shutdown()

    # -- output ---------------------------------------------------------------------------

    def output(self, recipient_id: str) -> BotMessageSink:
        """Emits each bot message to the conversation's room (a socket id is a room too)."""

        async def send(event: BotUttered) -> None:
            assert self.sio is not None
            message = event.message()
            for payload in socketio_payloads(message):
                await self._emit(payload, recipient_id)
            if message.get("custom") is not None:
                await self._emit(socketio_custom(message), recipient_id)

        return send

    async def _emit(self, payload: Any, room: str) -> None:
        assert self.sio is not None
        await self.sio.emit(self.bot_message_evt, payload, room=room, namespace=self.namespace)

    # -- input ----------------------------------------------------------------------------

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        if self.jwt_key is None:
            return True
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            jwt.decode(str(token), self.jwt_key, algorithms=[self.jwt_method])
        except jwt.PyJWTError:
            log.warning("socket.io connection refused: no valid JWT in the connect auth")
            return False
        return True

    async def _session_request(self, sid: str, data: Any = None) -> None:
        assert self.sio is not None
        data = data if isinstance(data, dict) else {}
        session_id = data.get("session_id") or uuid.uuid4().hex
        session_id = str(session_id)
        if self.session_persistence:
            await self.sio.enter_room(sid, session_id, namespace=self.namespace)
        await self.sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

    async def _user_message(self, sid: str, data: Any = None) -> None:
        assert self.sio is not None and self._server is not None
        if not isinstance(data, dict) or not isinstance(data.get("message"), str):
            log.warning("socket.io message without text from %s dropped", sid)
            return
        if self.session_persistence:
            session_id = data.get("session_id")
            if not session_id:
                log.warning("socket.io message without a session_id dropped (persistence is on)")
                return
            sender = str(session_id)
            # A page reloaded after a server restart has not asked for its session again.
            await self.sio.enter_room(sid, sender, namespace=self.namespace)
        else:
            sender = sid
        problem = conversation_id_problem(sender)
        if problem is not None:
            log.warning("socket.io message dropped: %s", problem)
            return
        message = UserMessage(
            data["message"].strip(),
            sender,
            input_channel=self.name,
            metadata=_metadata(data.get(self.metadata_key)),
        )
        try:
            async with self._server.slot.use() as processor:
                await processor.handle_message(message, self.output(sender))
        except ApiError as error:
            log.error("socket.io message of %s not handled: %s", sender, error.message)
        except Exception:
            log.exception("handling a socket.io message of %s failed", sender)


def _metadata(value: Any) -> dict[str, Any]:
    """Widgets send metadata as an object or as a JSON string."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}
