"""What document search and chitchat share: a policy that answers one kind of non-flow frame
with a text the LLM writes.

``action_trigger_search`` / ``action_trigger_chitchat`` push a ``search`` / ``chitchat`` frame
on top of their pattern, and ``FlowPolicy`` abstains while such a frame is on top. The policy
for that frame pops it and predicts ``action_send_text`` with the LLM's text, or a domain
response when it has nothing to say. With the frame gone, ``FlowPolicy`` finishes the pattern
on the next prediction of the same turn.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from tandem import names
from tandem.calm.transcript import MAX_TRANSCRIPT_LINES, transcript
from tandem.conversation import stack as st
from tandem.conversation.routing import calm_abstains
from tandem.conversation.tracker import Tracker
from tandem.llm import LLMError
from tandem.llm.component import PromptedLLMComponent
from tandem.policies.base import Policy, Prediction
from tandem.project.domain import Domain
from tandem.project.endpoints import Endpoints

log = logging.getLogger(__name__)

# Our defaults (not the reference's): a small, inexpensive model; temperature 0 so the same
# question gets the same answer; short answers; a timeout a user can still wait for.
DEFAULT_LLM: Mapping[str, Any] = {
    "provider": "openai",
    "model": "gpt-4.1-mini-2025-04-14",
    "temperature": 0.0,
    "max_tokens": 256,
    "timeout": 10,
}


@dataclass(frozen=True)
class Answer:
    """What the policy says once its frame is gone: the LLM's ``text`` if there is one, else
    the domain response ``fallback``."""

    fallback: str
    text: str | None = None


class FrameAnswerPolicy(Policy, PromptedLLMComponent):
    """Answers the ``frame_type`` frame on top of the stack; abstains otherwise.

    Config keys: ``llm`` (over ``DEFAULT_LLM``), ``prompt_template`` (or ``prompt``; default:
    the packaged ``template_file``), ``max_history`` (transcript lines in the prompt),
    ``priority``. Subclasses write ``answer``.
    """

    frame_type: ClassVar[str]
    template_file: ClassVar[str]  # under tandem/calm/prompts

    def __init__(
        self,
        options: Mapping[str, Any],
        endpoints: Endpoints | None = None,
        project_root: Path | None = None,
    ) -> None:
        super().__init__(options.get("priority"))
        self.max_history = int(options.get("max_history", MAX_TRANSCRIPT_LINES))
        self.use_llm(
            options,
            endpoints,
            DEFAULT_LLM,
            project_root=project_root,
            package="tandem.calm",
            template=f"prompts/{self.template_file}",
        )

    def predict(self, tracker: Tracker, domain: Domain) -> Prediction:
        """Abstains: an answer needs an LLM call, which only ``predict_async`` waits for."""
        return Prediction.abstain(domain, self.name, self.priority)

    async def predict_async(self, tracker: Tracker, domain: Domain) -> Prediction:
        top = tracker.stack[-1] if tracker.stack else None
        if calm_abstains(tracker) or top is None or top.get("type") != self.frame_type:
            return Prediction.abstain(domain, self.name, self.priority)
        stack = st.DialogueStack(tracker.stack)
        stack.pop()
        events = tuple(stack.events_since(tracker.stack))
        answer = await self.answer(tracker)
        if answer.text:
            return Prediction.for_action(
                domain,
                names.ACTION_SEND_TEXT,
                self.name,
                self.priority,
                events=events,
                action_metadata={"message": {"text": answer.text}},
            )
        action = answer.fallback
        if action not in domain.action_index:
            log.warning("%s: the domain has no response '%s'; nothing is said.", self.name, action)
            action = names.ACTION_LISTEN
        return Prediction.for_action(domain, action, self.name, self.priority, events=events)

    @abstractmethod
    async def answer(self, tracker: Tracker) -> Answer:
        """What to say to the conversation in ``tracker`` (its frame is still on top)."""

    def render_prompt(self, tracker: Tracker, **inputs: Any) -> str:
        """The prompt: the template with the conversation, the latest user message and
        ``inputs``."""
        return self.template.render(
            current_conversation=transcript(tracker, max_lines=self.max_history),
            user_message=latest_user_text(tracker),
            **inputs,
        )

    async def complete(self, prompt: str) -> str | None:
        """The LLM's reply to ``prompt``; None if the call failed or the reply was empty."""
        try:
            completion = await self.client.complete(prompt)
        except LLMError as exc:
            log.error("%s: the LLM call failed: %s", self.name, exc)
            return None
        text = (completion.text or "").strip()
        if not text:
            log.error("%s: the LLM returned nothing.", self.name)
        return text or None


def latest_user_text(tracker: Tracker) -> str:
    latest = tracker.latest_message
    return (latest.text or "") if latest is not None else ""
