"""Where the test services listen (change with environment variables), and sample data."""

from __future__ import annotations

import os
import uuid

import aio_pika

from tandem.conversation import events as ev
from tandem.conversation.slots import Slot

POSTGRES_URL = os.environ.get(
    "TANDEM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TANDEM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RABBITMQ_URL = os.environ.get("TANDEM_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")

SLOTS = {"city": Slot("city", "text"), "count": Slot("count", "float")}


def unique(kind: str) -> str:
    return f"{kind}{uuid.uuid4().hex[:12]}"


def session(text: str) -> list[ev.Event]:
    """A short session: its start, a user message and a slot."""
    return [
        ev.ActionExecuted(name="action_session_start"),
        ev.SessionStarted(),
        ev.ActionExecuted(name="action_listen"),
        ev.UserUttered.create(text, {"name": "greet", "confidence": 1.0}, input_channel="rest"),
        ev.SlotSet(name="city", value=text),
    ]


def many_kinds() -> list[ev.Event]:
    """One of most event types, with the fields that make them differ."""
    return [
        *session("berlin"),
        ev.UserFeaturization(use_text_for_featurization=False),
        ev.EntitiesAdded(entities=[{"entity": "city", "value": "paris", "start": 0, "end": 5}]),
        ev.ActionExecuted(name="utter_greet", policy="RulePolicy", confidence=0.97),
        ev.BotUttered(
            text="Hi! ünïcode ✓",
            data={"buttons": [{"title": "yes", "payload": "/affirm"}]},
            metadata={"utter_action": "utter_greet"},
        ),
        ev.SlotSet(name="count", value=3.0, filled_by="NLU"),
        ev.ActiveLoop(name="restaurant_form"),
        ev.LoopInterrupted(is_interrupted=True),
        ev.ActionExecutionRejected(name="restaurant_form", policy="RulePolicy", confidence=1.0),
        ev.ActiveLoop(name=None),
        ev.FollowupAction(name="utter_greet"),
        ev.ReminderScheduled(intent="remind", date_time="2030-01-01T10:00:00", name="r1"),
        ev.ReminderCancelled(name="r1"),
        ev.ConversationPaused(),
        ev.ConversationResumed(),
        ev.DialogueStackUpdated(update='[{"op": "add", "path": "/0", "value": {"type": "x"}}]'),
        ev.FlowStarted(flow_id="transfer_money"),
        ev.FlowCompleted(flow_id="transfer_money", step_id="END"),
        ev.UserUtteranceReverted(),
        ev.AllSlotsReset(),
        ev.Event.from_dict({"event": "mcp_tool_executed", "timestamp": 1.5, "tool": "t"}),
        ev.ActionExecuted(name="action_listen"),
    ]


async def consume(queue_name: str, count: int) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """The first ``count`` messages of a queue (and checks that no more are there)."""
    connection = await aio_pika.connect(RABBITMQ_URL)
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(queue_name)
        messages = []
        for _ in range(count):
            message = await queue.get(no_ack=True, fail=False, timeout=5)
            assert message is not None, f"only {len(messages)} of {count} messages arrived"
            messages.append(message)
        assert await queue.get(no_ack=True, fail=False) is None
        return messages
    finally:
        await connection.close()
