"""``tandem shell``: chat with the trained assistant in the terminal.

Input is read in the main thread, between turns, so that Ctrl-C reaches it at once whether
the shell waits for a message or a turn is running (``asyncio.Runner`` turns it into a
cancelled turn and a ``KeyboardInterrupt``); a thread blocked in ``input()`` could not be
stopped and would hold the exit until Enter.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tandem.llm import LLMCall
    from tandem.runtime.message import UserMessage
    from tandem.runtime.processor import MessageProcessor, TurnResult

# Where the messages typed in earlier sessions are kept (in the project, the working folder).
HISTORY_FILE = ".tandem_history"
_HISTORY_LENGTH = 1000
_PROMPT = "Your input -> "


def add_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument(
        "-m", "--model", default="models", help="model archive or folder of archives"
    )
    parser.add_argument(
        "--endpoints", default="endpoints.yml", help="endpoints file (default: endpoints.yml)"
    )
    parser.add_argument("--conversation-id", default=None, help="conversation id (default: random)")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="after each turn: parse data, commands (and rejected ones), slots, actions with "
        "their policy and confidence, stack and events",
    )
    parser.add_argument(
        "--debug-llm",
        action="store_true",
        help="after each turn: the prompt and the raw answer of each LLM call",
    )


def run(args: argparse.Namespace) -> int:
    save_history = _line_editing()
    with asyncio.Runner() as runner:
        processor = runner.run(_open(args))
        if processor is None:
            return 1
        try:
            return _chat(runner, processor, args)
        except KeyboardInterrupt:  # Ctrl-C: leave at once, as a shell does
            print()
            return 130
        finally:
            if save_history is not None:
                save_history()
            runner.run(close_processor(processor))


async def _open(args: argparse.Namespace) -> MessageProcessor | None:
    """The processor of the model, or None once the reason it cannot be loaded is printed."""
    from tandem.model.archive import ArchiveError
    from tandem.model.loading import open_processor
    from tandem.project.errors import ProjectError
    from tandem.stores.factory import StoreConfigError

    try:
        return await open_processor(Path(args.model), Path(args.endpoints))
    except StoreConfigError as error:  # it names its endpoints.yml line
        print(error, file=sys.stderr)
    except (ArchiveError, ProjectError, FileNotFoundError) as error:
        print(f"Cannot load the model: {error}", file=sys.stderr)
    return None


def _chat(runner: asyncio.Runner, processor: MessageProcessor, args: argparse.Namespace) -> int:
    from tandem.runtime.message import UserMessage
    from tandem.runtime.turn_report import debug_report, llm_report
    from tandem.stores.errors import StoreUnavailable

    sender = args.conversation_id or uuid.uuid4().hex
    print("Bot loaded. Type a message and press enter (use '/stop' or Ctrl-D to exit).")
    while True:
        try:
            text = input(_PROMPT)
        except EOFError:
            print()
            return 0
        if text.strip() == "/stop":
            return 0
        calls: list[LLMCall] = []
        message = UserMessage(text, sender_id=sender, input_channel="cmdline")
        try:
            result = runner.run(_turn(processor, message, calls))
        except StoreUnavailable as error:  # stores connect at the first message
            print(unreachable_store(error, Path(args.endpoints)), file=sys.stderr)
            return 1
        for bot in result.messages:
            print(_render(bot.message()))
        if args.debug:
            print(debug_report(result))
        if args.debug_llm and calls:
            print(llm_report(calls))


async def _turn(
    processor: MessageProcessor, message: UserMessage, calls: list[LLMCall]
) -> TurnResult:
    """Handle one message, keeping its LLM calls. Observed in here: the runner runs each
    coroutine in its own context, which does not see context variables set outside it."""
    from tandem.llm import observe_llm_calls

    with observe_llm_calls(calls.append):
        return await processor.handle_message(message)


def _line_editing() -> Callable[[], None] | None:
    """Line editing and history (Up recalls the previous message) when a person types: the
    ``readline`` module makes ``input()`` edit lines. Returns what saves the history."""
    if not sys.stdin.isatty():
        return None
    try:
        import readline
    except ImportError:  # Python built without it (Windows): plain input
        return None
    history = Path(HISTORY_FILE)
    with contextlib.suppress(OSError):  # none yet, or unreadable: start afresh
        readline.read_history_file(history)
    readline.set_history_length(_HISTORY_LENGTH)

    def save() -> None:
        with contextlib.suppress(OSError):  # a read-only project: this session's only
            readline.write_history_file(history)

    return save


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
