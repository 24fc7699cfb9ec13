"""The inspector's routes: the page under ``/inspect`` and the data it reads.

The page's files are static and hold no data, so they are served to anyone; every data
route is behind the API's token or JWT (a JWT user sees only their own conversation). The
data is read from the tracker store on each request, never from this process's memory, so
with several workers the page shows turns whichever worker handled them. ``.../stream``
pushes the conversation as server-sent events: the server checks the stored event count
every ``POLL_SECONDS`` (one index probe on SQL, one LLEN on Redis) and sends the whole view
when it changed, so the page itself never polls.
"""

from __future__ import annotations

import asyncio
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

from aiohttp import web

from tandem.runtime.processor import MessageProcessor
from tandem.server.context import CONTEXT, context
from tandem.server.errors import not_found
from tandem.server.inspect.export import e2e_test_case
from tandem.server.inspect.flow_view import flow_svg
from tandem.server.inspect.recording import record_turn
from tandem.server.inspect.view import conversation_view
from tandem.server.requests import conversation_id
from tandem.server.slot import ModelLoader

POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0
STATIC = files("tandem.server.inspect") / "static"
_CONTENT_TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript"}
# Set when the server shuts down, so that open streams end instead of holding the
# graceful shutdown for its whole timeout.
_STOPPING = web.AppKey("inspect_stopping", asyncio.Event)


def install(app: web.Application) -> None:
    """Add the routes, and record each turn's LLM calls and dropped commands with its
    events (also for a model loaded later with ``PUT /model``)."""
    slot = app[CONTEXT].slot
    if slot.processor is not None:
        slot.processor.turn_recorder = record_turn
    if slot.loader is not None:
        slot.loader = _recording(slot.loader)
    app[_STOPPING] = asyncio.Event()
    app.on_shutdown.append(_stop_streams)
    app.router.add_get("/inspect", _index)
    app.router.add_get("/inspect/", _index)
    app.router.add_get("/inspect/static/{name}", _static)
    api = "/inspect/api/conversations"
    app.router.add_get(api, _conversations)
    app.router.add_get(api + "/{conversation_id}", _conversation)
    app.router.add_get(api + "/{conversation_id}/stream", _stream)
    app.router.add_get(api + "/{conversation_id}/e2e.yml", _export)
    app.router.add_get("/inspect/api/flows/{flow_id}.svg", _flow)


def _recording(loader: ModelLoader) -> ModelLoader:
    async def load(path: Path) -> MessageProcessor:
        processor = await loader(path)
        processor.turn_recorder = record_turn
        return processor

    return load


async def _stop_streams(app: web.Application) -> None:
    app[_STOPPING].set()


async def _index(request: web.Request) -> web.StreamResponse:
    return _file("index.html")


async def _static(request: web.Request) -> web.StreamResponse:
    return _file(request.match_info["name"])


def _file(name: str) -> web.Response:
    resource = STATIC / name
    suffix = name[name.rfind(".") :] if "." in name else ""
    if "/" in name or suffix not in _CONTENT_TYPES or not resource.is_file():
        raise not_found(f"No inspector file '{name}'.")
    return web.Response(
        body=resource.read_bytes(),
        content_type=_CONTENT_TYPES[suffix],
        charset="utf-8",
        headers={"Cache-Control": "no-cache"},
    )


async def _conversations(request: web.Request) -> web.StreamResponse:
    context(request).auth.check(request, None)
    async with context(request).slot.use() as processor:
        return web.json_response(sorted(await processor.tracker_store.keys()))


async def _conversation(request: web.Request) -> web.StreamResponse:
    sender = _checked_sender(request)
    async with context(request).slot.use() as processor:
        return web.json_response(await _view(processor, sender), dumps=_dumps)


async def _stream(request: web.Request) -> web.StreamResponse:
    sender = _checked_sender(request)
    stopping = request.app[_STOPPING]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    sent: int | None = None
    quiet = 0.0
    try:
        while not stopping.is_set():
            # The processor is borrowed per check, not for the stream's life: a model swap
            # or a shutdown waits for borrowed processors.
            async with context(request).slot.use() as processor:
                count = await _stored_count(processor, sender)
                view = await _view(processor, sender) if count != sent else None
            if view is not None:
                await response.write(f"event: conversation\ndata: {_dumps(view)}\n\n".encode())
                sent, quiet = count, 0.0
            elif quiet >= KEEPALIVE_SECONDS:  # proxies close connections that stay silent
                await response.write(b": keepalive\n\n")
                quiet = 0.0
            try:
                await asyncio.wait_for(stopping.wait(), POLL_SECONDS)
            except TimeoutError:
                quiet += POLL_SECONDS
        await response.write_eof()
    except ConnectionError:  # the page went away, or the server closed the connection
        pass
    return response


async def _export(request: web.Request) -> web.StreamResponse:
    sender = _checked_sender(request)
    async with context(request).slot.use() as processor:
        tracker = await processor.fetch_full_tracker(sender)
    return web.Response(
        text=e2e_test_case(tracker, name=f"inspected_{sender}"),
        content_type="application/x-yaml",
        headers={"Content-Disposition": f'attachment; filename="{_file_name(sender)}.yml"'},
    )


async def _flow(request: web.Request) -> web.StreamResponse:
    context(request).auth.check(request, None)
    flow_id = request.match_info["flow_id"]
    async with context(request).slot.use() as processor:
        flows = processor.assistant.flows
    picture = flow_svg(flows, flow_id, request.query.get("step"))
    if picture is None:
        raise not_found(f"The assistant has no flow '{flow_id}'.")
    return web.Response(text=picture, content_type="image/svg+xml")


def _checked_sender(request: web.Request) -> str:
    sender = conversation_id(request)
    context(request).auth.check(request, sender)
    return sender


async def _view(processor: MessageProcessor, sender: str) -> dict[str, Any]:
    tracker = await processor.tracker_store.retrieve_full(sender)
    if tracker is None:  # not started yet: the page waits for its first message
        return {
            "sender_id": sender,
            "event_count": 0,
            "turns": [],
            "slots": [],
            "stack": [],
            "flow": None,
        }
    return conversation_view(tracker)


async def _stored_count(processor: MessageProcessor, sender: str) -> int:
    count = await processor.tracker_store.count_events(sender)
    if count is None:  # the store cannot count without reading
        stored = await processor.tracker_store.load_events(sender, latest_session=False)
        count = 0 if stored is None else stored.offset + len(stored.events)
    return count


def _dumps(data: Any) -> str:
    return json.dumps(data, default=str)


def _file_name(sender: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in sender)[:64] or "conversation"
