"""``tandem inspect`` in a real browser: Debian's chromium, headless, driven by Playwright.

The test chats through both systems of the starter by typing into the page, and after each
turn checks that the routing, commands, stack and slots the page shows are the tracker's
(read through the HTTP API of the same server). Then it exports the conversation from the
page and runs the file with ``tandem test e2e``. Chromium must be installed
(``apt-get install -y chromium``; ``.ci/run`` does it): without it the test fails.

``TANDEM_INSPECT_SCREENSHOT=<file>`` keeps the page's picture (the README's is made so).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from server_testkit import answers, free_port, request, stop_gracefully

from tandem import names

CHROMIUM = "/usr/bin/chromium"
TOKEN = "browser-secret"
SENDER = "in-the-browser"


@pytest.fixture
def project(starter_project: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(starter_project, tmp_path / "bot"))


@pytest.fixture
def inspect_port(project: Path) -> Iterator[int]:
    """``tandem inspect`` with the API, both behind a token, as a user starts it."""
    port = free_port()
    command = ["inspect", "--port", str(port), "--enable-api", "--auth-token", TOKEN]
    server = subprocess.Popen(
        [sys.executable, "-m", "tandem.cli.main", *command],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not answers(port):
            if server.poll() is not None or time.monotonic() > deadline:
                output = server.stdout.read() if server.stdout else ""
                pytest.fail(f"tandem inspect did not start:\n{output}")
            time.sleep(0.1)
        yield port
    finally:
        assert stop_gracefully(server) == 0


@pytest.fixture
def page(inspect_port: int) -> Iterator[Page]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(f"http://127.0.0.1:{inspect_port}/inspect?token={TOKEN}&conversation={SENDER}")
        yield page
        browser.close()


def tracker(port: int) -> dict[str, Any]:
    path = f"/conversations/{SENDER}/tracker?include_events=ALL&token={TOKEN}"
    status, body = request(port, "GET", path)
    assert status == 200
    return body


def say(page: Page, text: str, turn: int) -> None:
    """Type ``text`` and send it with Enter; wait until the page shows its turn."""
    page.locator("#message").fill(text)
    page.keyboard.press("Enter")
    expect(page.locator(f'#turns button[data-turn="{turn}"]')).to_have_attribute(
        "aria-current", "true"
    )


def shown_stack(page: Page) -> list[tuple[str, str]]:
    rows = page.locator('#stack [data-stack="after"] tbody tr')
    return [(row.get_attribute("data-flow"), row.get_attribute("data-step")) for row in rows.all()]


def shown_slots(page: Page) -> dict[str, Any]:
    rows = page.locator("#slots tbody tr").all()
    return {
        row.get_attribute("data-slot"): json.loads(row.get_attribute("data-value")) for row in rows
    }


def check_against_tracker(page: Page, port: int) -> dict[str, Any]:
    """The latest turn as the page shows it is the tracker's; returns the tracker."""
    stored = tracker(port)
    assert shown_stack(page) == [
        (f.get("flow_id") or f["type"], f["step_id"]) for f in stored["stack"]
    ]
    slots = {k: v for k, v in stored["slots"].items() if k != names.SLOT_FLOW_HASHES}
    assert shown_slots(page) == slots
    # The user event, not ``latest_message``: a routing reset clears that.
    user = [e for e in stored["events"] if e["event"] == "user"][-1]
    verdict = user["metadata"]["routing"]
    assert page.locator("#routing dd").nth(1).inner_text() == verdict["router"]
    assert page.locator("#routing dd").nth(2).inner_text() == verdict["reason"]
    commands = [c["command"] for c in user["parse_data"].get("commands") or []]
    shown = page.locator("#commands li[data-command]").all()
    assert [item.get_attribute("data-command") for item in shown] == commands
    intent = page.locator("#parse p[data-intent]").get_attribute("data-intent")
    assert intent == user["parse_data"]["intent"]["name"]
    return stored


def routed(page: Page) -> tuple[str | None, ...]:
    """The route the page shows for the turn: system, sticky, reset."""
    shown = page.locator("#routing dl")
    return tuple(shown.get_attribute(a) for a in ("data-system", "data-sticky", "data-reset"))


def test_chat_through_both_systems_and_export_the_conversation(
    page: Page, inspect_port: int, project: Path, tmp_path: Path
) -> None:
    port = inspect_port
    say(page, "hello", 1)
    expect(page.locator("#messages li.bot")).to_have_count(1)
    check_against_tracker(page, port)
    assert routed(page) == ("nlu", "false", "false")  # greet: NLU-based, this message only

    say(page, "I would like to order a pizza", 2)
    stored = check_against_tracker(page, port)
    assert routed(page) == ("calm", "true", "false")
    # The flow view draws the order with the step the stack is at marked.
    order = next(f for f in stored["stack"] if f.get("type") == "flow")
    caption = page.locator("#flow p[data-flow]")
    expect(caption).to_have_attribute("data-step", order["step_id"])
    current = page.locator("#flow svg g.current title")
    expect(current).to_have_count(1)
    assert current.text_content().split("\n")[0] == order["step_id"]

    say(page, "a large margherita", 3)
    stored = check_against_tracker(page, port)
    assert stored["slots"]["pizza_type"] == "margherita"
    row = page.locator('#slots tr[data-slot="pizza_type"] td').nth(2)
    assert row.inner_text() == "3"  # set in turn 3

    say(page, "yes", 4)
    check_against_tracker(page, port)
    assert routed(page) == ("calm", "true", "true")  # the order is done: routing resets
    expect(page.locator("#stack h4")).to_contain_text("routing_session_ended")

    say(page, "when are you open?", 5)
    stored = check_against_tracker(page, port)
    assert routed(page) == ("nlu", "true", "true")
    bots = [e["text"] for e in stored["events"] if e["event"] == "bot"]
    expect(page.locator("#messages li.bot")).to_have_text(bots)

    # An earlier turn, picked with the keyboard, shows its own routing and stack.
    page.locator('#turns button[data-turn="2"]').focus()
    page.keyboard.press("Enter")
    expect(page.locator('#turns button[data-turn="2"]')).to_have_attribute("aria-current", "true")
    assert routed(page) == ("calm", "true", "false")
    assert shown_stack(page)[0][0] == "order_pizza"
    assert shown_slots(page)[names.ROUTING_SLOT] is True  # as after turn 2, not now
    assert tracker(port)["slots"][names.ROUTING_SLOT] is None

    screenshot = os.environ.get("TANDEM_INSPECT_SCREENSHOT")
    page.screenshot(path=screenshot or str(tmp_path / "inspect.png"), full_page=True)

    with page.expect_download() as download:
        page.locator("#export").click()
    exported = Path(download.value.path()).read_text()
    expect(page.locator("#export-yaml")).to_have_text(exported)
    target = project / "e2e_tests" / "from_the_browser.yml"
    target.write_text(exported)
    # As a user runs it (a process: Playwright's event loop owns this thread).
    run = subprocess.run(
        [sys.executable, "-m", "tandem.cli.main", "test", "e2e", str(target)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 failed, 1 passed" in run.stdout
