"""Running test cases: fresh conversations, fixtures and metadata, stubs, concurrency,
fail-fast and crashing conversations."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

from e2e_testkit import load, make_processor, parse, run

from tandem.actions.custom import ActionServerClient
from tandem.conversation import events as ev
from tandem.conversation.tracker import Tracker
from tandem.project.domain import Domain
from tandem.runtime.message import UserMessage
from tandem.testing.render import event_line
from tandem.testing.runner import TestResult, run_cases

MIXED = """
test_cases:
  - test_case: greets
    steps:
      - user: hello there
      - utter: utter_greet
  - test_case: transfers
    steps:
      - user: /transfer
        assertions:
          - flow_started: transfer
      - user: /inform
        assertions:
          - slot_was_set: [{name: amount, value: 50}]
  - test_case: wrong
    steps:
      - user: /greet
      - utter: utter_done
      - user: /finish
  - test_case: cancels
    steps:
      - user: /transfer
      - user: /cancel
        assertions:
          - flow_cancelled: {flow_id: transfer}
"""


def user_texts(result: TestResult) -> list[str | None]:
    return [e.text for e in result.events if isinstance(e, ev.UserUttered)]


def digest(results: list[TestResult]) -> list[tuple[Any, ...]]:
    return [
        (
            r.case.name,
            r.status,
            r.failure,
            r.notes,
            [event_line(e) for e in r.events],
        )
        for r in results
    ]


async def test_each_test_case_is_a_fresh_conversation(tmp_path: Path) -> None:
    results = await run(tmp_path, MIXED)
    assert [r.status for r in results] == ["passed", "passed", "failed", "passed"]
    assert [user_texts(r) for r in results] == [
        ["hello there"],
        ["/transfer", "/inform"],
        ["/greet"],
        ["/transfer", "/cancel"],
    ]
    for result in results:
        assert sum(isinstance(e, ev.SessionStarted) for e in result.events) == 1


async def test_fixtures_and_metadata_reach_the_tracker(tmp_path: Path) -> None:
    processor = make_processor()
    cases = load(
        tmp_path,
        """
        fixtures:
          - calm: [{route_session_to_calm: true}, {vip: true}]
        metadata:
          - phone: {device: phone, lang: en}
          - german: {lang: de}
        test_cases:
          - test_case: t
            fixtures: [calm]
            metadata: phone
            steps:
              - user: /greet
                metadata: german
              - user: /greet
        """,
    )
    seen: list[str] = []
    (result,) = await run_cases(processor, cases, on_result=lambda r: seen.append(r.case.name))
    assert seen == ["t"]
    users = [e for e in result.events if isinstance(e, ev.UserUttered)]
    assert [(u.metadata["device"], u.metadata["lang"]) for u in users] == [
        ("phone", "de"),
        ("phone", "en"),
    ]
    # the fixtures are slot events after the session start, before the first message
    kinds = [event_line(e) for e in result.events[: result.events.index(users[0])]]
    assert kinds[-3:] == [
        "action: action_listen",
        "slot: route_session_to_calm = True (bool)",
        "slot: vip = True (bool)",
    ]
    tracker = await processor.fetch_tracker(result.sender_id)
    assert result.sender_id.startswith("t_")
    assert tracker.get_slot("vip") is True and tracker.get_slot("route_session_to_calm") is True


class FakeActionServer:
    """The real action server, as far as the runner can tell."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def call(self, action_name: str, tracker: Tracker, domain: Domain) -> dict[str, Any]:
        self.calls.append((action_name, tracker.sender_id))
        return {"events": [{"event": "slot", "name": "balance", "value": 7}], "responses": []}

    async def aclose(self) -> None:
        pass


