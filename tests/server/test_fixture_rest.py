"""Public-style NLU projects served by ``tandem run`` and talked to over the REST channel.

``helpdesk_faq`` (tests/fixtures/projects) declares its responses under ``actions:`` as many
public projects do, answers retrieval intents through two ResponseSelectors, and has no
action server: every answer below must come without one.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from server_testkit import request, running

from tandem.cli.main import main

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "projects" / "helpdesk_faq"


def say(port: int, sender: str, text: str) -> list[str]:
    status, messages = request(
        port, "POST", "/webhooks/rest/webhook", {"sender": sender, "message": text}
    )
    assert status == 200
    return [m.get("text") for m in messages]


def test_the_helpdesk_answers_over_rest_without_an_action_server(tmp_path: Path) -> None:
    project = Path(shutil.copytree(FIXTURE, tmp_path / "helpdesk"))
    with contextlib.chdir(project):
        assert main(["train", "--fixed-model-name", "m"]) == 0
    with running(project, "--enable-api") as port:
        assert say(port, "u", "hello there")[0].startswith("Hi! I am the helpdesk assistant.")
        assert say(port, "u", "how do I set up the vpn client") == [
            "Install the VPN client from the software center and sign in with your work account."
        ]
        assert say(port, "u", "what's your name") == ["My name is Desk, the helpdesk bot."]
        status, tracker = request(port, "GET", "/conversations/u/tracker")
        assert status == 200
        vpn = [e for e in tracker["events"] if e.get("text") == "how do I set up the vpn client"]
        parse = vpn[0]["parse_data"]
        assert parse["intent"]["name"] == "faq"
        selected = parse["response_selector"]["faq"]["response"]
        assert selected["intent_response_key"] == "faq/vpn"
        bots = [e for e in tracker["events"] if e["event"] == "bot"]
        assert [e["metadata"].get("utter_action") for e in bots] == [
            "utter_greet",
            "utter_faq/vpn",
            "utter_chitchat/ask_name",
        ]


RESTAURANT = FIXTURE.parent / "restaurant_forms"


@pytest.mark.parametrize(
    "config",
    [
        "config.yml",
        "config-spacy.yml",
        "config-sklearn.yml",
    ],
)
def test_the_restaurant_form_books_a_table_over_rest(
    config: str, tmp_path: Path, sdk_server: Callable[[Path, str], str]
) -> None:
    """The form project, on its counts pipeline and on its two spaCy ones, through the real
    rasa-sdk action server (form validation and the booking are custom actions)."""
    project = Path(shutil.copytree(RESTAURANT, tmp_path / "restaurant"))
    url = sdk_server(RESTAURANT, "actions.actions")
    (project / "endpoints.yml").write_text(f"action_endpoint:\n  url: {url}\n")
    with contextlib.chdir(project):
        assert main(["train", "--config", config, "--fixed-model-name", "m"]) == 0
    with running(project, "--enable-api") as port:
        assert say(port, "g", "hey there") == [
            "Hello! I can book you a table. What would you like?"
        ]
        assert say(port, "g", "can you book a table") == ["Which cuisine would you like?"]
        assert say(port, "g", "italian food") == ["For how many people?"]
        assert say(port, "g", "we are 5") == ["Would you like to sit outside?"]
        assert say(port, "g", "yes") == ["Anything we should know, for example allergies?"]
        assert say(port, "g", "I am allergic to nuts") == [
            "All done, your table is booked.",
            "A table for 5 (italian cuisine), outside: True. Note: I am allergic to nuts",
        ]
        assert say(port, "g", "thanks a lot") == ["You are welcome :)"]


FINANCIAL = FIXTURE.parent / "financial_nested"


def test_the_financial_forms_ask_over_rest(tmp_path: Path) -> None:
    """The financial fixture (nested domain folder, three data paths, data-file responses, two
    forms) served by ``tandem run``: its rules answer, and the transfer form asks for what it
    lacks, confirms with the values it filled from the entities, and asks again after a
    message that is no answer."""
    project = Path(shutil.copytree(FINANCIAL, tmp_path / "financial"))
    with contextlib.chdir(project):
        assert main(["train", "--fixed-model-name", "m"]) == 0
    with running(project) as port:
        assert say(port, "u", "hi") == ["Hi, I am your banking assistant."]
        assert say(port, "u", "I want to send money") == ["Who should get the money?"]
        assert say(port, "u", "to Bob") == ["How much should I send?"]
        assert say(port, "u", "75 dollars") == ["Send 75 to Bob?"]
        # Not an answer: the form rejects it, the rule answers, the form asks again.
        assert say(port, "u", "bye") == ["Goodbye!", "Send 75 to Bob?"]
