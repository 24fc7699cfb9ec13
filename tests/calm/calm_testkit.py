"""A CALM assistant from YAML strings, driven by scripted commands instead of an NLU model."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from tandem.actions.registry import ActionRegistry
from tandem.calm import commands as cmd
from tandem.calm.engine import with_calm
from tandem.conversation import events as ev
from tandem.conversation.tracker import Tracker
from tandem.project.loader import load_project
from tandem.runtime.assistant import Assistant
from tandem.runtime.message import UserMessage
from tandem.runtime.processor import MessageProcessor

CONFIG = """\
recipe: default.v1
language: en
pipeline:
  - name: NLUCommandAdapter
policies:
  - name: FlowPolicy
"""


async def no_nlu(message: UserMessage, tracker: Tracker) -> dict[str, Any]:
    return {"text": message.text, "intent": {"name": None, "confidence": 0.0}, "entities": []}


def calm_processor(
    tmp_path: Path, domain: str, flows: str, config: str = CONFIG, **processor_args: Any
) -> MessageProcessor:
    """A processor for a project made of ``domain`` and ``flows`` (YAML texts)."""
    (tmp_path / "domain.yml").write_text(textwrap.dedent(domain), encoding="utf-8")
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "flows.yml").write_text(textwrap.dedent(flows), encoding="utf-8")
    (tmp_path / "config.yml").write_text(config, encoding="utf-8")
    project = load_project(tmp_path)
    assistant = Assistant(
        domain=project.domain,
        parse=no_nlu,
        actions=ActionRegistry(project.domain),
        model_id="test",
    )
    return MessageProcessor(with_calm(assistant, project.config, project.flows), **processor_args)


async def send(
    processor: MessageProcessor,
    *commands: cmd.Command,
    text: str = "hi",
    sender: str = "user",
) -> list[ev.Event]:
    """One user turn whose message carries ``commands``; the turn's events."""
    parse_data = {
        "text": text,
        "intent": {"name": None, "confidence": 0.0},
        "entities": [],
        "commands": cmd.commands_as_dicts(commands),
    }
    result = await processor.handle_message(UserMessage(text, sender, parse_data=parse_data))
    return result.new_events


def texts(events: list[ev.Event]) -> list[str | None]:
    return [e.text for e in events if isinstance(e, ev.BotUttered)]


def actions(events: list[ev.Event]) -> list[str | None]:
    return [e.name for e in events if isinstance(e, ev.ActionExecuted)]


def flow_events(events: list[ev.Event]) -> list[tuple[str, str]]:
    """``(event type, flow id)`` of the flow lifecycle events, in order."""
    kinds = (ev.FlowStarted, ev.FlowCompleted, ev.FlowInterrupted, ev.FlowResumed, ev.FlowCancelled)
    return [(e.type_name, e.flow_id) for e in events if isinstance(e, kinds)]


def slot_events(events: list[ev.Event]) -> list[tuple[str, Any]]:
    return [
        (e.name, e.value) for e in events if isinstance(e, ev.SlotSet) and e.name != "flow_hashes"
    ]


def stack_of(tracker: Tracker) -> list[tuple[str, str]]:
    """``(flow_id or type, step_id)`` of each frame, bottom first."""
    return [(f.get("flow_id", f["type"]), f.get("step_id", "")) for f in tracker.stack]
