"""Free-form chitchat: ``IntentlessPolicy`` answers the ``chitchat`` frame that a
``pattern_chitchat`` running ``action_trigger_chitchat`` pushes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from fake_llm_server import FakeLLMServer
from tandem.calm.chitchat import IntentlessPolicy
from tandem.conversation import commands as cmd
from tandem.runtime.processor import MessageProcessor

from .answer_testkit import AnswerBots
from .calm_testkit import actions, flow_events, prompts_sent, send, stack_of, texts

DOMAIN = """\
version: "3.1"
slots:
  name:
    type: text
responses:
  utter_ask_name:
    - text: "Your name?"
"""

FLOWS = """\
flows:
  register:
    description: Register a user.
    steps:
      - collect: name
  pattern_chitchat:
    description: Small talk, answered by the LLM.
    steps:
      - action: action_trigger_chitchat
"""

CANNOT_HANDLE = "I'm sorry, I'm not trained to help with that."

ChitchatBot = Callable[..., MessageProcessor]


@pytest.fixture
async def chitchat_bot(tmp_path: Path, llm_server: FakeLLMServer) -> AsyncIterator[ChitchatBot]:
    bots = AnswerBots(tmp_path, llm_server.api_base)
    yield lambda **options: bots(DOMAIN, FLOWS, {IntentlessPolicy.name: options})
    await bots.aclose()


async def test_the_llm_replies_and_the_interrupted_question_is_asked_again(
    chitchat_bot: ChitchatBot, llm_server: FakeLLMServer
) -> None:
    processor = chitchat_bot()
    assert texts(await send(processor, cmd.StartFlow("register"), text="sign me up")) == [
        "Your name?"
    ]
    llm_server.then_answer("I'm doing great, thanks for asking!")
    events = await send(processor, cmd.ChitChatAnswer(), text="how are you today?")
    assert texts(events) == ["I'm doing great, thanks for asking!", "Your name?"]
    assert "action_send_text" in actions(events)
    assert ("flow_completed", "pattern_chitchat") in flow_events(events)
    (prompt,) = prompts_sent(llm_server)
    assert prompt.index("USER: sign me up") < prompt.index("AI: Your name?")
    assert prompt.index("AI: Your name?") < prompt.index("USER: how are you today?")
    assert [frame for frame, _ in stack_of(await processor.fetch_tracker("user"))] == [
        "register",
        "pattern_collect_information",
    ]


async def test_the_prompt_shows_at_most_max_history_lines(
    chitchat_bot: ChitchatBot, llm_server: FakeLLMServer
) -> None:
    processor = chitchat_bot(max_history=1)
    await send(processor, cmd.StartFlow("register"), text="sign me up")
    await send(processor, cmd.ChitChatAnswer(), text="nice weather")
    (prompt,) = prompts_sent(llm_server)
    assert "USER: nice weather" in prompt
    assert "Your name?" not in prompt


async def test_without_an_llm_answer_it_cannot_handle(
    chitchat_bot: ChitchatBot, llm_server: FakeLLMServer
) -> None:
    processor = chitchat_bot()
    llm_server.then(status=400, body={"error": {"message": "bad request"}})
    events = await send(processor, cmd.ChitChatAnswer(), text="tell me a joke")
    assert texts(events)[0] == CANNOT_HANDLE
    assert "utter_cannot_handle" in actions(events)
    assert "chitchat" not in [frame for frame, _ in stack_of(await processor.fetch_tracker("user"))]
