import logging
import textwrap

import pytest

from tandem.calm.dsl import DSL_VERSIONS, EmptyParseWatch, parse_commands
from tandem.conversation.commands import (
    CancelFlow,
    CannotHandle,
    ChangeFlow,
    ChitChatAnswer,
    Clarify,
    Command,
    KnowledgeAnswer,
    RepeatBotMessages,
    SetSlot,
    SkipQuestion,
    StartFlow,
    commands_as_dicts,
)
from tandem.project.flows.model import FlowsList
from tandem.project.flows.patterns import build_flows
from tandem.project.flows.reader import flows_from_yaml
from tandem.project.yaml import parse_yaml

FLOWS = build_flows(
    flows_from_yaml(
        parse_yaml(
            textwrap.dedent(
                """
                flows:
                  transfer_money:
                    description: send money
                    steps:
                      - action: utter_transfer
                  check_balance:
                    description: show the balance
                    steps:
                      - action: utter_balance
                  add-card:
                    description: add a card
                    steps:
                      - action: utter_card
                  a:
                    description: flow a
                    steps:
                      - action: utter_a
                  b:
                    description: flow b
                    steps:
                      - action: utter_b
                """
            ),
            "data/flows.yml",
        )
    )
)

TM, CB = "transfer_money", "check_balance"


def parsed(text: str, version: int, **options: bool) -> list[dict]:
    # Compared as dicts: SetSlot equality is case-insensitive on str(value), so None == "none".
    return commands_as_dicts(parse_commands(text, FLOWS, version, **options))


def case(version: int, text: str, *expected: Command):
    return pytest.param(version, text, list(expected), id=f"v{version}:{text!r}")


COMMON = [
    case(version, text)
    for version in (1, 2, 3)
    for text in ("", "   ", "\n\n", "Sure, happy to help!", "I don't know.")
]

V1 = [
    case(1, "StartFlow(transfer_money)", StartFlow(TM)),
    case(1, "StartFlow('transfer_money')", StartFlow(TM)),
    case(1, 'StartFlow("transfer_money")', StartFlow(TM)),
    case(1, "StartFlow(add-card)", StartFlow("add-card")),
    case(1, "1. StartFlow(transfer_money)", StartFlow(TM)),
    case(1, "Sure: StartFlow(transfer_money) it is", StartFlow(TM)),
    case(1, "StartFlow(pattern_chitchat)"),
    case(1, "StartFlow(unknown_flow)"),
    case(1, "StartFlow(Transfer_Money)"),
    case(1, "startflow(transfer_money)"),
    case(1, "StartFlow(transfer money)"),
    case(1, "SetSlot(amount, 100)", SetSlot("amount", "100")),
    case(1, "SetSlot(amount,100)", SetSlot("amount", "100")),
    case(1, "SetSlot(x, a, b)", SetSlot("x", "a, b")),
    case(1, "SetSlot(note, f(x))", SetSlot("note", "f(x)")),
    case(1, "SetSlot('amount', '100')", SetSlot("amount", "100")),
    case(1, 'SetSlot("city", "New York")', SetSlot("city", "New York")),
    case(1, "SetSlot(amount, None)", SetSlot("amount", None)),
    case(1, "SetSlot(amount, [missing information])", SetSlot("amount", None)),
    case(1, "SetSlot(amount, [missing])", SetSlot("amount", None)),
    case(1, "SetSlot(amount, undefined)", SetSlot("amount", None)),
    case(1, "SetSlot(amount, null)", SetSlot("amount", None)),
    case(1, "SetSlot(amount, '')", SetSlot("amount", None)),
    case(1, "SetSlot(amount, )", SetSlot("amount", None)),
    case(1, "SetSlot(amount, none)", SetSlot("amount", "none")),
    case(1, "SetSlot(flow_name, transfer_money)", StartFlow(TM)),
    case(1, "SetSlot(flow_name, pattern_cancel_flow)"),
    case(1, "SetSlot(1amount, 100)"),
    case(1, "setslot(amount, 100)"),
    case(1, "CancelFlow()", CancelFlow()),
    case(1, "ChitChat()", ChitChatAnswer()),
    case(1, "SkipQuestion()", SkipQuestion()),
    case(1, "SearchAndReply()", KnowledgeAnswer()),
    case(1, "RepeatLastBotMessages()", RepeatBotMessages()),
    case(1, "CancelFlow"),
    case(1, "cancelflow()"),
    case(1, "CannotHandle()"),
    case(1, "ChangeFlow()"),
    case(1, "Clarify(transfer_money, check_balance)", Clarify((CB, TM))),
    case(1, "Clarify('transfer_money', \"check_balance\")", Clarify((CB, TM))),
    case(1, "Clarify(transfer_money check_balance add-card)", Clarify(("add-card", CB, TM))),
    case(1, "Clarify(b, a, b)", Clarify(("a", "b", "b"))),
    case(1, "Clarify(transfer_money)", StartFlow(TM)),
    case(1, "Clarify(transfer_money, transfer_money)", StartFlow(TM)),
    case(1, "Clarify(transfer_money, unknown, pattern_search)", StartFlow(TM)),
    case(1, "Clarify(unknown, pattern_search)", Clarify(())),
    case(1, "Clarify()", Clarify(())),
    # v2/v3 wording means nothing in v1.
    case(1, "start flow transfer_money"),
    case(1, "cancel flow"),
    # Several commands on a line come out in class order, one per class.
    case(1, "StartFlow(transfer_money) SetSlot(amount, 100)",
         SetSlot("amount", "100"), StartFlow(TM)),
    case(1, "CancelFlow() StartFlow(check_balance)", StartFlow(CB), CancelFlow()),
    case(1, "RepeatLastBotMessages() ChitChat() Clarify(a, b)",
         ChitChatAnswer(), Clarify(("a", "b")), RepeatBotMessages()),
    case(1, "StartFlow(transfer_money) StartFlow(check_balance)", StartFlow(TM)),
    # The SetSlot value runs to the last ")" of the line, swallowing what follows it.
    case(1, "SetSlot(amount, 100) StartFlow(transfer_money)",
         SetSlot("amount", "100) StartFlow(transfer_money"), StartFlow(TM)),
    # Lines come out in textual order; junk lines are skipped.
    case(1, "StartFlow(transfer_money)\nnonsense\n  SetSlot(amount, 100)  \n",
         StartFlow(TM), SetSlot("amount", "100")),
]  # fmt: skip

