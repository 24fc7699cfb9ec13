"""``tandem shell`` as a person uses it: the real command in a pseudo-terminal, on the starter.

Line editing, history, Ctrl-C and Ctrl-D depend on a terminal, so these tests give the shell
one (``pty_terminal.Terminal``).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pty_terminal import PROMPT, UP, Terminal

from fake_llm_server import FakeLLMServer, served_in_a_thread
from local_servers import free_port
from tandem.cli.main import build_parser, main


@pytest.fixture(scope="module")
def starter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("shell") / "bot"
    assert main(["init", str(project)]) == 0
    with contextlib.chdir(project):
        assert main(["train", "--fixed-model-name", "m"]) == 0
    return project


@contextlib.contextmanager
def shell(project: Path, *args: str) -> Iterator[Terminal]:
    terminal = Terminal(project, "shell", *args)
    try:
        terminal.expect(re.escape(PROMPT), timeout=30)
        yield terminal
    finally:
        terminal.close()


def test_debug_explains_each_turn_and_up_recalls_the_last_message(starter: Path) -> None:
    with shell(starter, "--debug") as terminal:
        refused = terminal.say("/SetSlots(pizza_size=large)")
        assert re.search(
            r"rejected: set slot\(name='pizza_size'.*\): no running or starting flow collects",
            refused,
        )
        ordered = terminal.say("I want a pepperoni pizza")
        assert '"name": "order_pizza"' in ordered
        assert "pizza_type = 'pepperoni'" in ordered  # the slots the turn changed
        assert "utter_ask_pizza_size  by FlowPolicy 1.00" in ordered  # policy and confidence
        assert "start flow(flow='order_pizza')" in ordered
        assert "from NLUCommandAdapter: start flow(flow='order_pizza')" in ordered

        restarted = terminal.say("/restart")
        # The restart cleared the tracker; the report still has the turn's parse and stack.
        assert '"name": "restart"' in restarted
        assert re.search(r'stack before restart: \["order_pizza@', restarted)
        assert "pizza_type = None  (restart)" in restarted

        recalled = terminal.say(UP + UP)  # the message before "/restart"
        assert "^[[A" not in recalled
        assert '"name": "order_pizza"' in recalled

        terminal.say("large")
        ended = terminal.say("yes")  # the flow ends and action_reset_routing resets the tracker
        assert '"name": "affirm"' in ended
        assert "order_confirmed = True" in ended
        assert "action_reset_routing  by FlowPolicy 1.00" in ended
        assert "flows: order_pizza completed" in ended
        assert 'stack before routing_session_ended: ["pattern_completed@' in ended
        assert ended.rstrip().endswith(PROMPT.rstrip())

        terminal.type("\x04")  # Ctrl-D
        assert terminal.exit_code() == 0
    history = (starter / ".tandem_history").read_text()
    assert "I want a pepperoni pizza" in history and "/restart" in history


def test_ctrl_c_exits_at_once_with_130_and_v_after_the_verb(starter: Path) -> None:
    with shell(starter, "-v") as terminal:
        started = time.monotonic()
        terminal.type("\x03")  # Ctrl-C
        assert terminal.exit_code() == 130
        assert time.monotonic() - started < 3
        assert "Traceback" not in terminal.output


def test_ctrl_c_stops_a_turn_that_hangs(starter: Path, tmp_path: Path) -> None:
    # A "Redis" that takes connections and never answers: the first message's turn hangs.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        project = Path(shutil.copytree(starter, tmp_path / "bot"))
        port = silent.getsockname()[1]
        (project / "endpoints.yml").write_text(
            f"tracker_store:\n  type: redis\n  url: 127.0.0.1\n  port: {port}\n"
        )
        with shell(project) as terminal:
            terminal.type("hello\r")
            terminal.expect("hello")
            time.sleep(0.5)  # into the turn
            started = time.monotonic()
            terminal.type("\x03")
            assert terminal.exit_code() == 130
            assert time.monotonic() - started < 3
            assert "Traceback" not in terminal.output


@pytest.mark.parametrize("argv", [["shell", "-v"], ["-v", "shell"], ["data", "validate", "-v"]])
def test_verbose_is_taken_before_or_after_the_verb(argv: list[str]) -> None:
    assert build_parser().parse_args(argv).verbose is True


def test_verbose_is_off_unless_given() -> None:
    assert build_parser().parse_args(["shell"]).verbose is False


LLM_GENERATOR = """  - name: SingleStepLLMCommandGenerator
    llm:
      model_group: commands
"""


def test_debug_llm_shows_the_prompt_the_answer_and_what_was_dropped(
    starter: Path, tmp_path: Path, no_ambient_llm_settings: None
) -> None:
    project = Path(shutil.copytree(starter, tmp_path / "bot"))
    config = project / "config.yml"
    text = config.read_text()
    adapter = text.index("  - name: NLUCommandAdapter")  # the LLM answers first
    config.write_text(text[:adapter] + LLM_GENERATOR + text[adapter:])
    with served_in_a_thread(FakeLLMServer(free_port())) as llm:
        (project / "endpoints.yml").write_text(
            "model_groups:\n  - id: commands\n    models:\n      - provider: openai\n"
            f"        model: scripted\n        api_base: {llm.api_base}\n"
            "        api_key: not-checked\n"
        )
        with contextlib.chdir(project):
            assert main(["train", "--fixed-model-name", "m"]) == 0
        llm.then_answer("StartFlow(order_pizza)\nStartFlow(no_such_flow)", model="scripted-1")
        with shell(project, "--debug", "--debug-llm") as terminal:
            shown = terminal.say("I want to order a pizza")
    assert "--- LLM call 1 (scripted-1) prompt ---" in shown  # the model that answered
    assert 'The user\'s latest message is: """I want to order a pizza"""' in shown
    assert "--- LLM call 1 answer ---\nStartFlow(order_pizza)\nStartFlow(no_such_flow)" in shown
    assert "Which pizza would you like" in shown
    # Dropped while the message was read, before the command processor saw it.
    assert re.search(r"rejected: start flow\(flow='no_such_flow'\): no such flow", shown)
    assert len(llm.requests) == 1
