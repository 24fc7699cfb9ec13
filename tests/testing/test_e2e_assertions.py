"""Assertion-form test cases: every assertion kind passing and failing, per-turn windows,
``assertion_order_enabled``, skipped LLM-judge assertions and ``routed_to``."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_testkit import run_one

from tandem.conversation import events as ev


def case(*turns: tuple[str, list[str]], extra: str = "") -> str:
    """A test case from (user text, assertion lines) pairs."""
    rows = []
    for text, assertions in turns:
        rows.append(f"      - user: {text}")
        if assertions:
            rows.append("        assertions:")
            rows += [f"          - {line}" for line in assertions]
    return f"{extra}test_cases:\n  - test_case: t\n    steps:\n" + "\n".join(rows) + "\n"


PASSING = [
    ("/transfer", "flow_started: transfer"),
    ("/transfer", "flow_started: {flow_ids: [other, transfer], operator: any}"),
    ("/finish", "flow_started: {flow_ids: [pattern_completed], operator: all}"),
    ("/finish", "flow_completed: {flow_id: transfer}"),
    ("/finish", "flow_completed: {flow_id: transfer, flow_step_id: confirm}"),
    ("/cancel", "flow_cancelled: {flow_id: transfer, flow_step_id: ask_amount}"),
    ("/clarify", "pattern_clarification_contains: [transfer money, check balance]"),
    ("/clarify", "pattern_clarification_contains: {flow_ids: [balance, transfer]}"),
    ("/clarify", "pattern_clarification_contains: {flow_ids: [balance, x], operator: any}"),
    ("/finish", "action_executed: action_reset_routing"),
    ("/inform", "slot_was_set: [{name: amount}]"),
    ("/inform", "slot_was_set: [{name: amount, value: 50}]"),
    ("/finish", "slot_was_set: [{name: route_session_to_calm, value: null}]"),
    ("/inform", "slot_was_not_set: [{name: balance}]"),
    ("/inform", "slot_was_not_set: [{name: amount, value: 20}]"),
    ("/finish", "slot_was_not_set: [{name: route_session_to_calm}]"),  # last one sets None
    ("/greet", "bot_uttered: {utter_name: utter_greet}"),
    ("/inform", "bot_uttered: {text_matches: 'Send \\d+'}"),
    (
        "/choose",
        "bot_uttered: {buttons: [{title: Yes, payload: /affirm}, {title: No, payload: /deny}]}",
    ),
    ("/greet", "bot_did_not_utter: {utter_name: utter_done}"),
    ("/greet", "bot_did_not_utter: {text_matches: Bye}"),
    ("/transfer", "routed_to: {system: calm}"),
    ("/transfer", "routed_to: {system: calm, sticky: true, reset: false}"),
    ("/greet", "routed_to: {system: nlu, sticky: false}"),
    ("/hours", "routed_to: {system: nlu, sticky: true}"),
]

FAILING = [
    ("/greet", "flow_started: transfer", "flow transfer did not start; flows started: none"),
    (
        "/finish",
        "flow_started: {flow_ids: [pattern_completed, transfer], operator: all}",
        "flow pattern_completed and transfer did not start; flows started: pattern_completed",
    ),
    ("/cancel", "flow_completed: {flow_id: transfer}", "flow transfer was not completed"),
    (
        "/finish",
        "flow_completed: {flow_id: transfer, flow_step_id: ask}",
        "flow transfer was completed at step confirm, not at ask",
    ),
    ("/finish", "flow_cancelled: {flow_id: transfer}", "flow transfer was not cancelled"),
    (
        "/clarify",
        "pattern_clarification_contains: [transfer money]",
        "clarification offered [['check balance', 'transfer money']], expected all of",
    ),
    ("/greet", "pattern_clarification_contains: {flow_ids: [x]}", "pattern_clarification did"),
    (
        "/greet",
        "action_executed: action_finish",
        "action action_finish did not run; actions run: action_session_start, action_listen, "
        "utter_greet, action_listen",
    ),
    ("/greet", "slot_was_set: [{name: amount}]", "slot amount was not set"),
    (
        "/inform",
        "slot_was_set: [{name: amount, value: '50.0'}]",
        "slot amount was set to 50.0 (float), not '50.0' (str)",
    ),
    ("/inform", "slot_was_not_set: [{name: amount}]", "slot amount was set to 50.0 (float)"),
    (
        "/inform",
        "slot_was_not_set: [{name: amount, value: 50}]",
        "slot amount was set to 50.0 (float)",
    ),
    (
        "/greet",
        "bot_uttered: {utter_name: utter_done}",
        "no bot message with utter_name 'utter_done'; the bot said: utter_greet: 'Hello!'",
    ),
    ("/greet", "bot_uttered: {text_matches: Bye}", "no bot message with text_matches 'Bye'"),
    ("/choose", "bot_uttered: {buttons: [{title: Yes, payload: /affirm}]}", "with buttons"),
    (
        "/greet",
        "bot_did_not_utter: {utter_name: utter_greet}",
        "the bot uttered 'Hello!' (utter_name 'utter_greet')",
    ),
    ("/greet", "bot_did_not_utter: {text_matches: ell}", "the bot uttered 'Hello!'"),
    (
        "/greet",
        "routed_to: {system: calm}",
        "routed with system 'nlu' (expected 'calm'): route_session_to_calm was None",
    ),
    ("/transfer", "routed_to: {system: nlu}", "routed with system 'calm' (expected 'nlu')"),
    ("/greet", "routed_to: {system: nlu, sticky: true}", "sticky False (expected True)"),
    ("/transfer", "routed_to: {system: calm, reset: true}", "reset False (expected True)"),
]


@pytest.mark.parametrize(("text", "assertion"), PASSING)
async def test_assertion_passes(tmp_path: Path, text: str, assertion: str) -> None:
    result = await run_one(tmp_path, case((text, [assertion])))
    assert result.status == "passed", result.failure


@pytest.mark.parametrize(("text", "assertion", "message"), FAILING)
async def test_assertion_fails_with_what_differed(
    tmp_path: Path, text: str, assertion: str, message: str
) -> None:
    result = await run_one(tmp_path, case((text, [assertion])))
    assert result.status == "failed" and result.failure is not None
    kind = assertion.split(":")[0]
    assert result.failure.message.startswith(f"{kind}: ")
    assert message in result.failure.message, result.failure.message
    assert result.failure.source.line == 6  # the assertion's line


async def test_a_failure_shows_the_turns_events_and_the_first_failure_wins(
    tmp_path: Path,
) -> None:
    result = await run_one(
        tmp_path,
        case(
            ("/greet", ["bot_uttered: {utter_name: utter_greet}"]),
            ("/transfer", ["flow_started: nothing", "action_executed: nothing"]),
        ),
    )
    failure = result.failure
    assert failure is not None and failure.message.startswith("flow_started:")
    assert failure.details == (
        f"events of the turn of user: '/transfer' ({result.case.source.path}:7)",
        "  user: '/transfer'  (intent transfer)",
        "  slot: route_session_to_calm = True (bool)",
        "  action: action_start_transfer  (ScriptPolicy)",
        "  flow_started: transfer",
        "  action: utter_ask_amount  (ScriptPolicy)",
        "  bot: 'How much?'  [utter_ask_amount]",
        "  action: action_listen  (ScriptPolicy)",
    )


async def test_each_assertion_sees_only_its_own_turn(tmp_path: Path) -> None:
    result = await run_one(
        tmp_path,
        case(("/transfer", []), ("/greet", ["flow_started: transfer"])),
    )
    assert result.status == "failed"
    # every message was sent even though the test failed
    assert sum(isinstance(e, ev.UserUttered) for e in result.events) == 2


async def test_the_first_turn_includes_the_session_start_and_fixtures(tmp_path: Path) -> None:
    text = case(
        (
            "/greet",
            ["slot_was_set: [{name: vip, value: true}]", "action_executed: action_session_start"],
        ),
        extra="fixtures:\n  - f: [{vip: true}]\n",
    ).replace("    steps:", "    fixtures: [f]\n    steps:")
    assert (await run_one(tmp_path, text)).status == "passed"


@pytest.mark.parametrize(
    ("order", "status"),
    [
        (
            "[bot_uttered: {utter_name: utter_done}, action_executed: action_reset_routing]",
            "passed",
        ),
        (
            "[action_executed: action_reset_routing, bot_uttered: {utter_name: utter_done}]",
            "failed",
        ),
        # negative assertions do not move the cursor
        (
            "[flow_completed: {flow_id: transfer}, bot_did_not_utter: {utter_name: x}, "
            "flow_started: pattern_completed]",
            "passed",
        ),
    ],
)
async def test_assertion_order(tmp_path: Path, order: str, status: str) -> None:
    ordered = (
        "test_cases:\n  - test_case: t\n    steps:\n      - user: /finish\n"
        f"        assertion_order_enabled: true\n        assertions: {order}\n"
    )
    assert (await run_one(tmp_path, ordered)).status == status
    unordered = ordered.replace("true", "false")
    assert (await run_one(tmp_path, unordered)).status == "passed"


async def test_llm_judge_assertions_are_skipped_never_passed(tmp_path: Path) -> None:
    judged = "generative_response_is_relevant: {threshold: 0.8}"
    only_judged = await run_one(tmp_path, case(("/greet", [judged])))
    assert only_judged.status == "skipped"
    assert only_judged.notes and "no LLM judge is configured" in only_judged.notes[0]
    mixed = await run_one(
        tmp_path, case(("/greet", [judged, "bot_uttered: {utter_name: utter_greet}"]))
    )
    assert mixed.status == "passed" and len(mixed.notes) == 1
    failing = await run_one(tmp_path, case(("/greet", [judged, "flow_started: x"])))
    assert failing.status == "failed"


async def test_routed_to_quotes_the_routers_verdict(tmp_path: Path) -> None:
    text = case(
        ("/greet", ["routed_to: {system: calm}"]),
        extra="metadata:\n  - r: {routing: {system: calm, sticky: true, reason: intent}}\n",
    ).replace("        assertions:", "        metadata: r\n        assertions:")
    result = await run_one(tmp_path, text)
    assert result.failure is not None
    assert "the router's verdict: {'system': 'calm', 'sticky': True, 'reason': 'intent'}" in (
        result.failure.message
    )


async def test_routed_to_without_a_routing_slot_fails(tmp_path: Path) -> None:
    result = await run_one(tmp_path, case(("/greet", ["routed_to: {system: nlu}"])), routing=False)
    assert result.failure is not None
    assert "has no `route_session_to_calm` slot" in result.failure.message


async def test_routed_to_reads_the_route_of_the_sticky_session(tmp_path: Path) -> None:
    result = await run_one(
        tmp_path,
        case(
            ("/transfer", []),
            ("/greet", ["routed_to: {system: calm, sticky: true}"]),  # no slot event this turn
            ("/finish", ["routed_to: {system: calm, reset: true}"]),
            ("/greet", ["routed_to: {system: nlu, sticky: false}"]),
        ),
    )
    assert result.status == "passed", result.failure
