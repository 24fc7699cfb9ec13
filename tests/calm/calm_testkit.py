"""A CALM assistant from YAML strings, driven by scripted commands instead of an NLU model,
or by LLM command generators that talk to the scripted LLM server (``llm_server`` fixture)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tandem.actions.registry import ActionRegistry
from tandem.calm.engine import with_calm
from tandem.conversation import commands as cmd
from tandem.conversation import events as ev
from tandem.conversation.tracker import Tracker
from tandem.model.components import command_components
from tandem.policies.registry import train_policies
from tandem.project.loader import load_project
from tandem.runtime.assistant import Assistant, Parser
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
    tmp_path: Path,
    domain: str,
    flows: str,
    config: str = CONFIG,
    *,
    endpoints: str | None = None,
    nlu: Parser = no_nlu,
    dialogue: str | None = None,
    **processor_args: Any,
) -> MessageProcessor:
    """A processor for a project made of ``domain`` and ``flows`` (YAML texts), rooted at
    ``tmp_path``; ``endpoints`` is the text of its endpoints.yml, ``nlu`` its NLU parser.
    ``dialogue`` (stories and rules) trains the NLU policies of ``config``, if it has any."""
    (tmp_path / "domain.yml").write_text(textwrap.dedent(domain), encoding="utf-8")
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "flows.yml").write_text(textwrap.dedent(flows), encoding="utf-8")
    (tmp_path / "config.yml").write_text(config, encoding="utf-8")
    if endpoints is not None:
        (tmp_path / "endpoints.yml").write_text(endpoints, encoding="utf-8")
    if dialogue is not None:
        (tmp_path / "data" / "dialogue.yml").write_text(textwrap.dedent(dialogue), "utf-8")
    project = load_project(tmp_path)
    nlu_policies = train_policies(project.config.policies, project.data, project.domain)
    assistant = Assistant(
        domain=project.domain,
        parse=nlu,
        actions=ActionRegistry(project.domain),
        policies=[policy for _, policy in nlu_policies],
        model_id="test",
    )
    components = command_components(project.config, project.flows, project.endpoints, tmp_path)
    calm = with_calm(
        assistant, project.config, project.flows, components, project.endpoints, tmp_path
    )
    return MessageProcessor(calm, **processor_args)


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


async def say(processor: MessageProcessor, text: str, sender: str = "user") -> list[ev.Event]:
    """One user turn that goes through the assistant's parser; the turn's events."""
    result = await processor.handle_message(UserMessage(text, sender))
    return result.new_events


async def parse(processor: MessageProcessor, text: str, sender: str = "user") -> list[cmd.Command]:
    """The commands the assistant's parser gives ``text`` now (the turn is not run)."""
    tracker = await processor.fetch_tracker(sender)
    data = await processor.assistant.parse(UserMessage(text, sender), tracker)
    return cmd.commands_from_dicts(data["commands"])


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


# -- LLM command generators against the scripted server -------------------------------------------

LLM_GROUP = "scripted_llm"
COMPACT = "CompactLLMCommandGenerator"


def llm_endpoints(api_base: str, **model: Any) -> str:
    """endpoints.yml with the model group ``LLM_GROUP`` served at ``api_base``; a short
    timeout and no retries unless ``model`` says otherwise."""
    settings = {
        "provider": "openai",
        "model": "scripted-model",
        "api_base": api_base,
        "api_key": "sk-test",
        "timeout": 2,
        "max_retries": 0,
        **model,
    }
    return yaml.safe_dump({"model_groups": [{"id": LLM_GROUP, "models": [settings]}]})


def llm_config(generator: str = COMPACT, *, nlu_adapter: bool = False, **options: Any) -> str:
    """config.yml with one LLM command generator using ``LLM_GROUP`` (after an
    NLUCommandAdapter if ``nlu_adapter``); ``options`` are the generator's other keys."""
    pipeline: list[dict[str, Any]] = [{"name": "NLUCommandAdapter"}] if nlu_adapter else []
    pipeline.append({"name": generator, "llm": {"model_group": LLM_GROUP}, **options})
    config = {
        "recipe": "default.v1",
        "language": "en",
        "pipeline": pipeline,
        "policies": [{"name": "FlowPolicy"}],
    }
    return yaml.safe_dump(config, sort_keys=False)


