"""Domain-level slot ``validation``."""

from __future__ import annotations

from tandem.conversation import commands as cmd

from .calm_testkit import calm_processor, flow_events, send, texts

DOMAIN = """\
version: "3.1"
slots:
  age:
    type: float
    validation:
      rejections:
        - if: slots.age < 18
          utter: utter_too_young
  nickname:
    type: text
responses:
  utter_ask_age:
    - text: "How old are you?"
  utter_ask_nickname:
    - text: "Nickname?"
  utter_too_young:
    - text: "You must be 18 or older."
  utter_welcome:
    - text: "Welcome, {nickname}."
"""

FLOWS = """\
flows:
  sign_up:
    description: Sign up.
    steps:
      - collect: nickname
      - collect: age
      - action: utter_welcome
"""


async def test_a_rejected_value_is_cleared_and_asked_again(tmp_path) -> None:
    processor = calm_processor(tmp_path, DOMAIN, FLOWS)
    await send(processor, cmd.StartFlow("sign_up"), cmd.SetSlot("nickname", "Zed"))
    events = await send(processor, cmd.SetSlot("age", 12))
    assert ("flow_started", "pattern_validate_slot") in flow_events(events)
    assert texts(events)[:2] == ["You must be 18 or older.", "How old are you?"]
    tracker = await processor.fetch_tracker("user")
    assert tracker.get_slot("age") is None
    accepted = await send(processor, cmd.SetSlot("age", 30))
    assert texts(accepted)[0] == "Welcome, Zed."
