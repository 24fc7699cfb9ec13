"""An OpenAPI description of the routes a server actually has, served at ``/openapi.json``.

It is built from the server's configuration (API on or off, which channels, which auth, the
inspector or not), so clients, API explorers and contract testers (schemathesis runs against
it in our tests) see exactly what this server answers. The paths, parameters and status codes
are written here; every body is the JSON schema of the pydantic model its handler reads or
answers (``schemas``, and ``event_input`` for events), so the shapes are written once. The
models' schemas are JSON Schema 2020-12, hence OpenAPI 3.1.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from tandem import __version__
from tandem.conversation.tracker import VERBOSITIES
from tandem.server import schemas as s
from tandem.server.event_input import EVENT_UNION
from tandem.server.requests import MAX_CONVERSATION_ID_LENGTH

_REF_TEMPLATE = "#/components/schemas/{model}"
_OBJECT: dict[str, Any] = {"type": "object"}


def _ref(model: type[BaseModel] | str) -> dict[str, Any]:
    return {"$ref": _REF_TEMPLATE.format(model=model if isinstance(model, str) else model.__name__)}


def _json(schema: type[BaseModel] | dict[str, Any]) -> dict[str, Any]:
    """A JSON content entry: a model's component, or a schema written here."""
    if isinstance(schema, type):
        schema = _ref(schema)
    return {"content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, **_json(s.Error)}


_ERRORS = {
    "400": _error("The request is malformed; `message` says why."),
    "413": _error("The request body is larger than the server accepts."),
    "503": _error("A store behind the server is unavailable; nothing was changed."),
}
_AUTH_ERRORS = {
    "401": _error("No valid token or JWT."),
    "403": _error("The JWT's user may not access this conversation."),
}
_MODEL_ERRORS = {"409": _error("No model is loaded.")}
_NOT_FOUND = {"404": _error("Unknown conversation, intent or action.")}


def _body(schema: type[BaseModel] | dict[str, Any]) -> dict[str, Any]:
    return {"required": True, **_json(schema)}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


_CONVERSATION_ID = {
    "name": "conversation_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_CONVERSATION_ID_LENGTH},
}
_INCLUDE_EVENTS = _query(
    "include_events",
    {"type": "string", "enum": list(VERBOSITIES)},
    "Which events the tracker lists (default AFTER_RESTART).",
)
_OUTPUT_CHANNEL = _query(
    "output_channel",
    {"type": "string"},
    "Send bot messages to this channel's output (`latest`: the conversation's latest input "
    "channel) instead of returning them.",
)


def _operation(
    summary: str,
    responses: dict[str, Any],
    *,
    protected: bool,
    needs_model: bool = True,
    parameters: Iterable[dict[str, Any]] = (),
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": dict(responses)}
    if parameters:
        operation["parameters"] = list(parameters)
    if body is not None:
        operation["requestBody"] = body
        operation["responses"].update(_ERRORS)
    else:
        operation["responses"].setdefault("400", _ERRORS["400"])
        operation["responses"].setdefault("503", _ERRORS["503"])
    if protected:
        operation["responses"].update(_AUTH_ERRORS)
    if needs_model:
        operation["responses"].update(_MODEL_ERRORS)
    return operation


def _ok(description: str, schema: type[BaseModel] | dict[str, Any]) -> dict[str, Any]:
    return {"200": {"description": description, **_json(schema)}}


def _api_paths() -> dict[str, Any]:
    conversation = "/conversations/{conversation_id}"
    tracker_ok = _ok("The conversation's tracker.", s.Tracker)
    turn_ok = _ok("The tracker and the bot messages of the turn.", s.TurnResult)
    events = {"type": "array", "items": _ref("Event")}
    return {
        "/version": {
            "get": _operation(
                "Server version.", _ok("Versions.", s.Version), protected=False, needs_model=False
            )
        },
        "/status": {
            "get": _operation(
                "The loaded model.", _ok("Model file and id.", s.Status), protected=True
            )
        },
        f"{conversation}/tracker": {
            "get": _operation(
                "The conversation over all sessions (a new one shows its session start).",
                tracker_ok,
                protected=True,
                parameters=[
                    _CONVERSATION_ID,
                    _INCLUDE_EVENTS,
                    _query("until", {"type": "number"}, "Only events up to this timestamp."),
                ],
            )
        },
        f"{conversation}/tracker/events": {
            "post": _operation(
                "Append events (a session start first for a new conversation).",
                tracker_ok,
                protected=True,
                parameters=[
                    _CONVERSATION_ID,
                    _INCLUDE_EVENTS,
                    _OUTPUT_CHANNEL,
                    _query(
                        "execute_side_effects",
                        {"type": "boolean"},
                        "Send appended bot messages to the output channel.",
                    ),
                ],
                body=_body({"oneOf": [_ref("Event"), events]}),
            ),
            "put": _operation(
                "Replace the conversation's events.",
                tracker_ok,
                protected=True,
                parameters=[_CONVERSATION_ID, _INCLUDE_EVENTS],
                body=_body(events),
            ),
        },
        f"{conversation}/messages": {
            "post": _operation(
                "Add a user message without predicting actions.",
                tracker_ok,
                protected=True,
                parameters=[_CONVERSATION_ID, _INCLUDE_EVENTS],
                body=_body(s.MessageRequest),
            )
        },
        f"{conversation}/trigger_intent": {
            "post": _operation(
                "Handle an intent as if the user had sent it.",
                {**turn_ok, **_NOT_FOUND},
                protected=True,
                parameters=[_CONVERSATION_ID, _INCLUDE_EVENTS, _OUTPUT_CHANNEL],
                body=_body(s.TriggerIntentRequest),
            )
        },
        f"{conversation}/predict": {
            "post": _operation(
                "Score the next action without running it.",
                {**_ok("Scores, sorted by score, then action name.", s.Prediction), **_NOT_FOUND},
                protected=True,
                parameters=[_CONVERSATION_ID, _INCLUDE_EVENTS],
            )
        },
        f"{conversation}/execute": {
            "post": _operation(
                "Run one action (deprecated in the reference).",
                {**turn_ok, **_NOT_FOUND},
                protected=True,
                parameters=[_CONVERSATION_ID, _INCLUDE_EVENTS, _OUTPUT_CHANNEL],
                body=_body(s.ExecuteRequest),
            )
        },
        "/model/parse": {
            "post": _operation(
                "Parse a message outside any conversation.",
                _ok("Intent, entities and (CALM) commands.", s.ParseResult),
                protected=True,
                parameters=[
                    _query("emulation_mode", {"type": "string"}, "Not supported: always 400.")
                ],
                body=_body(s.ParseRequest),
            )
        },
        "/model": {
            "put": _operation(
                "Load another model archive (or the newest in a folder).",
                {
                    "204": {"description": "Loaded."},
                    "409": _error("The server cannot load models."),
                },
                protected=True,
                needs_model=False,
                body=_body(s.LoadModelRequest),
            ),
            "delete": _operation(
                "Unload the model.",
                {"204": {"description": "Unloaded."}},
                protected=True,
                needs_model=False,
            ),
        },
        "/domain": {
            "get": _operation(
                "The domain, as JSON or YAML (by the Accept header).",
                {
                    "200": {
                        "description": "The domain.",
                        "content": {
                            "application/json": {"schema": _OBJECT},
                            "application/x-yaml": {"schema": {"type": "string"}},
                        },
                    },
                    "406": _error("Neither JSON nor YAML is acceptable."),
                },
                protected=True,
            )
        },
    }


def _channel_paths(channels: Iterable[str]) -> dict[str, Any]:
    health = {
        "get": _operation(
            "Channel health.", _ok("Up.", s.ChannelHealth), protected=False, needs_model=False
        )
    }
    paths: dict[str, Any] = {}
    for name in channels:
        paths[f"/webhooks/{name}/"] = health
        if name == "rest":
            paths["/webhooks/rest/webhook"] = {
                "post": _operation(
                    "Send a user message; the answer lists the bot messages.",
                    _ok("Bot messages.", {"type": "array", "items": _ref(s.BotMessage)}),
                    protected=False,
                    parameters=[
                        _query(
                            "stream",
                            {"type": "boolean"},
                            "Stream messages as newline-delimited JSON as they are produced.",
                        )
                    ],
                    body=_body(s.RestMessage),
                )
            }
    return paths


def _inspect_paths() -> dict[str, Any]:
    """The data routes of ``tandem inspect`` (its page's static files are not an API)."""
    conversation = "/inspect/api/conversations/{conversation_id}"

    def get(summary: str, responses: dict[str, Any], *parameters: dict[str, Any]) -> Any:
        return {"get": _operation(summary, responses, protected=True, parameters=parameters)}

    def text(description: str, media_type: str) -> dict[str, Any]:
        return {
            "200": {
                "description": description,
                "content": {media_type: {"schema": {"type": "string"}}},
            }
        }

    return {
        "/inspect/api/conversations": get(
            "The ids of the stored conversations, sorted.",
            _ok("Conversation ids.", {"type": "array", "items": {"type": "string"}}),
        ),
        conversation: get(
            "The conversation as the inspector shows it (empty until its first message).",
            _ok("Turns, slots, dialogue stack and active flow.", s.InspectedConversation),
            _CONVERSATION_ID,
        ),
        f"{conversation}/stream": get(
            "The conversation as server-sent `conversation` events, sent again when it changes.",
            text("An event stream.", "text/event-stream"),
            _CONVERSATION_ID,
        ),
        f"{conversation}/e2e.yml": get(
            "The conversation as an end-to-end test case.",
            text("The test case, as a YAML file.", "application/x-yaml"),
            _CONVERSATION_ID,
        ),
        "/inspect/api/flows/{flow_id}.svg": get(
            "A flow as a picture, one step highlighted.",
            {
                **text("The flow.", "image/svg+xml"),
                "404": _error("The assistant has no such flow."),
            },
            {"name": "flow_id", "in": "path", "required": True, "schema": {"type": "string"}},
            _query("step", {"type": "string"}, "The step to highlight."),
        ),
    }


# Every model the description refers to; the models they use come along as their own
# components.
_MODELS: tuple[type[BaseModel], ...] = (
    s.Error,
    s.Version,
    s.Status,
    s.Tracker,
    s.TurnResult,
    s.Prediction,
    s.BotMessage,
    s.ParseResult,
    s.MessageRequest,
    s.TriggerIntentRequest,
    s.ExecuteRequest,
    s.ParseRequest,
    s.LoadModelRequest,
    s.RestMessage,
    s.ChannelHealth,
    s.InspectedConversation,
)


def _schemas() -> dict[str, Any]:
    _, document = models_json_schema(
        [(model, "validation") for model in _MODELS], ref_template=_REF_TEMPLATE
    )
    schemas: dict[str, Any] = document["$defs"]
    event = EVENT_UNION.json_schema(ref_template=_REF_TEMPLATE)
    schemas.update(event.pop("$defs"))
    schemas["Event"] = event
    return schemas


def openapi_description(
    *, enable_api: bool, channels: Iterable[str], auth_enabled: bool, inspect: bool = False
) -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/": {
            "get": {
                "summary": "Greeting with the server version.",
                "responses": {
                    "200": {
                        "description": "Hello text.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        }
    }
    if enable_api:
        paths.update(_api_paths())
    paths.update(_channel_paths(channels))
    if inspect:
        paths.update(_inspect_paths())
    description: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Tandem HTTP API",
            "version": __version__,
            "description": "The HTTP API and channel webhooks of a Tandem server, "
            "compatible with the Rasa 3.x HTTP API and REST channel.",
        },
        "paths": paths,
        "components": {"schemas": _schemas()},
    }
    if auth_enabled:
        description["components"]["securitySchemes"] = {
            "token": {"type": "apiKey", "in": "query", "name": "token"},
            "bearer": {"type": "http", "scheme": "bearer"},
        }
        for path in paths.values():
            for operation in path.values():
                if "401" in operation["responses"]:
                    operation["security"] = [{"token": []}, {"bearer": []}]
    return description
