"""``tandem interactive`` as a person uses it: the real command in a pseudo-terminal, on a
small NLU-only project of our own (one domain file, stories, Memoization and Rule policies).

The conversation confirms an intent, corrects a wrong one (to a new intent), re-annotates an
entity, corrects wrong actions (to an existing response and to a new one) and exports; the
files it writes must validate, train, and make the new model predict the corrected actions.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from pty_terminal import CTRL_C, CTRL_D, CTRL_U, PROMPT, Terminal

from tandem.cli.interactive import write_domain_additions
from tandem.cli.main import main

CONFIG = """recipe: default.v1
language: en
assistant_id: interactive-test
pipeline:
  - name: WhitespaceTokenizer
  - name: CountVectorsFeaturizer
  - name: LogisticRegressionClassifier
    random_state: 42
policies:
  - name: MemoizationPolicy
  - name: RulePolicy
"""

DOMAIN = """version: "3.1"
# the assistant's words
intents:
  - greet
  - goodbye
  - ask_weather
entities:
  - city
slots:
  city:
    type: text
    mappings:
    - type: from_entity
      entity: city
responses:
  utter_greet:
  - text: "Hello! How can I help?"
  utter_goodbye:
  - text: "Bye!"
  utter_weather:
  - text: "It is sunny."
  utter_happy:
  - text: "Great to hear!"
"""

NLU = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello
    - hi
    - hey there
    - good morning
- intent: goodbye
  examples: |
    - bye
    - goodbye
    - see you later
- intent: ask_weather
  examples: |
    - what is the weather in [Berlin](city)
    - weather in [Paris](city)
    - will it rain in [Rome](city)
    - how is the weather
"""

STORIES = """version: "3.1"
stories:
- story: greet
  steps:
  - intent: greet
  - action: utter_greet
- story: weather
  steps:
  - intent: ask_weather
  - action: utter_weather
- story: bye
  steps:
  - intent: goodbye
  - action: utter_goodbye
"""

INTENT_QUESTION = r"with every entity marked\? \[Y/n\] -> "
ACTION_QUESTION = r"the right next action\? \[Y/n\] -> "
PICK = r"number or name -> "
AFTER_ACTION = f"{ACTION_QUESTION}|{re.escape(PROMPT)}"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "bot"
    (root / "data").mkdir(parents=True)
    (root / "config.yml").write_text(CONFIG)
    (root / "domain.yml").write_text(DOMAIN)
    (root / "data" / "nlu.yml").write_text(NLU)
    (root / "data" / "stories.yml").write_text(STORIES)
    (root / "endpoints.yml").write_text("")
    return root


@contextlib.contextmanager
def interactive(project: Path, *args: str) -> contextlib.AbstractContextManager[Terminal]:
    terminal = Terminal(project, "interactive", *args)
    try:
        terminal.expect(re.escape(PROMPT), timeout=60)  # trains first
        yield terminal
    finally:
        terminal.close()


def act(terminal: Terminal, seen: str, action: str, says: str | None = None) -> tuple[str, str]:
    """Answer the next-action question so that ``action`` runs: confirm it if proposed,
    else pick it from the list (or name it as a new action saying ``says``). Returns the
    action proposed and what was printed up to the next question or prompt."""
    proposed = re.findall(r"Next action: (\S+)  \(", seen)[-1]
    if proposed == action:
        return proposed, terminal.say("y", until=AFTER_ACTION)
    listing = terminal.say("n", until=PICK)
    number = re.search(rf"(\d+)\. {re.escape(action)} \(", listing)
    if number is not None:
        return proposed, terminal.say(number[1], until=AFTER_ACTION)
    assert says is not None, f"{action} is not listed: {listing}"
    terminal.say("0", until="Name of the new action -> ")
    named = terminal.say(action, until=r"What does the bot say for .*-> ")
    return proposed, named + terminal.say(says, until=AFTER_ACTION)