# Shared by v2 and v3.
NATURAL = [
    case(version, text, *expected)
    for version in (2, 3)
    for text, *expected in [
        ("start flow transfer_money", StartFlow(TM)),
        ("start flow 'transfer_money'", StartFlow(TM)),
        ('start flow "transfer_money"', StartFlow(TM)),
        ("start flow `transfer_money`", StartFlow(TM)),
        ("start flow add-card", StartFlow("add-card")),
        ("1. start flow transfer_money", StartFlow(TM)),
        ("- start flow transfer_money", StartFlow(TM)),
        ("* start flow transfer_money", StartFlow(TM)),
        ("`start flow transfer_money`", StartFlow(TM)),
        ("start flow check_balance right away.", StartFlow(CB)),
        ("start flow transfer money",),  # "transfer" is no flow
        ("start flow pattern_chitchat",),
        ("start flow unknown_flow",),
        ("Start flow transfer_money",),
        ("START FLOW transfer_money",),
        ("I will start flow transfer_money",),
        ("start flow",),
        ("set slot amount 100", SetSlot("amount", "100")),
        ("set slot amount 100.", SetSlot("amount", "100")),
        ("set slot email a@b.com.", SetSlot("email", "a@b.com")),
        ("set slot price $10.50!", SetSlot("price", "$10.50")),
        ("set slot city New York", SetSlot("city", "New York")),
        ("set slot city 'New York'", SetSlot("city", "New York")),
        ('set slot city "New York".', SetSlot("city", "New York")),
        ("set slot 'amount' 100", SetSlot("amount", "100")),
        ("- set slot amount 100", SetSlot("amount", "100")),
        ("2. `set slot amount 100`", SetSlot("amount", "100")),
        ("set slot x None", SetSlot("x", None)),
        ("set slot x null", SetSlot("x", None)),
        ("set slot x undefined", SetSlot("x", None)),
        ('set slot x "None"', SetSlot("x", None)),
        ("set slot x .", SetSlot("x", None)),
        ("set slot flow_name transfer_money", StartFlow(TM)),
        ("set slot flow_name pattern_search",),
        ("set slot amount",),
        ("Set slot amount 100",),
        ("cancel flow", CancelFlow()),
        ("- cancel flow", CancelFlow()),
        ("`cancel flow`", CancelFlow()),
        ("'cancel flow'", CancelFlow()),
        ("cancel flow.",),
        ("cancel flow now",),
        ("Cancel flow",),
        ("skip question", SkipQuestion()),
        ("skip question!",),
        ("repeat message", RepeatBotMessages()),
        ("repeat message please",),
        ("disambiguate flows transfer_money check_balance", Clarify((CB, TM))),
        ("disambiguate flows b a", Clarify(("a", "b"))),
        ("disambiguate flows transfer_money, check_balance.", Clarify((CB, TM))),
        ("disambiguate flows 'b', \"a\"", Clarify(("a", "b"))),
        ("- disambiguate flows a b a", Clarify(("a", "a", "b"))),
        ("disambiguate flows transfer_money", StartFlow(TM)),
        ("disambiguate flows transfer_money unknown", StartFlow(TM)),
        ("disambiguate flows unknown",  Clarify(())),
        ("disambiguate flows", Clarify(())),
        ("disambiguate flowsa",),
        ("Disambiguate flows a b",),
        # v1 and multi-step wording means nothing here.
        ("StartFlow(transfer_money)",),
        ("CancelFlow()",),
        ("cannot handle",),
        ("change",),
        # One command per line in practice; line order is kept.
        ("start flow transfer_money\nset slot amount 100\n\ncancel flow",
         StartFlow(TM), SetSlot("amount", "100"), CancelFlow()),
    ]
]  # fmt: skip

