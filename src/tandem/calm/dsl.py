"""Reading an LLM completion as CALM commands, in the three command DSLs.

The LLM answers with one action per line. Each DSL version is a declarative table: command
class -> regex + builder, in the reference's class order. Every line is searched with every
pattern of the table, so one line can yield several commands (in table order, not in textual
order); lines nothing matches are ignored. Builders also post-process: the LLM may
only start user flows, null-ish slot values mean "unset", and a clarification offering
a single flow is really a start of that flow.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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
    rejection,
)
from tandem.project.flows.model import FlowsList

log = logging.getLogger(__name__)

# The DSL each LLM-based command generator's default prompt asks for (and parses).
DSL_VERSIONS: Mapping[str, int] = {
    "SingleStepLLMCommandGenerator": 1,
    "LLMCommandGenerator": 1,
    "CompactLLMCommandGenerator": 2,
    "SearchReadyLLMCommandGenerator": 3,
}

# Slot values an LLM writes when it has nothing to set; they all mean None.
_NULL_VALUES = frozenset({"[missing information]", "[missing]", "None", "undefined", "null", ""})
# The slot name the LLM sometimes (mis)uses to name a flow to start.
_FLOW_NAME_SLOT = "flow_name"

# Builds the command for a match, given the ids of the user flows; None drops the match.
_Builder = Callable[[re.Match[str], Collection[str]], Command | None]


@dataclass(frozen=True, slots=True)
class _Rule:
    pattern: re.Pattern[str]
    build: _Builder


def _start_flow(flow_id: str | None, user_flows: Collection[str]) -> Command | None:
    """Whether the flow is the LLM's to start is ``parse_commands``' check, which reports it."""
    return None if flow_id is None else StartFlow(flow_id)


def _slot_value(raw: str) -> str | None:
    value = raw.strip(" '\"")
    return None if value in _NULL_VALUES else value


def _build_start_flow(match: re.Match[str], user_flows: Collection[str]) -> Command | None:
    return _start_flow(match["flow"], user_flows)


def _build_set_slot(match: re.Match[str], user_flows: Collection[str]) -> Command | None:
    value = _slot_value(match["value"])
    if match["name"] == _FLOW_NAME_SLOT:
        return _start_flow(value, user_flows)
    return SetSlot(match["name"], value)


def _build_clarify(match: re.Match[str], user_flows: Collection[str]) -> Command | None:
    """Sorted valid options; one distinct option needs no question, so it starts that flow.

    No options and only invalid ones both give an empty Clarify (3.21 behaviour; cleaning
    decides what an empty clarification means).
    """
    given = (option.strip("'\"") for option in re.split(r"[,\s]+", match["options"] or ""))
    options = sorted(option for option in given if option in user_flows)
    if len(set(options)) == 1:
        return StartFlow(options[0])
    return Clarify(tuple(options))


def _constant(command: Command) -> _Builder:
    """_Builder of an argument-less command (commands are immutable, so one instance serves)."""
    return lambda _match, _user_flows: command


# Characters of the option list of a clarification (flow ids, separators, quotes).
_OPTIONS = r"""[A-Za-z0-9_, "'-]*"""

# -- v1: function-call style, searched anywhere in the line -----------------------------------


def _call(name: str) -> re.Pattern[str]:
    return re.compile(re.escape(f"{name}()"))


_V1: Mapping[type[Command], _Rule] = {
    # The value runs greedily to the last ")" of the line: "SetSlot(x, a, b)" sets "a, b".
    # Quotes and spaces around it are left to the builder's cleaning.
    SetSlot: _Rule(
        re.compile(r"""SetSlot\(['"]?(?P<name>[A-Za-z_][A-Za-z0-9_-]*)['"]?,(?P<value>.*)\)"""),
        _build_set_slot,
    ),
    StartFlow: _Rule(
        re.compile(r"""StartFlow\(['"]?(?P<flow>[A-Za-z0-9_-]+)['"]?\)"""), _build_start_flow
    ),
    CancelFlow: _Rule(_call("CancelFlow"), _constant(CancelFlow())),
    ChitChatAnswer: _Rule(_call("ChitChat"), _constant(ChitChatAnswer())),
    SkipQuestion: _Rule(_call("SkipQuestion"), _constant(SkipQuestion())),
    KnowledgeAnswer: _Rule(_call("SearchAndReply"), _constant(KnowledgeAnswer())),
    Clarify: _Rule(re.compile(rf"Clarify\((?P<options>{_OPTIONS})\)"), _build_clarify),
    RepeatBotMessages: _Rule(_call("RepeatLastBotMessages"), _constant(RepeatBotMessages())),
}

# The multi-step generator also lets the LLM give up or switch flows.
_V1_MULTI_STEP: Mapping[type[Command], _Rule] = {
    **_V1,
    CannotHandle: _Rule(_call("CannotHandle"), _constant(CannotHandle())),
    ChangeFlow: _Rule(_call("ChangeFlow"), _constant(ChangeFlow())),
}

# -- v2 / v3: natural-language style, anchored at the line start ------------------------------

# Bullets and numbering before an action ("1. ", "- ", "* ", "`") are tolerated.
_LEAD = r"^[\W\d]*"


def _whole_line(phrase: str) -> re.Pattern[str]:
    """The phrase must be all of the line, bar closing quotes: "cancel flow." is not parsed."""
    return re.compile(rf"{_LEAD}{re.escape(phrase)}['\"`]*$")


_V2: Mapping[type[Command], _Rule] = {
    # The value is the rest of the line without trailing punctuation: "100." sets "100".
    SetSlot: _Rule(
        re.compile(
            rf"{_LEAD}set slot ['\"`]?(?P<name>[A-Za-z_][A-Za-z0-9_-]*)['\"`]? "
            r"(?P<value>.*?)\W*$"
        ),
        _build_set_slot,
    ),
    # Whatever follows the id is ignored.
    StartFlow: _Rule(
        re.compile(rf"{_LEAD}start flow ['\"`]?(?P<flow>[A-Za-z0-9_-]+)"), _build_start_flow
    ),
    CancelFlow: _Rule(_whole_line("cancel flow"), _constant(CancelFlow())),
    ChitChatAnswer: _Rule(_whole_line("offtopic reply"), _constant(ChitChatAnswer())),
    SkipQuestion: _Rule(_whole_line("skip question"), _constant(SkipQuestion())),
    KnowledgeAnswer: _Rule(_whole_line("provide info"), _constant(KnowledgeAnswer())),
    Clarify: _Rule(
        re.compile(rf"{_LEAD}disambiguate flows\b(?P<options>{_OPTIONS})\W*$"), _build_clarify
    ),
    RepeatBotMessages: _Rule(_whole_line("repeat message"), _constant(RepeatBotMessages())),
}

# v3 only renames the knowledge action. Its prompt no longer offers "offtopic reply", but
# the reference documents chitchat for v3 as "not offered" rather than "not parsed", and
# its v2/v3 grammar still has "offtopic reply"; so v3 still reads it as chitchat rather
# than dropping a clear answer.
_V3: Mapping[type[Command], _Rule] = {
    **_V2,
    KnowledgeAnswer: _Rule(_whole_line("search and reply"), _constant(KnowledgeAnswer())),
}

_GRAMMARS: Mapping[int, Mapping[type[Command], _Rule]] = {1: _V1, 2: _V2, 3: _V3}


def parse_commands(
    text: str,
    flows: FlowsList,
    version: int,
    *,
    multi_step: bool = False,
    rejections: list[dict[str, Any]] | None = None,
) -> list[Command]:
    """The commands an LLM completion ``text`` states in DSL ``version`` (1, 2 or 3).

    ``multi_step`` selects the multi-step generator's v1 dialect, which adds
    ``CannotHandle()`` and ``ChangeFlow()``. Stopping after a number of commands is that
    generator's business, not the parser's. Patterns and flows that do not exist are not the
    LLM's to start: ``rejections``, if given, gets a ``rejection`` for each such start.
    """
    if version not in _GRAMMARS:
        raise ValueError(f"unknown command DSL version {version!r}; expected 1, 2 or 3")
    if multi_step and version != 1:
        raise ValueError("the multi-step command DSL only exists in version 1")
    rules = (_V1_MULTI_STEP if multi_step else _GRAMMARS[version]).values()
    user_flows = frozenset(flow.id for flow in flows.user_flows)
    commands: list[Command] = []
    for line in text.strip().splitlines():
        line = line.strip()
        for rule in rules:
            match = rule.pattern.search(line)
            command = rule.build(match, user_flows) if match else None
            if isinstance(command, StartFlow) and command.flow not in user_flows:
                known = flows.get(command.flow) is not None
                reason = "a pattern is not the LLM's to start" if known else "no such flow"
                if rejections is not None:
                    rejections.append(rejection(command, reason))
            elif command is not None:
                commands.append(command)
    return commands


class EmptyParseWatch:
    """Warns when the LLM keeps answering in a way the parser cannot read.

    A run of non-empty completions without a single command usually means the prompt asks
    for a different DSL than the generator parses (e.g. a custom v1 prompt on a v2
    generator). Empty completions neither count nor reset: they are a different failure.
    The warning is logged once per run, when it reaches ``threshold`` completions.
    """

    def __init__(self, threshold: int = 5) -> None:
        self.threshold = threshold
        self.unparsed = 0

    def observe(self, completion: str, commands: Sequence[Command]) -> None:
        if commands:
            self.unparsed = 0
        elif completion.strip():
            self.unparsed += 1
            if self.unparsed == self.threshold:
                log.warning(
                    "The last %d LLM responses contained no command the parser understands; "
                    "check that the prompt asks for the command syntax of the configured "
                    "command generator.",
                    self.threshold,
                )
