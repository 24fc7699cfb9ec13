"""Validation of coexistence assistants: the reference's training-time errors with their codes,
and warnings about coexistence gotchas."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from project_testkit import Write, find

from tandem.cli.main import main
from tandem.model.validation import validate_project
from tandem.project.errors import Problem
from tandem.project.loader import load_project

COEXISTANCE = "engine.validation.coexistance."  # the reference's spelling
GOTCHA = "tandem.validation.coexistence."

CONFIG = """\
recipe: default.v1
language: en
assistant_id: test
pipeline:
  - name: WhitespaceTokenizer
  - name: IntentBasedRouter
    nlu_entry:
      sticky: [book_table]
      non_sticky: [greet]
    calm_entry:
      sticky: [transfer]
  - name: NLUCommandAdapter
  - name: CompactLLMCommandGenerator
policies:
  - name: FlowPolicy
  - name: RulePolicy
"""
ROUTER = """\
  - name: IntentBasedRouter
    nlu_entry:
      sticky: [book_table]
      non_sticky: [greet]
    calm_entry:
      sticky: [transfer]
"""
LLM_ROUTER = """\
  - name: LLMBasedRouter
    calm_entry:
      sticky: handles money transfers
"""
ROUTING_SLOT = """\
  route_session_to_calm:
    type: bool
    mappings: [{type: from_llm}]
"""
DOMAIN = f"""\
intents: [greet, book_table, transfer]
slots:
{ROUTING_SLOT}\
  amount:
    type: float
    mappings: [{{type: from_llm}}]
responses:
  utter_greet: [{{text: Hello}}]
  utter_booked: [{{text: Booked}}]
  utter_ask_amount: [{{text: How much?}}]
"""
PATTERN_COMPLETED = """\
  pattern_completed:
    description: Ends every conversation with CALM.
    steps:
      - action: action_reset_routing
"""
FLOWS = f"""\
flows:
  transfer_money:
    description: Send money to someone.
    steps:
      - collect: amount
{PATTERN_COMPLETED}\
"""
RESET_RULE = "      - action: action_reset_routing\n"
RULES = f"""\
rules:
  - rule: book a table
    steps:
      - intent: book_table
      - action: utter_booked
{RESET_RULE}\
"""
NLU = """\
nlu:
  - intent: greet
    examples: |
      - hi
  - intent: book_table
    examples: |
      - book a table
  - intent: transfer
    examples: |
      - send money
"""
FILES = {
    "config.yml": CONFIG,
    "domain.yml": DOMAIN,
    "data/flows.yml": FLOWS,
    "data/rules.yml": RULES,
}


def edited(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


Validate = Callable[..., list[Problem]]


@pytest.fixture
def project(write: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The files of a clean coexistence assistant in ``tmp_path`` (also the working folder)."""
    for name, text in {**FILES, "data/nlu.yml": NLU}.items():
        write(name, text)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def validate(project: Path, write: Write) -> Validate:
    """``validate(**{file: text})``: the problems of the project with those files replaced
    (``config``, ``domain``, ``flows``, ``rules``)."""

    def validate(**texts: str) -> list[Problem]:
        for key, text in texts.items():
            write(next(name for name in FILES if Path(name).stem == key), text)
        return validate_project(load_project(project))

    return validate


def at(problem: Problem) -> tuple[str, int]:
    """Where the problem is: the file's name and the line."""
    return Path(problem.source.path).name, problem.source.line


def test_the_coexistence_assistant_is_clean(validate: Validate) -> None:
    assert validate() == []


# -- errors ---------------------------------------------------------------------------------------


def test_both_routers(validate: Validate) -> None:
    problem = find(validate(config=edited(CONFIG, ROUTER, ROUTER + LLM_ROUTER)), "both")
    assert problem.code == COEXISTANCE + "both_routers_defined"
    assert at(problem) == ("config.yml", 12)
    assert problem.message == "both IntentBasedRouter and LLMBasedRouter are configured"
    assert str(problem).endswith(
        "config.yml:12: error: [engine.validation.coexistance.both_routers_defined] "
        "both IntentBasedRouter and LLMBasedRouter are configured (keep one router)"
    )


def test_intent_router_after_an_llm_command_generator(validate: Validate) -> None:
    generator = "  - name: CompactLLMCommandGenerator\n"
    config = edited(edited(CONFIG, generator, ""), ROUTER, generator + ROUTER)
    problem = find(validate(config=config), "comes after")
    assert problem.code == COEXISTANCE + "wrong_order_of_components"
    assert (at(problem), problem.severity) == (("config.yml", 7), "error")
    assert problem.message == (
        "IntentBasedRouter comes after the command generator CompactLLMCommandGenerator (line 6)"
    )


