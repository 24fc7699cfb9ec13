"""``tandem shell``: chat with the trained assistant in the terminal."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tandem.conversation.events import Event
    from tandem.runtime.processor import MessageProcessor, TurnResult


def add_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument(
        "-m", "--model", default="models", help="model archive or folder of archives"
    )
    parser.add_argument(
        "--endpoints", default="endpoints.yml", help="endpoints file (default: endpoints.yml)"
    )
    parser.add_argument("--conversation-id", default=None, help="conversation id (default: random)")
    parser.add_argument(
        "--debug", action="store_true", help="show parse data, routing, commands, stack and events"
    )


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_chat(args))


async def _chat(args: argparse.Namespace) -> int:
    from tandem.model.archive import ArchiveError
    from tandem.model.loading import open_processor
    from tandem.project.errors import ProjectError
    from tandem.runtime.message import UserMessage
    from tandem.stores.errors import StoreUnavailable
    from tandem.stores.factory import StoreConfigError

    try:
        processor = await open_processor(Path(args.model), Path(args.endpoints))
    except StoreConfigError as error:  # it names its endpoints.yml line
        print(error, file=sys.stderr)
        return 1
    except (ArchiveError, ProjectError, FileNotFoundError) as error:
        print(f"Cannot load the model: {error}", file=sys.stderr)
        return 1
    sender = args.conversation_id or uuid.uuid4().hex
    print("Bot loaded. Type a message and press enter (use '/stop' to exit).")
    try:
        while True:
            try:
                text = await asyncio.to_thread(input, "Your input -> ")
            except EOFError:
                break
            if text.strip() == "/stop":
                break
            try:
                result = await processor.handle_message(
                    UserMessage(text, sender_id=sender, input_channel="cmdline")
                )
            except StoreUnavailable as error:  # stores connect at the first message
                print(unreachable_store(error, Path(args.endpoints)), file=sys.stderr)
                return 1
            for message in result.messages:
                print(_render(message.message()))
            if args.debug:
                print(debug_report(result))
    finally:
        await close_processor(processor)
    return 0


def unreachable_store(error: Exception, endpoints_path: Path) -> str:
    """One line for a store or broker that cannot be reached: the error names the server and
    its address; the settings that name servers are where to change it."""
    from tandem.project.endpoints import load_endpoints

    endpoints = load_endpoints(endpoints_path)
    settings = [
        f"{key} ({config.source})"
        for key in ("tracker_store", "lock_store", "event_broker")
        if (config := getattr(endpoints, key)) is not None
        and (config.type or "").lower() != "in_memory"
    ]
    where = " or ".join(settings) or f"the stores of {endpoints_path}"
    return f"Cannot reach a store: {str(error).rstrip('.')}. Start that server, or change {where}."


async def close_processor(processor: MessageProcessor) -> None:
    await processor.aclose()


def _render(message: dict[str, Any]) -> str:
    lines = [str(message.get("text", ""))] if message.get("text") else []
    for index, button in enumerate(message.get("buttons") or [], start=1):
        lines.append(f"  {index}: {button.get('title')} ({button.get('payload')})")
    for key in ("image", "attachment", "custom"):
        if message.get(key):
            lines.append(f"  [{key}] {json.dumps(message[key])}")
    return "\n".join(lines)


def debug_report(result: TurnResult) -> str:
    """What happened in the turn: parse data, routing, commands, stack and new events."""
    tracker = result.tracker
    new: list[Event] = result.new_events
    latest = tracker.latest_message
    parse = dict(latest.parse_data) if latest else {}
    lines = ["--- debug ---"]
    lines.append(
        "parse: " + json.dumps({k: parse.get(k) for k in ("intent", "entities") if k in parse})
    )
    if "routing" in (latest.metadata if latest else {}):
        lines.append("routing: " + json.dumps(latest.metadata["routing"]))  # type: ignore[union-attr]
    if parse.get("commands"):
        lines.append("commands: " + json.dumps(parse["commands"]))
    lines.append(
        "stack: "
        + json.dumps(
            [f"{f.get('flow_id', f.get('type'))}@{f.get('step_id', '')}" for f in tracker.stack]
        )
    )
    lines.append("events:")
    for event in new:
        data = event.as_dict()
        data.pop("timestamp", None)
        data.pop("metadata", None)
        lines.append("  " + json.dumps(data, default=str))
    return "\n".join(lines)
