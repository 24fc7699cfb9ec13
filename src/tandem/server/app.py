"""The aiohttp application of ``tandem run``: the HTTP API, the channels and their plumbing.

aiohttp serves everything on one port and one event loop: the API, the REST webhook and the
socket.io channel (python-socketio mounts on aiohttp). Cross-cutting rules live in middlewares:
every error becomes the reference's error JSON, bodies over the limit are refused with 413
before they are read, a store that is down is a 503, and CORS is answered for all routes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiohttp import web
from aiohttp.typedefs import Handler

from tandem.runtime.processor import MessageProcessor
from tandem.server import api
from tandem.server.auth import DEFAULT_JWT_METHOD, AuthConfig
from tandem.server.channels import Credentials, build_channels
from tandem.server.context import CONTEXT, ServerContext
from tandem.server.errors import HTTP_REASONS, UNAVAILABLE_ERRORS, ApiError, error_response
from tandem.server.openapi import openapi_description
from tandem.server.slot import ModelLoader, ProcessorSlot
from tandem.stores.errors import StoreConflict

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024


def create_app(
    processor: MessageProcessor | None,
    *,
    enable_api: bool = False,
    auth_token: str | None = None,
    jwt_secret: str | None = None,
    jwt_method: str = DEFAULT_JWT_METHOD,
    cors: Sequence[str] = (),
    credentials: Credentials | None = None,
    connector: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    model_file: str | None = None,
    model_loader: ModelLoader | None = None,
    shutdown_timeout: float = 30.0,
    inspect: bool = False,
) -> web.Application:
    """A server for ``processor`` (None: start without a model; ``PUT /model`` loads one).

    ``inspect`` adds the inspector's page and data routes under ``/inspect`` (``tandem
    inspect``), behind the same token or JWT as the API.

    ``model_loader`` opens a processor for another archive (``PUT /model``); the app closes
    whichever processor it holds on cleanup, after in-flight turns have finished.
    """
    app = web.Application(client_max_size=max_body_bytes, middlewares=[_error_middleware])
    if cors:
        _Cors(cors).install(app)
    server = ServerContext(
        slot=ProcessorSlot(processor, model_file, model_loader),
        auth=AuthConfig(auth_token or None, jwt_secret or None, jwt_method),
        shutdown_timeout=shutdown_timeout,
        max_body_bytes=max_body_bytes,
    )
    app[CONTEXT] = server
    app.add_routes(api.routes(enable_api))
    channels = build_channels(credentials, connector)
    for channel in channels:
        channel.install(app, server)
    if inspect:
        from tandem.server.inspect.routes import install as install_inspector

        install_inspector(app)
    description = openapi_description(
        enable_api=enable_api,
        channels=[channel.name for channel in channels],
        auth_enabled=server.auth.enabled,
        inspect=inspect,
    )

    async def openapi(request: web.Request) -> web.Response:
        return web.json_response(description)

    app.router.add_get("/openapi.json", openapi)
    app.on_cleanup.append(_close_processor)
    return app


async def _close_processor(app: web.Application) -> None:
    server = app[CONTEXT]
    await server.slot.aclose(server.shutdown_timeout)


@web.middleware
async def _error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    limit = request.app[CONTEXT].max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return _too_large(limit)
    try:
        return await handler(request)
    except ApiError as error:
        return error.response()
    except web.HTTPRequestEntityTooLarge:
        return _too_large(limit)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        response = error_response(
            error.status, HTTP_REASONS.get(error.status, error.reason), error.reason
        )
        if "Allow" in error.headers:
            response.headers["Allow"] = error.headers["Allow"]
        return response
    except StoreConflict as error:
        return error_response(409, "Conflict", str(error))
    except UNAVAILABLE_ERRORS as error:
        log.error("%s %s: a store is unavailable: %s", request.method, request.path, error)
        return error_response(
            503,
            "ServiceUnavailable",
            "A store behind the server is unavailable; nothing was changed. Try again later.",
        )
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error_response(500, "ConversationError", "An unexpected error occurred.")


def _too_large(limit: int) -> web.Response:
    return error_response(
        413, "PayloadTooLarge", f"The request body is larger than {limit} bytes.", {"limit": limit}
    )


class _Cors:
    """CORS for the configured origins (``*`` = all): preflights are answered here, and the
    allow-origin header is added as any response (streamed ones too) is about to be sent."""

    def __init__(self, origins: Sequence[str]) -> None:
        self.origins = frozenset(origins)

    def install(self, app: web.Application) -> None:
        app.middlewares.insert(0, self.preflight)
        app.on_response_prepare.append(self.tag)

    def _allowed(self, request: web.Request) -> str | None:
        origin = request.headers.get("Origin")
        if origin is None:
            return None
        if "*" in self.origins:
            return "*"
        return origin if origin in self.origins else None

    @web.middleware
    async def preflight(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return await handler(request)
        response = web.Response(status=204)
        if self._allowed(request) is not None:
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, DELETE, OPTIONS"
            requested = request.headers.get("Access-Control-Request-Headers")
            if requested:
                response.headers["Access-Control-Allow-Headers"] = requested
        return response

    async def tag(self, request: web.Request, response: web.StreamResponse) -> None:
        origin = self._allowed(request)
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            if origin != "*":
                response.headers["Vary"] = "Origin"
