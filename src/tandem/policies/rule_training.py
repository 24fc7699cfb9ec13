"""Learning RulePolicy's rules, and the checks that make training fail.

Each action of a rule becomes a ``Rule`` keyed by the states before it, cut after the rule
snippet ``...`` (what happened before the rule started does not matter). Loop hints come
from rules and stories alike. Training then fails, naming the blocks and file lines, when

* a rule has more than one user message (``restrict_rules``);
* an action sets slots or a loop in one rule but another rule using it does not say so;
* the learnt rules predict something else than a rule or story at some step (contradiction);
  a rule that would listen after its single action where a story goes on is dropped instead.

Rules that never reproduce a story step are marked, so that their turns stay hidden from
ML policies.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

from tandem import names
from tandem.conversation.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
from tandem.policies.featurization import (
    PREV_ACTION,
    Point,
    State,
    is_slot_feature,
    prediction_points,
    states_key,
)
from tandem.policies.rule_book import Decision, LoopHint, Rule, RuleBook, Situation
from tandem.policies.training_trackers import PolicyTrainingData, TrainingConversation
from tandem.project.domain import Domain
from tandem.project.errors import Problem, raise_errors

SNIPPET = names.RULE_SNIPPET_ACTION


def learn_rules(
    data: PolicyTrainingData, *, restrict_rules: bool = True, check_for_contradictions: bool = True
) -> RuleBook:
    """The rules and hints of ``data``; raises ``ProjectError`` listing every problem."""
    problems: list[Problem] = []
    if restrict_rules:
        problems += _rules_with_several_user_messages(data.rules)
    problems += _incomplete_rules(data.rules, data.domain)
    rules, conflicts = _rules(data.rules, data.domain)
    problems += conflicts
    raise_errors(problems)
    book = RuleBook(rules, _loop_hints(data))
    contradictions, used = _replay(book, data)
    if check_for_contradictions:
        raise_errors(contradictions)
    return RuleBook((replace(r, in_stories=id(r) in used) for r in book.rules), book.hints)


def rule_key(states: Sequence[State]) -> tuple[State, ...]:
    """The states after the state the last rule snippet leads to.

    The snippet's own state goes too: it stands for an unknown past, and at runtime the
    state before, say, a form's final run is that of its first run (applied events collapse
    the runs between), which knows nothing of the loop. A ``condition`` still counts, as it
    lives on in the states that follow.
    """
    for index in range(len(states) - 1, -1, -1):
        if (PREV_ACTION, SNIPPET) in states[index]:
            return tuple(states[index + 1 :])
    return tuple(states)


def _points(conversation: TrainingConversation, domain: Domain) -> Iterator[Point]:
    """The steps of a conversation that something must predict."""
    for point in prediction_points(conversation.events, domain, rule_data=conversation.is_rule):
        name = point.action.name
        if name == SNIPPET:
            continue  # the end of a rule that leaves what follows open
        if name == names.ACTION_LISTEN and point.latest_action in (None, SNIPPET):
            continue  # the user speaks first: nobody predicts that
        yield point


def _situation(point: Point) -> Situation:
    user = point.latest_user
    return Situation(
        states=point.states,
        length=len(point.states),
        latest_action=point.latest_action,
        intent=user.intent_name if user else None,
        active_loop=point.active_loop,
    )


# -- learning ---------------------------------------------------------------------------------


def _rules(
    conversations: Sequence[TrainingConversation], domain: Domain
) -> tuple[list[Rule], list[Problem]]:
    rules: dict[tuple[str, bool], Rule] = {}
    problems: list[Problem] = []
    for conversation in conversations:
        for point in _points(conversation, domain):
            states = rule_key(point.states)
            if not states:
                continue
            action = str(point.action.name)
            origin = conversation.describe()
            if action not in domain.action_index:
                problems.append(
                    Problem(
                        conversation.origins[point.index].source,
                        f"{origin} uses the action '{action}', which the domain does not have",
                        "add it to the domain's `actions` or `responses`",
                    )
                )
                continue
            key = (states_key(states), conversation.conversation_start)
            known = rules.get(key)
            if known is None:
                rules[key] = Rule(states, action, conversation.conversation_start, (origin,))
            elif known.action != action:
                problems.append(
                    Problem(
                        conversation.origins[point.index].source,
                        f"{origin} predicts '{action}' where {', '.join(known.origins)} "
                        f"predicts '{known.action}' in the same situation",
                        "make the rules differ, e.g. with a `condition`",
                    )
                )
            elif origin not in known.origins:
                rules[key] = replace(known, origins=(*known.origins, origin))
    return list(rules.values()), problems


def _loop_hints(data: PolicyTrainingData) -> list[LoopHint]:
    """Where an active loop is followed by another action in the training data.

    Rules give their snippet-cut states; stories give the last state without slots (which
    slots a story happened to fill does not decide whether the loop goes on).
    """
    hints: dict[tuple[str, str], LoopHint] = {}
    for conversation in (*data.rules, *data.stories):
        for point in _points(conversation, data.domain):
            loop = point.active_loop
            if loop is None or point.action.name == loop:
                continue
            if conversation.is_rule:
                states = rule_key(point.states)
            else:
                last = point.states[-1]
                states = (frozenset(f for f in last if not is_slot_feature(f)),)
            if states:
                hints.setdefault((states_key(states), loop), LoopHint(states, loop))
    return list(hints.values())


# -- checks -----------------------------------------------------------------------------------


def _rules_with_several_user_messages(
    conversations: Sequence[TrainingConversation],
) -> list[Problem]:
    problems = []
    reported: set[int] = set()
    for conversation in conversations:
        block = conversation.blocks[0]
        count = sum(isinstance(e, UserUttered) for e in conversation.events)
        if count > 1 and id(block) not in reported:
            reported.add(id(block))
            problems.append(
                Problem(
                    block.source,
                    f"rule '{block.name}' has {count} user messages; rules are not meant to "
                    "hardcode a state machine",
                    "write a story for longer conversations, or set `restrict_rules: false` "
                    "for RulePolicy",
                )
            )
    return problems


def _incomplete_rules(
    conversations: Sequence[TrainingConversation], domain: Domain
) -> list[Problem]:
    """Rules that leave out slots or loops an action sets according to other rules."""
    featurised = {name for name, slot in domain.slots.items() if slot.features(None)}
    uses: dict[str, list[tuple[TrainingConversation, int, frozenset[str], bool]]] = {}
    for conversation in conversations:
        events = conversation.events
        for index, event in enumerate(events):
            if not isinstance(event, ActionExecuted) or event.name in (
                None,
                SNIPPET,
                names.ACTION_LISTEN,
            ):
                continue
            found: set[str] = set()
            following = index + 1
            while following < len(events) and not isinstance(
                events[following], (ActionExecuted, UserUttered)
            ):
                effect = events[following]
                if isinstance(effect, SlotSet) and effect.name in featurised:
                    found.add(f"slot '{effect.name}'")
                elif isinstance(effect, ActiveLoop):
                    found.add("the active loop")
                following += 1
            # With `wait_for_user_input: false` the rule may leave the action's effects open.
            last = events[-1]
            open_end = (
                following == len(events) - 1
                and isinstance(last, ActionExecuted)
                and last.name == SNIPPET
            )
            uses.setdefault(event.name, []).append(
                (conversation, index, frozenset(found), open_end)
            )
    problems = []
    for action, places in uses.items():
        for conversation, index, effects, open_end in places:
            for other, _, other_effects, _ in places:
                missing = sorted(other_effects - effects)
                if missing and not open_end:
                    problems.append(
                        Problem(
                            conversation.origins[index].source,
                            f"{conversation.describe()} is incomplete: after '{action}' it does "
                            f"not say what happens to {', '.join(missing)}, which "
                            f"{other.describe()} sets after the same action",
                            "add the `slot_was_set` / `active_loop` steps (null if nothing is "
                            "set), or end the rule with `wait_for_user_input: false`",
                        )
                    )
                    break
    return problems


def _replay(book: RuleBook, data: PolicyTrainingData) -> tuple[list[Problem], set[int]]:
    """Predict every step of every rule and story with the learnt rules.

    Returns the contradictions and the ids of the rules that reproduce story steps. A rule
    that listens after its only action where a story goes on is removed from ``book``.
    """
    problems: list[Problem] = []
    used: set[int] = set()
    for conversation in (*data.rules, *data.stories):
        for point in _points(conversation, data.domain):
            decision = book.decide(_situation(point))
            expected = point.action.name
            if decision is None:
                continue
            if decision.action == expected:
                if decision.rule is not None and not conversation.is_rule:
                    used.add(id(decision.rule))
                continue
            rule = decision.rule
            if (
                rule is not None
                and not conversation.is_rule
                and decision.action == names.ACTION_LISTEN
                and _single_action(rule)
            ):
                book.remove(rule)
                continue
            problems.append(_contradiction(conversation, point, decision))
    return problems, used


def _single_action(rule: Rule) -> bool:
    """A rule made of a user message and one action (plus the listen that follows)."""
    actions = [
        value
        for state in rule.states
        for key, value in state
        if key == PREV_ACTION and value != names.ACTION_LISTEN
    ]
    return len(actions) == 1


def _contradiction(conversation: TrainingConversation, point: Point, decision: Decision) -> Problem:
    if decision.rule is not None:
        by = ", ".join(decision.rule.origins)
    elif decision.happy_path:
        by = f"the happy path of the active loop '{point.active_loop}'"
    else:
        by = "a built-in rule"
    return Problem(
        conversation.origins[point.index].source,
        f"Contradicting rules or stories found: {conversation.describe()} continues with "
        f"'{point.action.name}' here, but {by} predicts '{decision.action}'",
        "make the rule more specific (e.g. with a `condition`), or change the story",
    )