KNOWLEDGE_AND_CHITCHAT = [
    case(2, "provide info", KnowledgeAnswer()),
    case(2, "- provide info", KnowledgeAnswer()),
    case(2, "provide info."),
    case(2, "search and reply"),
    case(2, "offtopic reply", ChitChatAnswer()),
    case(2, "`offtopic reply`", ChitChatAnswer()),
    case(2, "offtopic reply."),
    case(3, "search and reply", KnowledgeAnswer()),
    case(3, "1. search and reply", KnowledgeAnswer()),
    case(3, "search and reply."),
    case(3, "Search and reply"),
    case(3, "provide info"),
    # Not offered by the v3 prompt, but still read (see the comment on dsl._V3).
    case(3, "offtopic reply", ChitChatAnswer()),
]


@pytest.mark.parametrize(
    ("version", "text", "expected"), COMMON + V1 + NATURAL + KNOWLEDGE_AND_CHITCHAT
)
def test_parse_table(version: int, text: str, expected: list[Command]) -> None:
    assert parsed(text, version) == commands_as_dicts(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CannotHandle()", [CannotHandle()]),
        ("ChangeFlow()", [ChangeFlow()]),
        ("ChangeFlow() CannotHandle() CancelFlow()", [CancelFlow(), CannotHandle(), ChangeFlow()]),
        ("StartFlow(transfer_money)\nSetSlot(amount, 5)", [StartFlow(TM), SetSlot("amount", "5")]),
        ("cannothandle()", []),
    ],
)
def test_multi_step_v1_adds_cannot_handle_and_change_flow(
    text: str, expected: list[Command]
) -> None:
    assert parsed(text, 1, multi_step=True) == commands_as_dicts(expected)


def test_parsed_slot_values_come_from_the_llm() -> None:
    (command,) = parse_commands("set slot amount 100", FLOWS, 2)
    assert isinstance(command, SetSlot) and command.extractor == "LLM"


def test_flows_without_patterns_still_reject_unknown_ids() -> None:
    assert parse_commands("StartFlow(transfer_money)", FlowsList(), 1) == []


@pytest.mark.parametrize(("version", "multi_step"), [(0, False), (4, False), (2, True), (3, True)])
def test_unknown_dialects_are_rejected(version: int, multi_step: bool) -> None:
    with pytest.raises(ValueError):
        parse_commands("cancel flow", FLOWS, version, multi_step=multi_step)


def test_dsl_versions_of_the_generators() -> None:
    assert DSL_VERSIONS == {
        "SingleStepLLMCommandGenerator": 1,
        "LLMCommandGenerator": 1,
        "CompactLLMCommandGenerator": 2,
        "SearchReadyLLMCommandGenerator": 3,
    }


def warnings(caplog: pytest.LogCaptureFixture) -> int:
    return sum(record.levelno == logging.WARNING for record in caplog.records)


def test_empty_parse_watch_warns_on_the_fifth_unparsed_response(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watch = EmptyParseWatch()
    with caplog.at_level(logging.WARNING, logger="tandem.calm.dsl"):
        for _ in range(4):
            watch.observe("gibberish", [])
        assert warnings(caplog) == 0
        watch.observe("gibberish", [])
        assert warnings(caplog) == 1
        watch.observe("gibberish", [])  # once per run
        assert warnings(caplog) == 1


def test_empty_parse_watch_resets_on_success_and_ignores_empty_completions(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watch = EmptyParseWatch()
    with caplog.at_level(logging.WARNING, logger="tandem.calm.dsl"):
        for _ in range(4):
            watch.observe("gibberish", [])
        watch.observe("cancel flow", [CancelFlow()])
        for _ in range(4):
            watch.observe("gibberish", [])
            watch.observe("  \n", [])
        assert warnings(caplog) == 0
        watch.observe("gibberish", [])
        assert warnings(caplog) == 1
