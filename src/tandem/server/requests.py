"""Reading requests: JSON bodies and query parameters, each bad value a 400 with its reason.

Bodies are checked before anything touches a conversation, so a malformed request never
leaves half a change behind.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from tandem.conversation.tracker import VERBOSITIES
from tandem.server.errors import bad_request, request_timeout

# Tracker stores keep conversation ids in VARCHAR(255) columns (the reference's SQL layout).
MAX_CONVERSATION_ID_LENGTH = 255
# A client that announces a longer body than it sends would hold its handler until it hangs up.
BODY_TIMEOUT = 10.0


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


async def read_json(request: web.Request, *, required: bool = True) -> Any:
    """The body as JSON. Reading enforces the app's body limit (413 beyond it), and a body
    that does not arrive within ``BODY_TIMEOUT`` seconds is a 408."""
    try:
        raw = await asyncio.wait_for(request.read(), BODY_TIMEOUT)
    except TimeoutError:
        raise request_timeout(
            f"The request body did not arrive within {BODY_TIMEOUT:g} seconds."
        ) from None
    if not raw.strip():
        if required:
            raise bad_request("The request has no body; a JSON body is required.")
        return None
    try:
        data = json.loads(raw, parse_constant=_no_constants)  # NaN/Infinity are not JSON
        # Lone surrogates parse but cannot be stored or sent on as UTF-8.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError) as error:
        raise bad_request(f"The request body is not valid JSON: {error}") from None
    return data


async def read_object(request: web.Request) -> dict[str, Any]:
    data = await read_json(request)
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.")
    return data


def optional_field(body: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """``body[key]`` if present and not null, checked against ``kind``."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _kinds(kind)):
        raise bad_request(f"'{key}' must be {_describe(kind)}.")
    return value


def required_field(body: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = optional_field(body, key, kind)
    if value is None:
        raise bad_request(f"'{key}' is missing from the request body.")
    return value


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


_NAMES = {str: "a string", dict: "an object", list: "a list", int: "a number", float: "a number"}


def _describe(kind: type | tuple[type, ...]) -> str:
    return " or ".join(dict.fromkeys(_NAMES.get(k, k.__name__) for k in _kinds(kind)))


def conversation_id(request: web.Request) -> str:
    return check_conversation_id(request.match_info["conversation_id"])


def check_conversation_id(value: str) -> str:
    problem = conversation_id_problem(value)
    if problem is not None:
        raise bad_request(problem)
    return value


def conversation_id_problem(value: str) -> str | None:
    """Why ``value`` cannot name a conversation in every tracker store, or None."""
    if len(value) > MAX_CONVERSATION_ID_LENGTH:
        return f"The conversation id is longer than {MAX_CONVERSATION_ID_LENGTH} characters."
    if "\x00" in value:  # PostgreSQL text cannot hold it
        return "The conversation id contains a NUL character."
    if not _is_utf8(value):
        return "The conversation id is not valid UTF-8 text."
    return None


def _is_utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


def include_events(request: web.Request, default: str = "AFTER_RESTART") -> str:
    value = request.query.get("include_events", default)
    if value.upper() not in VERBOSITIES:
        raise bad_request(
            f"Invalid value '{value}' for 'include_events'; use one of {', '.join(VERBOSITIES)}.",
            {"parameter": "include_events", "in": "query"},
        )
    return value.upper()


def float_parameter(request: web.Request, name: str) -> float | None:
    value = request.query.get(name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if number != number or number in (float("inf"), float("-inf")):
        raise bad_request(f"'{name}' must be a number.", {"parameter": name, "in": "query"})
    return number


def bool_parameter(request: web.Request, name: str, default: bool = False) -> bool:
    value = request.query.get(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise bad_request(f"'{name}' must be true or false.", {"parameter": name, "in": "query"})
