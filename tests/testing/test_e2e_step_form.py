"""Step-form test cases: per-turn, order-insensitive matching, and the diff of a failure."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_testkit import run_one

from tandem.conversation import events as ev


def steps(*rows: str) -> str:
    body = "\n".join(f"      {row}" for row in rows)
    return f"test_cases:\n  - test_case: t\n    steps:\n{body}\n"


@pytest.mark.parametrize(
    "rows",
    [
        ("- user: hello there", "- utter: utter_greet"),
        ("- user: hello there", "- bot: Hello!"),
        ("- user: /inform", "- slot_was_set: [amount]"),
        ("- user: /inform", "- slot_was_set: [{amount: 50}]"),  # 50 == 50.0
        ("- user: /inform", "- slot_was_not_set: [balance]"),
        ("- user: /inform", "- slot_was_not_set: [{amount: 60}]"),
        # any order within the turn, extra messages and slot events allowed
        ("- user: /inform", "- utter: utter_confirm", "- slot_was_set: [amount]"),
        ("- user: /finish", "- bot: Done."),
    ],
)
async def test_matching_steps_pass(tmp_path: Path, rows: tuple[str, ...]) -> None:
    result = await run_one(tmp_path, steps(*rows))
    assert result.status == "passed", result.failure


@pytest.mark.parametrize(
    ("rows", "missing"),
    [
        (("- user: hello there", "- utter: utter_done"), "- utter: utter_done"),
        (("- user: hello there", "- bot: Hi!"), "- bot: 'Hi!'"),
        (("- user: /greet", "- slot_was_set: [amount]"), "- slot_was_set: amount"),
        (
            ("- user: /inform", "- slot_was_set: [{amount: '50.0'}]"),
            "- slot_was_set: amount: '50.0' (str)",
        ),
        (("- user: /inform", "- slot_was_not_set: [amount]"), "- slot_was_not_set: amount"),
        (
            ("- user: /inform", "- slot_was_not_set: [{amount: 50.0}]"),
            "- slot_was_not_set: amount: 50.0 (float)",
        ),
        # one message cannot satisfy two expectations
        (
            ("- user: /greet", "- utter: utter_greet", "- utter: utter_greet"),
            "- utter: utter_greet",
        ),
    ],
)
async def test_mismatching_steps_fail(tmp_path: Path, rows: tuple[str, ...], missing: str) -> None:
    result = await run_one(tmp_path, steps(*rows))
    assert result.status == "failed" and result.failure is not None
    assert any(line.startswith(missing) for line in result.failure.details), result.failure


async def test_the_diff_shows_what_matched_what_is_missing_and_what_happened(
    tmp_path: Path,
) -> None:
    result = await run_one(
        tmp_path,
        steps(
            "- user: hello there",
            "- utter: utter_greet",
            "- user: /inform",
            "- utter: utter_confirm",
            "- bot: Send 60?",
            "- slot_was_set: [{amount: 60}]",
        ),
    )
    failure = result.failure
    assert failure is not None
    path = result.case.source.path
    assert failure.source.line == 8  # the first mismatching step, not the test case
    assert failure.details == (
        f"after user: '/inform' ({path}:6)",
        "= utter: utter_confirm",
        f"- bot: 'Send 60?'  ({path}:8)",
        f"- slot_was_set: amount: 60 (int)  ({path}:9)",
        "+ slot_was_set: route_session_to_calm: True (bool)",
        "+ slot_was_set: amount: 50.0 (float)",
    )


async def test_no_further_messages_are_sent_after_a_failing_turn(tmp_path: Path) -> None:
    result = await run_one(
        tmp_path,
        steps("- user: /greet", "- utter: utter_done", "- user: /transfer", "- user: /finish"),
    )
    assert result.status == "failed"
    texts = [e.text for e in result.events if isinstance(e, ev.UserUttered)]
    assert texts == ["/greet"]


async def test_placeholders_when_a_turn_has_no_bot_message_or_slot(tmp_path: Path) -> None:
    result = await run_one(
        tmp_path, steps("- user: /unknown", "- utter: utter_greet", "- slot_was_set: [vip]")
    )
    assert result.failure is not None
    assert "+ * No Bot Response *" in result.failure.details
    assert "+ * No Slot Set *" in result.failure.details


async def test_expectations_before_the_first_message_see_the_fixtures(tmp_path: Path) -> None:
    text = "fixtures:\n  - f: [{vip: true}]\n" + steps(
        "- slot_was_set: [{vip: true}]", "- user: /greet"
    ).replace("    steps:", "    fixtures: [f]\n    steps:")
    assert (await run_one(tmp_path, text)).status == "passed"
    failing = text.replace("{vip: true}]\n      - user", "{vip: false}]\n      - user")
    result = await run_one(tmp_path, failing)
    assert result.failure is not None and result.failure.details[0] == "before any message"
