"""The HTTP API of ``tandem run --enable-api``.

Routes, JSON shapes and status codes follow the reference, so its clients and dashboards
work unchanged. Each handler reads and checks its input first, then borrows the processor
for the turn; the processor does the locking, session handling and saving.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import wraps
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from tandem import __version__
from tandem.actions.registry import UnknownActionError
from tandem.conversation.parse_data import as_parse_data
from tandem.conversation.tracker import Tracker
from tandem.model.archive import ArchiveError, newest_archive
from tandem.runtime.message import UserMessage
from tandem.runtime.processor import BotMessageSink, MessageProcessor, UnknownConversation
from tandem.server import event_input
from tandem.server.context import context
from tandem.server.errors import ApiError, bad_request, not_found
from tandem.server.output import rest_messages
from tandem.server.requests import (
    bool_parameter,
    conversation_id,
    float_parameter,
    include_events,
    read_body,
    read_json,
)
from tandem.server.schemas import (
    Entity,
    ExecuteRequest,
    LoadModelRequest,
    MessageRequest,
    ParseRequest,
    TriggerIntentRequest,
)

log = logging.getLogger(__name__)

# The oldest Tandem version whose model archives this server loads.
MINIMUM_COMPATIBLE_VERSION = "0.1.0"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def protected(handler: Handler) -> Handler:
    """Check the token or JWT first; conversation endpoints let a JWT user see their own."""

    @wraps(handler)
    async def checked(request: web.Request) -> web.StreamResponse:
        context(request).auth.check(request, request.match_info.get("conversation_id"))
        return await handler(request)

    return checked


# -- server information ------------------------------------------------------------------


async def hello(request: web.Request) -> web.StreamResponse:
    return web.Response(text=f"Hello from Tandem: {__version__}")


async def version(request: web.Request) -> web.StreamResponse:
    return web.json_response(
        {"version": __version__, "minimum_compatible_version": MINIMUM_COMPATIBLE_VERSION}
    )


@protected
async def status(request: web.Request) -> web.StreamResponse:
    slot = context(request).slot
    async with slot.use() as processor:
        return web.json_response(
            {
                "model_file": slot.model_file,
                "model_id": processor.assistant.model_id,
                "num_active_training_jobs": 0,
                "worker_pid": os.getpid(),
                "engine_version": __version__,
            }
        )


# -- conversations -----------------------------------------------------------------------


@protected
async def get_tracker(request: web.Request) -> web.StreamResponse:
    sender = conversation_id(request)
    verbosity = include_events(request)
    until = float_parameter(request, "until")
    async with context(request).slot.use() as processor:
        tracker = await processor.fetch_full_tracker(sender)
        if until is not None:
            kept = [event for event in tracker.events if event.timestamp <= until]
            tracker = Tracker(sender, tracker.slot_defs, kept)
        return web.json_response(tracker.current_state(verbosity))


@protected
async def append_events(request: web.Request) -> web.StreamResponse:
    sender = conversation_id(request)
    verbosity = include_events(request)
    side_effects = bool_parameter(request, "execute_side_effects")
    events = event_input.events_from_body(await read_json(request))
    async with context(request).slot.use() as processor:
        current = await processor.tracker_store.retrieve(sender)
        event_input.check_applicable(current or _empty(processor, sender), events)
        channel, sink = await _output(request, processor, sender) if side_effects else (None, None)
        tracker = await processor.append_events(sender, events, output_channel=channel, sink=sink)
        return web.json_response(tracker.current_state(verbosity))


@protected
async def replace_events(request: web.Request) -> web.StreamResponse:
    sender = conversation_id(request)
    verbosity = include_events(request)
    body = await read_json(request)
    if not isinstance(body, list):
        raise bad_request("The request body must be a list of events.")
    events = event_input.events_from_body(body)
    async with context(request).slot.use() as processor:
        event_input.check_applicable(_empty(processor, sender), events)
        tracker = await processor.replace_events(sender, events)
        return web.json_response(tracker.current_state(verbosity))


@protected
async def add_message(request: web.Request) -> web.StreamResponse:
    sender = conversation_id(request)
    verbosity = include_events(request)
    body = await read_body(request, MessageRequest)
    message = UserMessage(
        body.text,
        sender,
        input_channel=body.input_channel,
        metadata=body.metadata or {},
        # Passed on as sent: only the keys the client gave, unknown ones too.
        parse_data=None
        if body.parse_data is None
        else as_parse_data(body.parse_data.model_dump(exclude_unset=True)),
    )
    async with context(request).slot.use() as processor:
        result = await processor.log_message(message)
        return web.json_response(result.tracker.current_state(verbosity))


@protected
async def trigger_intent(request: web.Request) -> web.StreamResponse:
    sender = conversation_id(request)
    verbosity = include_events(request)
    body = await read_body(request, TriggerIntentRequest)
    intent = body.name
    entities = _entity_values(body.entities)
    async with context(request).slot.use() as processor:
        if intent not in processor.assistant.domain.intents:
            raise not_found(f"The intent '{intent}' does not exist in the domain.")
        channel, sink = await _output(request, processor, sender)
        result = await processor.trigger_intent(
            sender, intent, entities, output_channel=channel, sink=sink
        )
        return web.json_response(
            {
                "tracker": result.tracker.current_state(verbosity),
                "messages": [] if sink else rest_messages(sender, result.messages),
            }
        )


def _entity_values(entities: dict[str, Any] | list[Entity] | None) -> dict[str, Any]:
    """``{name: value}`` from either form the reference accepts (a map or entity objects)."""
    if entities is None or isinstance(entities, dict):
        return entities or {}
    values: dict[str, list[Any]] = {}
    for entity in entities:
        values.setdefault(entity.entity, []).append(entity.value)
    return {name: found[0] if len(found) == 1 else found for name, found in values.items()}


@protected
async def predict(request: web.Request) -> web.StreamResponse:
    sender = conversation_id(request)
    verbosity = include_events(request)
    async with context(request).slot.use() as processor:
        try:
            tracker, _, prediction = await processor.predict_next_action(sender)
        except UnknownConversation:
            raise _unknown_conversation(sender) from None
        names = processor.assistant.domain.action_names
        ranked = sorted(
            zip(names, prediction.probabilities, strict=False), key=lambda item: (-item[1], item[0])
        )
        scores = [{"action": name, "score": score} for name, score in ranked]
        return web.json_response(
            {
                "scores": scores,
                "policy": prediction.policy_name,
                "confidence": prediction.max_confidence,
                "tracker": tracker.current_state(verbosity),
            }
        )


@protected
async def execute(request: web.Request) -> web.StreamResponse:
    sender = conversation_id(request)
    verbosity = include_events(request)
    body = await read_body(request, ExecuteRequest)
    async with context(request).slot.use() as processor:
        channel, sink = await _output(request, processor, sender)
        try:
            result = await processor.execute_action(
                sender,
                body.name,
                policy=body.policy,
                confidence=body.confidence,
                output_channel=channel,
                sink=sink,
            )
        except UnknownConversation:
            raise _unknown_conversation(sender) from None
        except UnknownActionError as error:
            raise not_found(f"{str(error).capitalize()}.") from None
        return web.json_response(
            {
                "tracker": result.tracker.current_state(verbosity),
                "messages": [] if sink else rest_messages(sender, result.messages),
            }
        )


def _unknown_conversation(sender: str) -> ApiError:
    return not_found(f"Conversation '{sender}' not found.")


def _empty(processor: MessageProcessor, sender: str) -> Tracker:
    return Tracker(sender, processor.assistant.domain.slots)


async def _output(
    request: web.Request, processor: MessageProcessor, sender: str
) -> tuple[str | None, BotMessageSink | None]:
    """The output channel named by ``?output_channel`` (``latest`` = the conversation's latest
    input channel) and where its messages go; no sink means the messages are collected into
    the response, as the reference does for unknown names."""
    name = request.query.get("output_channel")
    if name == "latest":
        tracker = await processor.tracker_store.retrieve(sender)
        name = tracker.latest_input_channel() if tracker is not None else None
    factory = context(request).outputs.get(name or "")
    if factory is None:
        return None, None
    return name, factory(sender)


# -- the model ---------------------------------------------------------------------------


@protected
async def parse(request: web.Request) -> web.StreamResponse:
    if "emulation_mode" in request.query:
        raise bad_request(
            f"Emulation mode '{request.query['emulation_mode']}' is not supported.",
            {"parameter": "emulation_mode", "in": "query"},
        )
    body = await read_body(request, ParseRequest)
    message = UserMessage(body.text)
    if body.message_id:
        message = replace(message, message_id=body.message_id)
    async with context(request).slot.use() as processor:
        return web.json_response(await processor.parse_message(message))


@protected
async def load_model(request: web.Request) -> web.StreamResponse:
    model_file = Path((await read_body(request, LoadModelRequest)).model_file)
    slot = context(request).slot
    if slot.loader is None:
        raise ApiError(409, "Conflict", "This server cannot load models.")
    try:
        archive = newest_archive(model_file)
        if archive is None:
            raise ArchiveError(f"no model archive found at {model_file}")
        processor = await slot.loader(archive)
    except Exception as error:  # a bad archive must not take the running model down
        log.warning("loading %s failed: %s", model_file, error)
        raise ApiError(400, "LoadingError", f"The model could not be loaded: {error}") from None
    await slot.replace(processor, archive.name)
    return web.Response(status=204)


@protected
async def unload_model(request: web.Request) -> web.StreamResponse:
    await context(request).slot.replace(None, None)
    return web.Response(status=204)


@protected
async def domain(request: web.Request) -> web.StreamResponse:
    accept = request.headers.get("Accept", "*/*")
    async with context(request).slot.use() as processor:
        data = processor.assistant.domain.as_dict()
    if "application/json" in accept or "*/*" in accept:
        return web.json_response(data)
    if "yml" in accept or "yaml" in accept:
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        return web.Response(text=text, content_type="application/x-yaml")
    raise ApiError(
        406,
        "NotAcceptable",
        "The domain is served as JSON (Accept: application/json) "
        "or YAML (Accept: application/x-yaml).",
    )


def routes(enable_api: bool) -> list[web.RouteDef]:
    """``GET /`` always; the rest only with ``--enable-api``, as in the reference."""
    table = [web.get("/", hello)]
    if not enable_api:
        return table
    conversation = "/conversations/{conversation_id}"
    return [
        *table,
        web.get("/version", version),
        web.get("/status", status),
        web.get(f"{conversation}/tracker", get_tracker),
        web.post(f"{conversation}/tracker/events", append_events),
        web.put(f"{conversation}/tracker/events", replace_events),
        web.post(f"{conversation}/messages", add_message),
        web.post(f"{conversation}/trigger_intent", trigger_intent),
        web.post(f"{conversation}/predict", predict),
        web.post(f"{conversation}/execute", execute),
        web.post("/model/parse", parse),
        web.put("/model", load_model),
        web.delete("/model", unload_model),
        web.get("/domain", domain),
    ]
