"""``IntentlessPolicy``: free-form small talk written by the LLM.

A project enables it by overriding ``pattern_chitchat`` with ``action: action_trigger_chitchat``
and listing ``IntentlessPolicy`` under ``policies``; without the policy (or with no responses
it can use) command cleaning turns a chitchat command into ``CannotHandle``. When the
``chitchat`` frame is on top, the policy asks the LLM for a short friendly reply to the
conversation and says it; if the LLM fails it says ``utter_cannot_handle``. Then
``pattern_chitchat`` ends and whatever was interrupted carries on (a question being collected
is asked again).

Unlike the reference's IntentlessPolicy, which may also pick one of the domain's responses as
the reply, ours only generates. Config keys: ``llm`` (``answer_policy.DEFAULT_LLM``),
``prompt_template`` / ``prompt`` (our ``prompts/chitchat.jinja2``), ``max_history`` (20
transcript lines), ``priority`` (5).
"""

from __future__ import annotations

from tandem.calm.answer_policy import Answer, FrameAnswerPolicy
from tandem.conversation import stack as st
from tandem.conversation.tracker import Tracker

UTTER_CANNOT_HANDLE = "utter_cannot_handle"


class IntentlessPolicy(FrameAnswerPolicy):
    name = "IntentlessPolicy"
    default_priority = 5
    frame_type = st.CHITCHAT
    template_file = "chitchat.jinja2"

    async def answer(self, tracker: Tracker) -> Answer:
        return Answer(UTTER_CANNOT_HANDLE, await self.complete(self.render_prompt(tracker)))
