"""The error JSON of the HTTP API, and which failures mean "try again later".

Every error the server answers with has the reference's shape
``{"version", "status": "failure", "message", "reason", "details", "help", "code"}``, so clients
written against the reference read ours unchanged.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from aiohttp import web

from tandem import __version__
from tandem.stores.errors import LockError, StoreUnavailable

# Failures of the tracker store, lock store or event broker behind a turn (server down or
# unreachable, a lock that could not be had, a locked SQLite file, a lost connection): the
# client may retry, and nothing of the turn was saved (a save is all of a turn's events or
# none of them).
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    StoreUnavailable,
    LockError,
    OSError,
    sqlite3.OperationalError,
)


class ApiError(Exception):
    """An error answer: raised anywhere in a handler, rendered by the error middleware."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        help_url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.details = details or {}
        self.help_url = help_url

    def response(self) -> web.Response:
        response = error_response(
            self.status, self.reason, self.message, self.details, self.help_url
        )
        if self.status == REQUEST_TIMEOUT:
            # The rest of the body may still come: the connection cannot carry another request.
            response.force_close()
        return response


def error_response(
    status: int,
    reason: str,
    message: str,
    details: dict[str, Any] | None = None,
    help_url: str | None = None,
) -> web.Response:
    body = {
        "version": __version__,
        "status": "failure",
        "message": message,
        "reason": reason,
        "details": details or {},
        "help": help_url,
        "code": status,
    }
    return web.json_response(body, status=status)


REQUEST_TIMEOUT = 408


def request_timeout(message: str) -> ApiError:
    return ApiError(REQUEST_TIMEOUT, "RequestTimeout", message)


def bad_request(message: str, details: dict[str, Any] | None = None) -> ApiError:
    return ApiError(400, "BadRequest", message, details)


def not_found(message: str) -> ApiError:
    return ApiError(404, "NotFound", message)


# Reasons for aiohttp's own errors (unknown route, wrong method, body too large, ...).
HTTP_REASONS = {
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
}
