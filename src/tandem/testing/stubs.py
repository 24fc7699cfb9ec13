"""Stubbed custom actions: replies written in the test file instead of the action server.

The stub sits where the action server client sits, so a stubbed reply goes through exactly
the path of a real one (bot messages from ``responses``, then ``events``). Conversations are
told apart by sender id: one processor runs stubbed and unstubbed test cases side by side.
In a stubbed conversation every custom action must be stubbed; a call of another one fails
the action and is recorded, so that the runner can fail the test case with its name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from tandem.actions.base import ActionFailed
from tandem.actions.custom import ActionServerClient
from tandem.testing.cases import StubReply

if TYPE_CHECKING:
    from tandem.conversation.tracker import Tracker
    from tandem.project.domain import Domain
    from tandem.runtime.processor import MessageProcessor


class StubActionServer:
    def __init__(self, fallback: ActionServerClient | None) -> None:
        self.fallback = fallback  # the real action server, for unstubbed conversations
        self._stubs: dict[str, Mapping[str, StubReply]] = {}
        self._unstubbed: dict[str, list[str]] = {}

    @contextmanager
    def serving(self, sender_id: str, stubs: Mapping[str, StubReply]) -> Iterator[list[str]]:
        """Answer ``sender_id``'s calls from ``stubs``; yields the names of unstubbed actions
        the conversation called (filled while it runs)."""
        self._stubs[sender_id] = stubs
        unstubbed = self._unstubbed[sender_id] = []
        try:
            yield unstubbed
        finally:
            del self._stubs[sender_id], self._unstubbed[sender_id]

    async def call(self, action_name: str, tracker: Tracker, domain: Domain) -> dict[str, Any]:
        stubs = self._stubs.get(tracker.sender_id)
        if stubs is None:
            if self.fallback is None:
                raise ActionFailed(
                    f"Cannot run custom action '{action_name}': no action endpoint is configured."
                )
            return await self.fallback.call(action_name, tracker, domain)
        stub = stubs.get(action_name)
        if stub is None:
            self._unstubbed[tracker.sender_id].append(action_name)
            raise ActionFailed(f"Custom action '{action_name}' is not stubbed in the test file.")
        return stub.reply()

    async def aclose(self) -> None:
        if self.fallback is not None:
            await self.fallback.aclose()


@contextmanager
def stubbed(processor: MessageProcessor) -> Iterator[StubActionServer]:
    """Put a ``StubActionServer`` in front of the processor's action server for a while."""
    original = processor.action_server
    server = StubActionServer(original)
    # Duck-typed: actions only use ``call`` of the action server.
    processor.action_server = cast(ActionServerClient, server)
    try:
        yield server
    finally:
        processor.action_server = original
