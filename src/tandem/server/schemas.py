"""The JSON shapes of the HTTP API: one pydantic model per request body and per response.

A request model is what its handler checks the body with (``requests.read_body``) and what
``/openapi.json`` describes, so the description cannot drift from what the server accepts.
Request models are strict, as the reference's schema checks are (a number is not a string,
``true`` is not a number); unknown keys are ignored, as the reference ignores them, and null
counts as absent. Response models only describe: the handlers build their answers from the
tracker and are not slowed down by validating them a second time.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

JsonObject = dict[str, Any]


# Values accepted whatever they are (as the reference accepts them) but described as what
# clients should send: a REST ``sender`` is turned into a string, a confidence passed on.
AnyString = Annotated[Any, WithJsonSchema({"type": "string"})]
AnyNumber = Annotated[Any, WithJsonSchema({"type": "number"})]


def refused(message: str, details: JsonObject | None = None) -> PydanticCustomError:
    """A check of a model's own that fails with the reference's reason text; ``requests``
    answers it as a 400 with ``message`` and ``details`` unchanged."""
    return PydanticCustomError("refused", "{message}", {"message": message, "details": details})


class Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class Open(Request):
    """A shape whose unknown keys are kept (parse data and entities are passed on whole)."""

    model_config = ConfigDict(extra="allow")


# -- parse data ---------------------------------------------------------------------------


class Intent(Open):
    name: str | None = None
    confidence: AnyNumber = None


class Entity(Open):
    entity: str
    value: Any = None


class ParseResult(Open):
    """Intent, entities and (CALM) commands of a message: what ``/model/parse`` answers and
    what ``/messages`` and ``user`` events may bring instead of being parsed."""

    text: str | None = None
    intent: Intent | None = None
    entities: list[JsonObject] | None = None
    intent_ranking: list[JsonObject] | None = None
    commands: list[JsonObject] | None = None
    metadata: JsonObject | None = None


# -- request bodies -----------------------------------------------------------------------


class MessageRequest(Request):
    """``POST /conversations/{id}/messages``."""

    text: str
    sender: Literal["user"]
    parse_data: ParseResult | None = None
    metadata: JsonObject | None = None
    input_channel: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _user_messages_only(cls, body: Any) -> Any:
        # Checked before the other fields, with the reference's words.
        if isinstance(body, dict) and body.get("sender") != "user":
            raise refused(
                "Only user messages can be passed to this endpoint; "
                f"messages of sender '{body.get('sender')}' cannot be handled.",
                {"parameter": "sender", "in": "body"},
            )
        return body


class TriggerIntentRequest(Request):
    """``POST /conversations/{id}/trigger_intent``: entities as ``{name: value}`` or as
    entity objects."""

    name: str
    entities: JsonObject | list[Entity] | None = None

    @model_validator(mode="before")
    @classmethod
    def _entity_objects(cls, body: Any) -> Any:
        # One reason each, rather than pydantic's one per member of the union.
        entities = body.get("entities") if isinstance(body, dict) else None
        if entities is None or isinstance(entities, dict):
            return body
        if not isinstance(entities, list):
            raise refused("'entities' must be an object or a list.")
        if not all(isinstance(e, dict) and isinstance(e.get("entity"), str) for e in entities):
            raise refused("Each entity must be an object with an 'entity' name.")
        return body


class ExecuteRequest(Request):
    """``POST /conversations/{id}/execute``."""

    name: str
    policy: str | None = None
    confidence: float | None = None


class ParseRequest(Request):
    """``POST /model/parse``."""

    text: str
    message_id: str | None = None


class LoadModelRequest(Request):
    """``PUT /model``: a local archive, or a folder whose newest archive is loaded (the
    reference's ``model_server`` and ``remote_storage`` are refused)."""

    model_file: str

    @model_validator(mode="before")
    @classmethod
    def _local_only(cls, body: Any) -> Any:
        for key in ("model_server", "remote_storage"):
            if isinstance(body, dict) and body.get(key) is not None:
                raise refused(f"'{key}' is not supported; give a local 'model_file'.")
        return body


class RestMessage(Request):
    """``POST /webhooks/rest/webhook``; any ``sender`` is turned into a string."""

    sender: AnyString = None
    message: str
    metadata: JsonObject | None = None
    input_channel: str | None = None


# -- responses ----------------------------------------------------------------------------


class Error(BaseModel):
    """Every error answer, in the reference's shape."""

    version: str
    status: Literal["failure"]
    message: str
    reason: str
    details: JsonObject
    help: str | None
    code: int


class Version(BaseModel):
    version: str
    minimum_compatible_version: str


class Status(BaseModel):
    model_file: str | None
    model_id: str
    num_active_training_jobs: int
    worker_pid: int | None = None
    engine_version: str | None = None


class Tracker(BaseModel):
    sender_id: str
    slots: JsonObject
    latest_message: JsonObject
    latest_event_time: float | None
    followup_action: str | None
    paused: bool
    events: list[JsonObject] | None
    latest_input_channel: str | None
    active_loop: JsonObject
    latest_action: JsonObject
    latest_action_name: str | None
    stack: list[JsonObject] | None = None


class BotMessage(BaseModel):
    recipient_id: str
    text: str | None = None
    buttons: list[Any] | None = None
    image: Any = None
    attachment: Any = None
    custom: Any = None


class TurnResult(BaseModel):
    """The answer of ``trigger_intent`` and ``execute``."""

    tracker: Tracker
    messages: list[BotMessage]


class ActionScore(BaseModel):
    action: str
    score: float


class Prediction(BaseModel):
    """Scores, sorted by score, then action name."""

    scores: list[ActionScore]
    policy: str | None
    confidence: float
    tracker: Tracker


class ChannelHealth(BaseModel):
    status: str | None = None


class InspectedConversation(BaseModel):
    """What the ``tandem inspect`` page shows of a conversation."""

    sender_id: str
    event_count: int
    turns: list[JsonObject]
    slots: list[JsonObject]
    stack: list[Any]
    flow: JsonObject | None
