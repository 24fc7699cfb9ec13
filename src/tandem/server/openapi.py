"""An OpenAPI 3 description of the routes a server actually has, served at ``/openapi.json``.

It is built from the server's configuration (API on or off, which channels, which auth), so
clients, API explorers and contract testers (schemathesis runs against it in our tests) see
exactly what this server answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tandem import __version__
from tandem.conversation.events import Event, is_known_event_name
from tandem.conversation.tracker import VERBOSITIES
from tandem.server.requests import MAX_CONVERSATION_ID_LENGTH

_OBJECT: dict[str, Any] = {"type": "object"}
_NULLABLE_STRING: dict[str, Any] = {"type": "string", "nullable": True}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, **_json(_ref("Error"))}


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


def _body(schema: dict[str, Any]) -> dict[str, Any]:
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


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"200": {"description": description, **_json(schema)}}


def _api_paths() -> dict[str, Any]:
    conversation = "/conversations/{conversation_id}"
    tracker_ok = _ok("The conversation's tracker.", _ref("Tracker"))
    turn_ok = _ok(
        "The tracker and the bot messages of the turn.",
        {
            "type": "object",
            "required": ["tracker", "messages"],
            "properties": {
                "tracker": _ref("Tracker"),
                "messages": {"type": "array", "items": _ref("BotMessage")},
            },
        },
    )
    events_body = _body({"oneOf": [_ref("Event"), {"type": "array", "items": _ref("Event")}]})
    return {
        "/version": {
            "get": _operation(
                "Server version.",
                _ok(
                    "Versions.",
                    {
                        "type": "object",
                        "required": ["version", "minimum_compatible_version"],
                        "properties": {
                            "version": {"type": "string"},
                            "minimum_compatible_version": {"type": "string"},
                        },
                    },
                ),
                protected=False,
                needs_model=False,
            )
        },
        "/status": {
            "get": _operation(
                "The loaded model.",
                _ok(
                    "Model file and id.",
                    {
                        "type": "object",
                        "required": ["model_file", "model_id", "num_active_training_jobs"],
                        "properties": {
                            "model_file": _NULLABLE_STRING,
                            "model_id": {"type": "string"},
                            "num_active_training_jobs": {"type": "integer"},
                            "worker_pid": {"type": "integer"},
                            "engine_version": {"type": "string"},
                        },
                    },
                ),
                protected=True,
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
                body=events_body,
            ),
            "put": _operation(
                "Replace the conversation's events.",
                tracker_ok,
                protected=True,
                parameters=[_CONVERSATION_ID, _INCLUDE_EVENTS],
                body=_body({"type": "array", "items": _ref("Event")}),
            ),
        },
        f"{conversation}/messages": {
            "post": _operation(
                "Add a user message without predicting actions.",
                tracker_ok,
                protected=True,
                parameters=[_CONVERSATION_ID, _INCLUDE_EVENTS],
                body=_body(
                    {
                        "type": "object",
                        "required": ["text", "sender"],
                        "properties": {
                            "text": {"type": "string"},
                            "sender": {"type": "string", "enum": ["user"]},
                            "parse_data": _ref("ParseResult"),
                            "metadata": _OBJECT,
                            "input_channel": {"type": "string"},
                        },
                    }
                ),
            )
        },
        f"{conversation}/trigger_intent": {
            "post": _operation(
                "Handle an intent as if the user had sent it.",
                {**turn_ok, **_NOT_FOUND},
                protected=True,
                parameters=[_CONVERSATION_ID, _INCLUDE_EVENTS, _OUTPUT_CHANNEL],
                body=_body(
                    {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "entities": {
                                "oneOf": [_OBJECT, {"type": "array", "items": _ref("Entity")}]
                            },
                        },
                    }
                ),
            )
        },
        f"{conversation}/predict": {
            "post": _operation(
                "Score the next action without running it.",
                {
                    **_ok(
                        "Scores, sorted by score, then action name.",
                        {
                            "type": "object",
                            "required": ["scores", "policy", "confidence", "tracker"],
                            "properties": {
                                "scores": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["action", "score"],
                                        "properties": {
                                            "action": {"type": "string"},
                                            "score": {"type": "number"},
                                        },
                                    },
                                },
                                "policy": _NULLABLE_STRING,
                                "confidence": {"type": "number"},
                                "tracker": _ref("Tracker"),
                            },
                        },
                    ),
                    **_NOT_FOUND,
                },
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
                body=_body(
                    {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "policy": {"type": "string"},
                            "confidence": {"type": "number"},
                        },
                    }
                ),
            )
        },
        "/model/parse": {
            "post": _operation(
                "Parse a message outside any conversation.",
                _ok("Intent, entities and (CALM) commands.", _ref("ParseResult")),
                protected=True,
                parameters=[
                    _query("emulation_mode", {"type": "string"}, "Not supported: always 400.")
                ],
                body=_body(
                    {
                        "type": "object",
                        "required": ["text"],
                        "properties": {
                            "text": {"type": "string"},
                            "message_id": {"type": "string"},
                        },
                    }
                ),
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
                body=_body(
                    {
                        "type": "object",
                        "required": ["model_file"],
                        "properties": {"model_file": {"type": "string"}},
                    }
                ),
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
            "Channel health.",
            _ok("Up.", {"type": "object", "properties": {"status": {"type": "string"}}}),
            protected=False,
            needs_model=False,
        )
    }
    paths: dict[str, Any] = {}
    for name in channels:
        paths[f"/webhooks/{name}/"] = health
        if name == "rest":
            paths["/webhooks/rest/webhook"] = {
                "post": _operation(
                    "Send a user message; the answer lists the bot messages.",
                    _ok("Bot messages.", {"type": "array", "items": _ref("BotMessage")}),
                    protected=False,
                    parameters=[
                        _query(
                            "stream",
                            {"type": "boolean"},
                            "Stream messages as newline-delimited JSON as they are produced.",
                        )
                    ],
                    body=_body(
                        {
                            "type": "object",
                            "required": ["message"],
                            "properties": {
                                "sender": {"type": "string"},
                                "message": {"type": "string"},
                                "metadata": _OBJECT,
                                "input_channel": {"type": "string"},
                            },
                        }
                    ),
                )
            }
    return paths


def _schemas() -> dict[str, Any]:
    event_names = sorted(
        {
            cls.type_name
            for cls in _subclasses(Event)
            if cls.type_name and is_known_event_name(cls.type_name)
        }
    )
    return {
        "Error": {
            "type": "object",
            "required": ["version", "status", "message", "reason", "details", "help", "code"],
            "properties": {
                "version": {"type": "string"},
                "status": {"type": "string", "enum": ["failure"]},
                "message": {"type": "string"},
                "reason": {"type": "string"},
                "details": _OBJECT,
                "help": _NULLABLE_STRING,
                "code": {"type": "integer"},
            },
        },
        "Event": {
            "type": "object",
            "required": ["event"],
            "properties": {
                "event": {"type": "string", "enum": event_names},
                "timestamp": {"type": "number"},
                "metadata": _OBJECT,
            },
            "additionalProperties": True,
        },
        "Entity": {
            "type": "object",
            "required": ["entity"],
            "properties": {"entity": {"type": "string"}, "value": {}},
        },
        "ParseResult": {
            "type": "object",
            "properties": {
                "text": _NULLABLE_STRING,
                "intent": {
                    "type": "object",
                    "properties": {"name": _NULLABLE_STRING, "confidence": {"type": "number"}},
                },
                "entities": {"type": "array", "items": _OBJECT},
                "intent_ranking": {"type": "array", "items": _OBJECT},
                "commands": {"type": "array", "items": _OBJECT},
            },
        },
        "Tracker": {
            "type": "object",
            "required": [
                "sender_id",
                "slots",
                "latest_message",
                "latest_event_time",
                "followup_action",
                "paused",
                "events",
                "latest_input_channel",
                "active_loop",
                "latest_action",
                "latest_action_name",
            ],
            "properties": {
                "sender_id": {"type": "string"},
                "slots": _OBJECT,
                "latest_message": _OBJECT,
                "latest_event_time": {"type": "number", "nullable": True},
                "followup_action": _NULLABLE_STRING,
                "paused": {"type": "boolean"},
                "events": {"type": "array", "items": _OBJECT, "nullable": True},
                "latest_input_channel": _NULLABLE_STRING,
                "active_loop": _OBJECT,
                "latest_action": _OBJECT,
                "latest_action_name": _NULLABLE_STRING,
                "stack": {"type": "array", "items": _OBJECT},
            },
        },
        "BotMessage": {
            "type": "object",
            "required": ["recipient_id"],
            "properties": {
                "recipient_id": {"type": "string"},
                "text": {"type": "string"},
                "buttons": {"type": "array", "items": {}},
                "image": {},
                "attachment": {},
                "custom": {},
            },
        },
    }


def _subclasses(cls: type[Event]) -> list[type[Event]]:
    found: list[type[Event]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


def openapi_description(
    *, enable_api: bool, channels: Iterable[str], auth_enabled: bool
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
    description: dict[str, Any] = {
        "openapi": "3.0.3",
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