def test_the_llm_router_after_an_llm_command_generator_is_only_a_warning(
    validate: Validate,
) -> None:
    """The reference does not check where the LLMBasedRouter is."""
    generator = "  - name: CompactLLMCommandGenerator\n"
    config = edited(edited(CONFIG, generator, ""), ROUTER, generator + LLM_ROUTER)
    problem = find(validate(config=config), "comes after")
    assert (problem.code, problem.severity) == (
        GOTCHA + "router_after_command_generator",
        "warning",
    )
    assert at(problem) == ("config.yml", 7)


@pytest.mark.parametrize(
    ("slot", "where", "message"),
    [
        (
            "",
            ("config.yml", 6),
            "a router is configured, so the domain needs the bool slot 'route_session_to_calm'",
        ),
        (
            edited(ROUTING_SLOT, "type: bool", "type: text"),
            ("domain.yml", 3),
            "the slot 'route_session_to_calm' is of type text, but routers need it to be a bool",
        ),
    ],
)
def test_a_router_without_a_bool_routing_slot(
    validate: Validate, slot: str, where: tuple[str, int], message: str
) -> None:
    problem = find(validate(domain=edited(DOMAIN, ROUTING_SLOT, slot)), "route_session_to_calm'")
    assert problem.code == COEXISTANCE + "route_session_to_calm_not_in_domain"
    assert (at(problem), problem.message) == (where, message)


@pytest.mark.parametrize("slot_type", ["bool", "text"])
def test_a_routing_slot_without_a_router(validate: Validate, slot_type: str) -> None:
    domain = edited(DOMAIN, "type: bool", f"type: {slot_type}")
    problems = validate(config=edited(CONFIG, ROUTER, ""), domain=domain)
    problem = find(problems, "no router is configured")
    assert problem.code == COEXISTANCE + "route_session_to_calm_in_domain_with_no_router_defined"
    assert at(problem) == ("domain.yml", 3)
    assert (
        problem.message
        == "the slot 'route_session_to_calm' is declared but no router is configured"
    )
    # With a bool slot, the flow's action_reset_routing is allowed.
    resets = [p for p in problems if "resets the routing" in p.message]
    assert len(resets) == (slot_type != "bool")


@pytest.mark.parametrize(
    ("router", "entry", "message"),
    [
        (ROUTER, "      non_sticky: [greet]\n", "IntentBasedRouter needs `nlu_entry.non_sticky`"),
        (ROUTER, "      sticky: [book_table]\n", "IntentBasedRouter needs `nlu_entry.sticky`"),
        (
            ROUTER,
            "    calm_entry:\n      sticky: [transfer]\n",
            "IntentBasedRouter needs `calm_entry.sticky`",
        ),
        (
            LLM_ROUTER,
            "      sticky: handles money transfers\n",
            "LLMBasedRouter needs `calm_entry.sticky`",
        ),
    ],
)
def test_router_settings_that_are_missing(
    validate: Validate, router: str, entry: str, message: str
) -> None:
    problem = find(validate(config=edited(CONFIG, ROUTER, edited(router, entry, ""))), "needs")
    assert problem.code == COEXISTANCE + "invalid_configuration"
    assert (at(problem), problem.message) == (("config.yml", 6), message)


def test_the_llm_router_needs_both_nlu_entries_if_it_has_nlu_entry(validate: Validate) -> None:
    """The user's ``nlu_entry`` replaces the default one as a whole."""
    nlu_entry = "    nlu_entry:\n      sticky: handles everything else\n"
    problem = find(validate(config=edited(CONFIG, ROUTER, LLM_ROUTER + nlu_entry)), "needs")
    assert problem.code == COEXISTANCE + "invalid_configuration"
    assert problem.message == "LLMBasedRouter has `nlu_entry`, so it needs `nlu_entry.non_sticky`"
    assert at(problem) == ("config.yml", 6)
    both = nlu_entry + "      non_sticky: handles chitchat\n"
    assert validate(config=edited(CONFIG, ROUTER, LLM_ROUTER + both)) == []


def test_a_flow_resetting_the_routing_without_router_or_routing_slot(validate: Validate) -> None:
    flows = FLOWS + (
        "  check:\n"
        "    description: Check the balance.\n"
        "    steps:\n"
        "      - noop: true\n"
        "        next:\n"
        "          - if: slots.amount > 10\n"
        "            then:\n"
        "              - action: action_reset_routing\n"
        "                next: END\n"
        "          - else: END\n"
    )
    problems = validate(
        config=edited(CONFIG, ROUTER, ""), domain=edited(DOMAIN, ROUTING_SLOT, ""), flows=flows
    )
    code = COEXISTANCE + (
        "action_reset_routing_present_in_flow_without_router_or_route_session_to_calm_slot"
    )
    assert [(at(p), p.message) for p in problems if p.code == code] == [
        (("flows.yml", 9), "flow 'pattern_completed' resets the routing, but there is no router"),
        (("flows.yml", 17), "flow 'check' resets the routing, but there is no router"),
    ]