STUBBED = """
stub_custom_actions:
  action_fetch_balance:
    events: [{event: slot, name: balance, value: 100}]
    responses: [{text: "Fetching your balance."}]
  special::action_fetch_balance:
    events: [{event: slot, name: balance, value: 5}]
test_cases:
  - test_case: stubbed
    steps:
      - user: how much money do I have?
      - bot: Fetching your balance.
      - bot: You have 100 dollars.
  - test_case: special
    steps:
      - user: how much money do I have?
      - bot: You have 5 dollars.
"""


async def test_stubs_replace_custom_actions_only_in_their_file(tmp_path: Path) -> None:
    processor = make_processor()
    server = FakeActionServer()
    processor.action_server = cast(ActionServerClient, server)
    cases = load(tmp_path, STUBBED) + load(
        tmp_path,
        "test_cases: [{test_case: real, steps: [{user: /balance}, {bot: You have 7 dollars.}]}]",
        "real.yml",
    )
    results = await run_cases(processor, cases, concurrency=3)
    assert [r.status for r in results] == ["passed", "passed", "passed"], results[0].failure
    assert [name for name, _ in server.calls] == ["action_fetch_balance"]  # only "real"
    assert server.calls[0][1].startswith("real_")
    assert processor.action_server is server  # put back after the run


async def test_an_unstubbed_custom_action_fails_its_test_case(tmp_path: Path) -> None:
    processor = make_processor()
    server = FakeActionServer()
    processor.action_server = cast(ActionServerClient, server)
    text = """
    stub_custom_actions:
      action_other: {events: []}
    test_cases:
      - test_case: unstubbed
        steps:
          - user: /balance
    """
    (result,) = await run_cases(processor, load(tmp_path, text))
    assert result.status == "failed" and result.failure is not None
    assert result.failure.message == "custom action action_fetch_balance ran without a stub"
    assert result.failure.source == result.case.source
    assert server.calls == []


async def test_concurrent_runs_report_the_same_as_sequential_ones(tmp_path: Path) -> None:
    running = 0
    most = 0

    async def slow_parse(message: UserMessage, tracker: Tracker) -> dict[str, Any]:
        nonlocal running, most
        running += 1
        most = max(most, running)
        # later test cases answer faster, so they finish first when run side by side
        await asyncio.sleep(0.02 if "transfer" in message.text else 0.001)
        running -= 1
        return await parse(message, tracker)

    async def run_with(jobs: int) -> list[tuple[Any, ...]]:
        processor = make_processor()
        processor.assistant.parse = slow_parse
        order: list[str] = []
        results = await run_cases(
            processor, cases, concurrency=jobs, on_result=lambda r: order.append(r.case.name)
        )
        assert order == [case.name for case in cases]
        assert len({r.sender_id for r in results}) == len(cases)
        return digest(results)

    cases = load(tmp_path, MIXED) * 3
    sequential = await run_with(1)
    assert most == 1
    concurrent = await run_with(4)
    assert most == 4
    assert concurrent == sequential


async def test_fail_fast_reports_nothing_after_the_first_failure(tmp_path: Path) -> None:
    for jobs in (1, 4):
        results = await run(tmp_path, MIXED, fail_fast=True, concurrency=jobs)
        assert [r.case.name for r in results] == ["greets", "transfers", "wrong"]


async def test_a_crashing_conversation_fails_only_its_test_case(tmp_path: Path) -> None:
    processor = make_processor()

    async def breaking_parse(message: UserMessage, tracker: Tracker) -> dict[str, Any]:
        if message.text == "/boom":
            raise RuntimeError("the NLU model is gone")
        return await parse(message, tracker)

    processor.assistant.parse = breaking_parse
    text = """
    test_cases:
      - test_case: crashes
        steps:
          - user: /greet
          - user: /boom
      - test_case: fine
        steps:
          - user: /greet
          - utter: utter_greet
    """
    crashed, fine = await run_cases(processor, load(tmp_path, text))
    assert crashed.failure is not None
    assert crashed.failure.message == "the conversation failed: RuntimeError: the NLU model is gone"
    assert crashed.failure.source.line == 6
    assert fine.status == "passed"
