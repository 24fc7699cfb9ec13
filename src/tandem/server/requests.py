"""Reading requests: JSON bodies (checked against their models in ``schemas``) and query
parameters, each bad value a 400 with its reason.

Bodies are checked before anything touches a conversation, so a malformed request never
leaves half a change behind.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from tandem.conversation.tracker import VERBOSITIES
from tandem.server.errors import ApiError, bad_request, request_timeout

# Tracker stores keep conversation ids in VARCHAR(255) columns (the reference's SQL layout).
MAX_CONVERSATION_ID_LENGTH = 255
# A client that announces a longer body than it sends would hold its handler until it hangs up.
BODY_TIMEOUT = 10.0

Body = TypeVar("Body", bound=BaseModel)


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


async def read_body(request: web.Request, model: type[Body]) -> Body:
    """The JSON object body checked against its model (``schemas``); a 400 names the first
    problem."""
    data = await read_object(request)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise invalid_body(error) from None


def invalid_body(error: ValidationError) -> ApiError:
    first = error.errors()[0]
    if first["type"] == "refused":  # a model's own check, with its own words
        context = first.get("ctx") or {}
        return bad_request(context["message"], context.get("details"))
    if first["type"] == "missing" or first["input"] is None:  # null counts as absent
        return bad_request(f"'{location(first)}' is missing from the request body.")
    return bad_request(f"{problem(first)}.")


def problem(error: ErrorDetails) -> str:
    """One pydantic error in the API's words: "'entities.0' must be an object"."""
    kind = _KINDS.get(error["type"])
    if kind is None:
        return f"'{location(error)}' is invalid: {error['msg']}"
    return f"'{location(error)}' must be {kind}"


def location(error: ErrorDetails) -> str:
    return ".".join(str(part) for part in error["loc"])


_KINDS = {
    "string_type": "a string",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "list_type": "a list",
    "int_type": "a number",
    "float_type": "a number",
    "bool_type": "true or false",
}


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