def nlu_of(parses: Mapping[str, tuple[str, list[dict[str, Any]]]]) -> Parser:
    """An NLU parser that knows the intent and entities of the texts in ``parses`` (and
    finds nothing in any other text)."""

    async def parse_message(message: UserMessage, tracker: Tracker) -> dict[str, Any]:
        intent, entities = parses.get(message.text or "", (None, []))
        return {
            "text": message.text,
            "intent": {"name": intent, "confidence": 1.0 if intent else 0.0},
            "entities": entities,
        }

    return parse_message


class ProjectProcessors:
    """Processors talking to the scripted LLM at ``api_base``, each built in a project folder
    of its own under ``root``; ``aclose`` closes their LLM clients."""

    def __init__(self, root: Path, api_base: str) -> None:
        self.root = root
        self.api_base = api_base
        self.made: list[MessageProcessor] = []

    def new_project(self) -> Path:
        root = self.root / f"project_{len(self.made)}"
        root.mkdir(parents=True)
        return root

    def keep(self, processor: MessageProcessor) -> MessageProcessor:
        self.made.append(processor)
        return processor

    async def aclose(self) -> None:
        for processor in self.made:
            for component in processor.assistant.closeables:
                await component.aclose()


class LLMProcessors(ProjectProcessors):
    """CALM processors whose LLM command generator uses the model group ``LLM_GROUP``."""

    def __call__(
        self,
        domain: str,
        flows: str,
        *,
        generator: str = COMPACT,
        nlu_adapter: bool = False,
        nlu: Parser = no_nlu,
        template: str | None = None,
        model: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> MessageProcessor:
        """``template`` is the text of a ``prompt_template`` file (given to the generator by
        a path relative to the project root); ``model`` overrides settings of the model group
        (and may name another ``api_base``); ``options`` are the generator's other keys."""
        root = self.new_project()
        if template is not None:
            (root / "prompts").mkdir()
            (root / "prompts" / "custom.jinja2").write_text(template, encoding="utf-8")
            options["prompt_template"] = "prompts/custom.jinja2"
        processor = calm_processor(
            root,
            domain,
            flows,
            llm_config(generator, nlu_adapter=nlu_adapter, **options),
            endpoints=llm_endpoints(**{"api_base": self.api_base, **(model or {})}),
            nlu=nlu,
        )
        return self.keep(processor)


# The variables every command prompt template gets.
PROMPT_VARIABLES = (
    "available_flows",
    "current_conversation",
    "current_flow",
    "current_slot",
    "current_slot_description",
    "current_slot_type",
    "current_slot_allowed_values",
    "flow_slots",
    "user_message",
    "current_datetime",
)
# A prompt template that writes its variables as one JSON object, so a test can read them back
# from the prompt the scripted server received (an undefined variable fails the rendering).
INPUTS_TEMPLATE = (
    "{{ {" + ", ".join(f'"{name}": {name}' for name in PROMPT_VARIABLES) + "} | tojson }}"
)


def prompts_sent(server: Any) -> list[str]:
    """The prompts of the chat requests the scripted server received, in order."""
    return [
        seen.body["messages"][-1]["content"]
        for seen in server.requests
        if seen.path.endswith("/chat/completions")
    ]


def inputs_sent(server: Any) -> list[dict[str, Any]]:
    """The prompt variables of each chat request (prompts rendered with ``INPUTS_TEMPLATE``)."""
    return [json.loads(prompt) for prompt in prompts_sent(server)]


def offered_flows(inputs: Mapping[str, Any]) -> list[str]:
    """The flow ids of a prompt's ``available_flows``."""
    return [flow["name"] for flow in inputs["available_flows"]]