def listen(terminal: Terminal, seen: str) -> str:
    _, seen = act(terminal, seen, "action_listen")
    assert seen.endswith(PROMPT)
    return seen


def test_a_corrected_conversation_becomes_a_story_the_retrained_model_follows(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with interactive(project) as terminal:
        # 1. A right intent and right actions, confirmed.
        seen = terminal.say("hello", until=INTENT_QUESTION)
        assert "Intent: greet (" in seen
        seen = terminal.say("y", until=ACTION_QUESTION)
        proposed, seen = act(terminal, seen, "utter_greet")
        assert proposed == "utter_greet"
        assert "Bot: Hello! How can I help?" in seen
        seen = listen(terminal, seen)
        assert "Story so far:\n  - intent: greet\n  - action: utter_greet\n" in seen

        # 2. A wrong intent: corrected to a new one; a wrong action corrected to a response.
        seen = terminal.say("I feel fantastic", until=INTENT_QUESTION)
        assert "Intent: greet (" in seen  # what the model thinks
        listing = terminal.say("n", until=PICK)
        assert re.search(r"1\. \w+ \(0\.\d\d\)", listing)  # ranked, with confidences
        terminal.say("0", until="Name of the new intent -> ")
        seen = terminal.say("mood_great", until=r"Enter keeps: I feel fantastic\) -> ")
        assert "'mood_great' is a new intent" in seen
        seen = terminal.say("", until=ACTION_QUESTION)  # the entities stay as they are
        proposed, seen = act(terminal, seen, "utter_happy")
        assert proposed != "utter_happy"  # the old model does not know this story
        assert "Bot: Great to hear!" in seen
        seen = listen(terminal, seen)

        # 3. A right intent but a missed entity: picked from the list and annotated.
        seen = terminal.say("weather in Lyon", until=INTENT_QUESTION)
        listing = terminal.say("n", until=PICK)
        number = re.search(r"(\d+)\. ask_weather \(", listing)
        assert number is not None
        terminal.say(number[1], until=r"Enter keeps: weather in Lyon\) -> ")
        # The line is prefilled with the message to edit: erase it, type the annotation.
        seen = terminal.say(CTRL_U + "weather in [Lyon](city)", until=ACTION_QUESTION)
        _, seen = act(terminal, seen, "utter_weather")
        seen = listen(terminal, seen)
        assert "  - intent: ask_weather\n    entities:\n    - city: Lyon\n" in seen

        # 4. A new action, with what it says.
        seen = terminal.say("bye", until=INTENT_QUESTION)
        seen = terminal.say("y", until=ACTION_QUESTION)
        _, seen = act(terminal, seen, "utter_see_you", says="See you soon!")
        assert "'utter_see_you' is a new action" in seen
        assert "Bot: See you soon!" in seen
        listen(terminal, seen)

        terminal.type(CTRL_D)
        assert terminal.exit_code(timeout=20) == 0
        done = terminal.output.replace("\r\n", "\n")
    assert "Exported to data/interactive.yml: 1 story, 2 new NLU examples." in done
    assert "Added to the domain in domain.yml: intents mood_great; actions utter_see_you." in done

    exported = yaml.safe_load((project / "data" / "interactive.yml").read_text())
    steps = [
        {"intent": "greet"},
        {"action": "utter_greet"},
        {"intent": "mood_great"},
        {"action": "utter_happy"},
        {"intent": "ask_weather", "entities": [{"city": "Lyon"}]},
        {"slot_was_set": [{"city": "Lyon"}]},  # by the entity, through the slot's mapping
        {"action": "utter_weather"},
        {"intent": "goodbye"},
        {"action": "utter_see_you"},
    ]
    assert exported["stories"] == [{"story": "interactive_story_1", "steps": steps}]
    # "hello" and "bye" are examples already; the corrected messages are new.
    assert exported["nlu"] == [
        {"intent": "mood_great", "examples": "- I feel fantastic\n"},
        {"intent": "ask_weather", "examples": "- weather in [Lyon](city)\n"},
    ]
    domain_text = (project / "domain.yml").read_text()
    assert "# the assistant's words" in domain_text  # edited in place, not rewritten
    domain = yaml.safe_load(domain_text)
    assert domain["intents"] == ["greet", "goodbye", "ask_weather", "mood_great"]
    assert domain["responses"]["utter_see_you"] == [{"text": "See you soon!"}]
    assert domain["responses"]["utter_greet"] == [{"text": "Hello! How can I help?"}]

    with contextlib.chdir(project):
        capsys.readouterr()
        assert main(["data", "validate"]) == 0
        assert "0 error(s), 0 warning(s)" in capsys.readouterr().out
        assert main(["train", "--fixed-model-name", "retrained"]) == 0
    predicted = asyncio.run(replay(project / "models" / "retrained.tar.gz", steps))
    assert predicted == ["utter_greet", "utter_happy", "utter_weather", "utter_see_you"]


async def replay(model: Path, steps: list[dict]) -> list[str]:
    """The model's first prediction after each user step of the story (teacher-forced)."""
    from tandem.model.loading import open_processor
    from tandem.runtime.message import UserMessage

    processor = await open_processor(model)
    predicted = []
    try:
        for step in steps:
            if "intent" in step:
                entities = [
                    {"entity": name, "value": value}
                    for item in step.get("entities", [])
                    for name, value in item.items()
                ]
                parse = {"intent": {"name": step["intent"], "confidence": 1.0}}
                parse["entities"] = entities
                await processor.log_message(UserMessage("-", "replay", parse_data=parse))
                predicted.append((await processor.predict_next_action("replay"))[1])
            elif "action" in step:  # slots are set by the entities, as the story says
                await processor.execute_action("replay", step["action"])
                await processor.execute_action("replay", "action_listen")
    finally:
        await processor.aclose()
    return predicted


def test_piped_answers_work_and_merge_into_the_data_file(project: Path) -> None:
    def run(answers: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tandem.cli.main", "interactive"],
            input=answers,
            cwd=project,
            capture_output=True,
            text=True,
            timeout=120,
        )

    # A message corrected to "greet" by name; entities kept; the proposed actions confirmed.
    first = run("hiya\nn\ngreet\n\ny\ny\n")
    assert first.returncode == 0, first.stderr
    assert "input is not a terminal" in first.stdout
    assert "Exported to data/interactive.yml: 1 story, 1 new NLU example." in first.stdout
    assert "Training the NLU pipeline (11 examples)" in first.stdout
    second = run("hiya\nn\ngreet\n\ny\ny\n")  # the same again: merged, not overwritten
    # The project changed (the exported file is training data): trained again, on it.
    assert "Training the NLU pipeline (12 examples)" in second.stdout
    assert "1 story, 0 new NLU examples" in second.stdout
    exported = yaml.safe_load((project / "data" / "interactive.yml").read_text())
    assert [s["story"] for s in exported["stories"]] == [
        "interactive_story_1",
        "interactive_story_2",
    ]
    assert exported["stories"][1]["steps"] == [{"intent": "greet"}, {"action": "utter_greet"}]
    assert exported["nlu"] == [{"intent": "greet", "examples": "- hiya\n"}]
    assert "Added to the domain" not in first.stdout + second.stdout


def test_stop_menu_quits_without_exporting_and_ctrl_c_leaves_at_once(project: Path) -> None:
    with interactive(project) as terminal:
        terminal.say("hello", until=INTENT_QUESTION)
        terminal.say("y", until=ACTION_QUESTION)
        terminal.say("y", until=ACTION_QUESTION)
        terminal.say("y", until=re.escape(PROMPT))
        menu = terminal.say("/stop", until="Choice number -> ")
        assert "1. export what was learned and quit" in menu
        terminal.type("4\r")
        assert terminal.exit_code(timeout=20) == 0
        assert "Nothing was exported." in terminal.output
    # Up recalls messages only: the answers are not in the history tandem shell shares.
    history = (project / ".tandem_history").read_text().splitlines()
    assert "hello" in history and "/stop" in history
    assert "y" not in history and "4" not in history
    with interactive(project) as terminal:
        terminal.say("hello", until=INTENT_QUESTION)
        # A key typed the instant the question appears may come before readline waits for
        # one; a SIGINT then would be seen only at the next key (not what a person meets).
        time.sleep(0.3)
        terminal.type(CTRL_C)
        assert terminal.exit_code() == 130
        assert "Interrupted: nothing was exported." in terminal.output
        assert "Traceback" not in terminal.output
    assert not (project / "data" / "interactive.yml").exists()


def test_domain_folder_gets_an_interactive_file_merged_with_the_last(tmp_path: Path) -> None:
    folder = tmp_path / "domain"
    folder.mkdir()
    first = write_domain_additions(
        folder, {"intents": {"mood_great": None}, "entities": {}, "actions": {"action_x": None}}
    )
    assert first == folder / "interactive.yml"
    write_domain_additions(
        folder,
        {"intents": {"mood_sad": None}, "entities": {"mood": None}, "actions": {"utter_y": "Hi"}},
    )
    assert yaml.safe_load(first.read_text()) == {
        "version": "3.1",
        "intents": ["mood_great", "mood_sad"],
        "actions": ["action_x"],
        "entities": ["mood"],
        "responses": {"utter_y": [{"text": "Hi"}]},
    }


def test_domain_file_lists_in_flow_style_or_missing_are_extended(tmp_path: Path) -> None:
    domain = tmp_path / "domain.yml"
    domain.write_text('version: "3.1"\nintents: [greet, goodbye]\n')
    write_domain_additions(
        domain,
        {"intents": {"mood": None}, "entities": {"city": None}, "actions": {"utter_a": "A"}},
    )
    assert yaml.safe_load(domain.read_text()) == {
        "version": "3.1",
        "intents": ["greet", "goodbye", "mood"],
        "entities": ["city"],
        "responses": {"utter_a": [{"text": "A"}]},
    }


def piped(project: Path, answers: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tandem.cli.main", "interactive"],
        input=answers,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_a_new_conversation_from_the_menu_is_a_second_story(project: Path) -> None:
    done = piped(project, "hello\ny\ny\ny\n/stop\n3\nbye\ny\ny\ny\n")
    assert done.returncode == 0, done.stderr
    assert "A new conversation" in done.stdout
    exported = yaml.safe_load((project / "data" / "interactive.yml").read_text())
    assert [s["steps"] for s in exported["stories"]] == [
        [{"intent": "greet"}, {"action": "utter_greet"}],
        [{"intent": "goodbye"}, {"action": "utter_goodbye"}],
    ]


def test_turns_that_go_to_calm_run_as_they_are_and_stay_out_of_the_story(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    starter = tmp_path / "starter"
    assert main(["init", str(starter)]) == 0
    # "hello" goes to the NLU system (its story is learned), the order to CALM's flow.
    done = piped(starter, "hello\ny\ny\ny\nI want a pepperoni pizza\n")
    assert done.returncode == 0, done.stderr
    nlu_turn, calm_turn = done.stdout.split("This message goes to CALM (flows)")
    assert "Is 'utter_greet' the right next action?" in nlu_turn
    assert "commands: start flow(flow='order_pizza')" in calm_turn
    assert "action:  utter_ask_pizza_size  by FlowPolicy 1.00" in calm_turn
    assert "Bot: What size: small, medium or large?" in calm_turn
    assert "right next action?" not in calm_turn  # shown, not asked
    exported = yaml.safe_load((starter / "data" / "interactive.yml").read_text())
    assert exported["stories"][0]["steps"] == [{"intent": "greet"}, {"action": "utter_greet"}]
    assert "nlu" not in exported  # "hello" is an example already; the order is not one
    with contextlib.chdir(starter):
        capsys.readouterr()
        assert main(["data", "validate"]) == 0
        assert "0 error(s), 0 warning(s)" in capsys.readouterr().out
