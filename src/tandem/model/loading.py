"""Loading a model archive into a runnable assistant.

The archive's project snapshot is read with the same loader as training (so the domain and
flows are exactly what was trained), the trained components are restored from their data
files, and the endpoints of the running deployment are applied.
"""

from __future__ import annotations

from pathlib import Path

from tandem.actions.custom import ActionServerClient
from tandem.actions.forms import register_forms
from tandem.actions.registry import ActionRegistry
from tandem.calm.engine import uses_calm, with_calm
from tandem.conversation.parse_data import ParseData, as_parse_data
from tandem.conversation.tracker import Tracker
from tandem.model.archive import read_metadata, unpacked_model
from tandem.model.components import command_components
from tandem.model.snapshot import load_snapshot
from tandem.model.training import NLU_DIR, POLICIES_DIR
from tandem.nlu.pipeline import NluPipeline
from tandem.policies.registry import load_policies
from tandem.project.domain import Domain
from tandem.project.endpoints import Endpoints, load_endpoints
from tandem.runtime.assistant import Assistant
from tandem.runtime.message import UserMessage
from tandem.runtime.processor import MessageProcessor
from tandem.stores.event_brokers import create_event_broker
from tandem.stores.factory import create_lock_store, create_tracker_store


class MessageParser:
    """Text to parse data (slash messages are resolved against the domain's intents)."""

    def __init__(self, pipeline: NluPipeline, domain: Domain) -> None:
        self.pipeline = pipeline
        self.intents = frozenset(domain.intents)
        self.entities = frozenset(domain.entities)

    async def __call__(self, message: UserMessage, tracker: Tracker) -> ParseData:
        parsed = await self.pipeline.parse_async(
            message.text, intents=self.intents, entities=self.entities
        )
        return as_parse_data(parsed)


def load_assistant(model_path: Path, endpoints: Endpoints | None = None) -> Assistant:
    """The assistant of the newest archive at ``model_path``. The unpacked archive is gone
    when this returns or raises: everything the assistant needs (weights, prompt templates,
    documents) is read while it is built."""
    with unpacked_model(model_path) as (_, model_dir):
        return _assistant(model_dir, endpoints)


def _assistant(model_dir: Path, endpoints: Endpoints | None) -> Assistant:
    metadata = read_metadata(model_dir)
    project = load_snapshot(model_dir, metadata)
    domain = project.domain
    pipeline = NluPipeline.load(model_dir / NLU_DIR)
    actions = ActionRegistry(domain)
    register_forms(actions)
    assistant = Assistant(
        domain=domain,
        parse=MessageParser(pipeline, domain),
        actions=actions,
        policies=load_policies(metadata.get("policies") or [], model_dir / POLICIES_DIR, domain),
        model_id=metadata["model_id"],
        assistant_id=metadata.get("assistant_id", ""),
    )
    if uses_calm(project.config):
        components = command_components(project.config, project.flows, endpoints, project.root)
        assistant = with_calm(
            assistant, project.config, project.flows, components, endpoints, project.root
        )
    return assistant


async def open_processor(model_path: Path, endpoints_path: Path | None = None) -> MessageProcessor:
    """A processor for the newest model at ``model_path`` with the deployment's endpoints:
    its tracker store, lock store and event broker (connected on first use, so a server
    starts while they are down). ``MessageProcessor.aclose`` releases them."""
    endpoints = load_endpoints(endpoints_path) if endpoints_path is not None else Endpoints()
    assistant = load_assistant(model_path, endpoints)
    root = endpoints_path.parent if endpoints_path is not None else Path(".")
    tracker_store = create_tracker_store(endpoints.tracker_store, assistant.domain.slots, root)
    lock_store = create_lock_store(endpoints.lock_store)
    event_broker = create_event_broker(endpoints.event_broker, root)
    action_server = (
        ActionServerClient(endpoints.action_endpoint) if endpoints.action_endpoint else None
    )
    return MessageProcessor(
        assistant,
        tracker_store=tracker_store,
        lock_store=lock_store,
        action_server=action_server,
        event_sink=event_broker,
    )
