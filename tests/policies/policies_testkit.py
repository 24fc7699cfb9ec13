"""Small assistants written as YAML, trained with our policies and driven by slash messages.

Messages starting with ``/`` are slash messages (``/inform{"city": "Rome"}``); any other text
is the intent ``inform`` with that text, which is enough for ``from_text`` slots.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tandem.actions.custom import ActionServerClient
from tandem.actions.forms import register_forms
from tandem.actions.registry import ActionRegistry
from tandem.conversation import events as ev
from tandem.conversation.tracker import Tracker
from tandem.nlu.slash import parse_slash_message
from tandem.policies.base import NluPolicy
from tandem.policies.registry import train_policies
from tandem.project.domain import Domain
from tandem.project.domain_files import domain_from_yaml, with_defaults
from tandem.project.loader import Project, load_project
from tandem.project.yaml import parse_yaml
from tandem.runtime.assistant import Assistant
from tandem.runtime.message import UserMessage
from tandem.runtime.processor import MessageProcessor

ALL_POLICIES = """
  - name: RulePolicy
  - name: MemoizationPolicy
    max_history: 5
  - name: TEDPolicy
    max_history: 5
    epochs: 50
"""


def write_project(root: Path, domain: str, data: str, policies: str = ALL_POLICIES) -> Project:
    """Write config, domain and data files under ``root`` and load them."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "config.yml").write_text(
        "recipe: default.v1\nlanguage: en\nassistant_id: policy-tests\n"
        "pipeline:\n  - name: WhitespaceTokenizer\npolicies:\n" + textwrap.dedent(policies)
    )
    (root / "domain.yml").write_text('version: "3.1"\n' + textwrap.dedent(domain))
    (root / "data" / "dialogue.yml").write_text('version: "3.1"\n' + textwrap.dedent(data))
    return load_project(root, domain="domain.yml")


def train(project: Project) -> list[NluPolicy]:
    return [
        policy
        for _, policy in train_policies(project.config.policies, project.data, project.domain)
    ]


async def parse(message: UserMessage, tracker: Tracker) -> dict[str, Any]:
    text = message.text or ""
    parsed = parse_slash_message(text, None, None)
    if parsed is not None:
        return parsed
    return {"intent": {"name": "inform", "confidence": 1.0}, "entities": [], "text": text}


def processor(
    project: Project,
    policies: list[NluPolicy] | None = None,
    action_server: ActionServerClient | None = None,
) -> MessageProcessor:
    actions = ActionRegistry(project.domain)
    register_forms(actions)
    assistant = Assistant(
        domain=project.domain,
        parse=parse,
        actions=actions,
        policies=train(project) if policies is None else policies,
    )
    return MessageProcessor(assistant, action_server=action_server)


@dataclass
class Chat:
    """One conversation with a processor."""

    processor: MessageProcessor
    sender: str = "tester"

    async def say(self, text: str) -> list[ev.Event]:
        """Send ``text``; the events of the turn."""
        result = await self.processor.handle_message(UserMessage(text, sender_id=self.sender))
        return result.new_events

    async def replies(self, text: str) -> list[str]:
        """Send ``text``; the response names (or texts) the bot uttered."""
        return [
            e.utter_action or e.text or ""
            for e in await self.say(text)
            if isinstance(e, ev.BotUttered)
        ]

    async def tracker(self) -> Tracker:
        return await self.processor.fetch_tracker(self.sender)


def actions_of(events: list[ev.Event]) -> list[str]:
    """The actions run in a turn (without the session start)."""
    return [
        str(e.name)
        for e in events
        if isinstance(e, ev.ActionExecuted)
        and e.name is not None
        and e.policy is not None  # the session start's own actions carry no policy
    ]


def domain_of(text: str) -> Domain:
    """The domain of one domain file's text, with the defaults every domain has."""
    problems: list[Any] = []
    domain = with_defaults(domain_from_yaml(parse_yaml(textwrap.dedent(text)), problems))
    assert not problems, problems
    return domain


def user(intent: str, *entities: dict[str, Any], text: str | None = None) -> ev.UserUttered:
    return ev.UserUttered.create(text, {"name": intent, "confidence": 1.0}, list(entities))


def action(name: str, **fields: Any) -> ev.ActionExecuted:
    return ev.ActionExecuted(name=name, **fields)