def test_two_llm_command_generators(validate: Validate) -> None:
    config = edited(CONFIG, "policies:\n", "  - name: SearchReadyLLMCommandGenerator\npolicies:\n")
    problem = find(validate(config=config), "more than one LLM command generator")
    assert problem.code == "engine.validation.command_generator.multiple_command_generator_defined"
    assert at(problem) == ("config.yml", 14)


# -- warnings about gotchas -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("router", "name"), [(ROUTER, "IntentBasedRouter"), (LLM_ROUTER, "LLMBasedRouter")]
)
def test_a_router_after_the_nlu_command_adapter(validate: Validate, router: str, name: str) -> None:
    adapter = "  - name: NLUCommandAdapter\n"
    config = edited(edited(CONFIG, adapter, ""), ROUTER, adapter + router)
    problem = find(validate(config=config), "comes after")
    assert (problem.code, problem.severity) == (
        GOTCHA + "router_after_command_generator",
        "warning",
    )
    assert at(problem) == ("config.yml", 7)
    assert problem.message == (
        f"{name} comes after NLUCommandAdapter (line 6), so it overwrites the commands "
        "NLUCommandAdapter predicts"
    )


NOTE_SLOT = """\
  note:
    type: text
    mappings:
      - type: from_llm
      - {mapping}
"""
NOTE_FLOW = """\
  leave_note:
    description: Leave a note.
    steps:
      - collect: note
        description: the note
{ask}"""


@pytest.mark.parametrize(
    ("mapping", "ask_first", "router", "warned_about"),
    [
        ("type: from_text", False, ROUTER, "from_text"),
        ("{type: from_intent, value: yes}", False, ROUTER, "from_intent"),
        ("{type: from_intent, value: yes, not_intent: [greet]}", False, ROUTER, "from_intent"),
        ("{type: from_text, intent: transfer}", False, ROUTER, None),
        ("{type: from_text, conditions: [{active_flow: leave_note}]}", False, ROUTER, None),
        ("type: from_text", True, ROUTER, None),
        ("type: from_text", False, LLM_ROUTER, None),  # the LLM router reads no mappings
    ],
)
def test_a_flow_slot_that_any_text_fills_sends_unlisted_intents_to_calm(
    validate: Validate, mapping: str, ask_first: bool, router: str, warned_about: str | None
) -> None:
    domain = edited(DOMAIN, "responses:\n", NOTE_SLOT.format(mapping=mapping) + "responses:\n")
    domain += "  utter_ask_note: [{text: Your note?}]\n"
    flows = FLOWS + NOTE_FLOW.format(ask="        ask_before_filling: true\n" if ask_first else "")
    problems = validate(config=edited(CONFIG, ROUTER, router), domain=domain, flows=flows)
    found = [p for p in problems if p.code == GOTCHA + "unlisted_intents_routed_to_calm"]
    if warned_about is None:
        assert found == []
        return
    [problem] = found
    assert (at(problem), problem.severity) == (("domain.yml", 13), "warning")
    assert problem.message == (
        f"slot 'note' is collected by flow 'leave_note' and has a `{warned_about}` mapping "
        "without `intent` and `conditions`, so the IntentBasedRouter sends every intent "
        "it does not list to CALM"
    )


def test_a_routing_session_of_the_nlu_system_that_never_ends(validate: Validate) -> None:
    problem = find(validate(rules=edited(RULES, RESET_RULE, "")), "no rule or story")
    assert (problem.code, problem.severity) == (GOTCHA + "routing_session_never_ends", "warning")
    assert at(problem) == ("config.yml", 6)
    assert problem.message == (
        "no rule or story runs action_reset_routing, so a routing session of the NLU-based "
        "system never ends: every later message goes to it"
    )


def test_a_routing_session_of_calm_that_never_ends(validate: Validate) -> None:
    problem = find(validate(flows=edited(FLOWS, PATTERN_COMPLETED, "")), "no flow runs")
    assert (problem.code, problem.severity) == (GOTCHA + "routing_session_never_ends", "warning")
    assert at(problem) == ("config.yml", 6)
    assert problem.message == (
        "no flow runs action_reset_routing, so a routing session of CALM never ends: "
        "every later message goes to it"
    )
    assert "override pattern_completed" in problem.hint


# -- the command line -----------------------------------------------------------------------------

BOTH_ROUTERS_LINE = (
    "config.yml:12: error: [engine.validation.coexistance.both_routers_defined] "
    "both IntentBasedRouter and LLMBasedRouter are configured"
)


def test_data_validate_prints_the_codes(
    project: Path, write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    write("config.yml", edited(CONFIG, ROUTER, ROUTER + LLM_ROUTER))
    assert main(["data", "validate"]) == 1
    assert BOTH_ROUTERS_LINE in capsys.readouterr().out


def test_training_stops_at_a_coexistence_error_with_its_code(
    project: Path, write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    write("config.yml", edited(CONFIG, ROUTER, ROUTER + LLM_ROUTER))
    assert main(["train", "--out", "models"]) == 1
    assert BOTH_ROUTERS_LINE in capsys.readouterr().err
    assert not (project / "models").exists()
