"""Parse data: what reading a user message gives, in the reference's wire JSON.

The NLU pipeline, the routers and the command generators write it; the user event stores it
(``UserUttered.parse_data``); the HTTP API and the action server see it. These are types for
the keys of that JSON, not classes: the values stay plain dicts, so the wire form is exactly
what it was. ``total=False`` because every key may be missing in what arrives from outside
(stored events, HTTP bodies); ``as_parse_data`` is the one place such JSON becomes typed.
"""

from __future__ import annotations

from typing import Any, Final, Literal, TypedDict, cast

# Parse data key of metadata for the user event (e.g. the router's verdict); the processor
# moves it from the parse data into the event's metadata.
EVENT_METADATA: Final = "event_metadata"
# Parse data key of what reading the message notes for the turn's ``TurnNotes`` (field name
# -> items: the commands the generators dropped, which component gave which command); the
# processor moves it into the turn's notes, so it is never stored.
TURN_NOTES: Final = "turn_notes"

# The fields of ``TURN_NOTES``.
NoteField = Literal["rejected_commands", "command_sources"]


class IntentPrediction(TypedDict, total=False):
    """``intent`` and the items of ``intent_ranking``; ``{}`` when nothing was predicted."""

    name: str | None
    confidence: float
    # For a retrieval intent (``faq``): the full name the response selector chose.
    full_retrieval_intent_name: str


class EntityPrediction(TypedDict, total=False):
    """One item of ``entities``; which keys are set depends on the extractor."""

    entity: str
    value: Any
    start: int
    end: int
    # The tagger's (CRF, DIET) certainty; ``confidence`` is the other extractors' one.
    confidence_entity: float
    confidence: float | None
    role: str
    confidence_role: float
    group: str
    confidence_group: float
    extractor: str
    # Components that changed the entity afterwards (the synonym mapper).
    processors: list[str]
    # Duckling: the matched text and its full answer.
    text: str
    additional_info: Any


class ParseNotes(TypedDict, total=False):
    """``TURN_NOTES``: what reading the message reports for the turn's ``TurnNotes``."""

    # ``{"command": ..., "reason": ...}`` for each command dropped or replaced.
    rejected_commands: list[dict[str, Any]]
    # ``{"component": name, "commands": [...]}``, in pipeline order.
    command_sources: list[dict[str, Any]]


class ParseData(TypedDict, total=False):
    """The parse data of one user message."""

    text: str | None
    intent: IntentPrediction
    entities: list[EntityPrediction]
    intent_ranking: list[IntentPrediction]
    # Retrieval intent (or ``default``) -> ``{"response": {...}, "ranking": [...]}``, beside
    # ``all_retrieval_intents``: keys named by the project, so a plain dict.
    response_selector: dict[str, Any]
    # ``[start, end]`` of each token (the pipeline's tokenizer).
    text_tokens: list[list[int]]
    # The message's commands as wire dicts (``conversation.commands.commands_as_dicts``).
    commands: list[dict[str, Any]]
    message_id: str | None
    metadata: dict[str, Any]
    # What ``tandem inspect`` recorded of the turn (``server.inspect.recording``).
    inspect: dict[str, Any]
    # Transient: moved out by the processor before the user event is written.
    event_metadata: dict[str, Any]
    turn_notes: ParseNotes


def as_parse_data(data: dict[str, Any]) -> ParseData:
    """JSON from outside (a stored event, an HTTP body, the NLU pipeline's result) read as
    parse data. Not a copy and not checked: the keys are only typed from here on."""
    return cast("ParseData", data)


def plain_entities(entities: list[EntityPrediction]) -> list[dict[str, Any]]:
    """Entities as plain dicts (the same list): the tracker's ``latest_entities``, the policies
    and ``entities`` events (which action servers write) hold entities of any shape."""
    return cast("list[dict[str, Any]]", entities)


def as_entities(entities: list[dict[str, Any]]) -> list[EntityPrediction]:
    """Plain entity dicts (``plain_entities``, ``entities`` events) read as parse data's."""
    return cast("list[EntityPrediction]", entities)
