"""RulePolicy and retrieval intents: one rule for the base intent covers every sub-intent.

A rule ``intent: faq`` / ``action: utter_faq`` applies to ``faq/vpn`` as to any ``faq/...``,
and at runtime the executed action is ``utter_faq`` (the response selector picks the text), so
the rule's implicit ``action_listen`` follows. A test story that writes the full name
(``action: utter_faq/vpn``) leaves that name as the previous action when replayed, as the
reference's replay does; no rule was learnt for it, so RulePolicy has nothing to say there (the
reference's failed-story output in RasaHQ/rasa#8459 shows the same: ``action_listen  #
predicted: action_default_fallback`` after ``utter_chitchat/ask_name``).
"""

from __future__ import annotations

from pathlib import Path

from policies_testkit import action, train, write_project

from tandem.conversation import events as ev
from tandem.conversation.tracker import Tracker
from tandem.policies.base import NluPolicy
from tandem.project.domain import Domain

DOMAIN = """
intents: [faq, chitchat, thank]
actions: [utter_faq, utter_chitchat]
responses:
  utter_faq/vpn: [{text: install the client}]
  utter_faq/printer: [{text: settings > devices}]
  utter_chitchat/ask_name: [{text: I am Desk}]
  utter_noworries: [{text: you are welcome}]
"""

RULES = """
rules:
  - rule: answer a question
    steps: [{intent: faq}, {action: utter_faq}]
  - rule: small talk
    steps: [{intent: chitchat}, {action: utter_chitchat}]
  - rule: thank
    steps: [{intent: thank}, {action: utter_noworries}]
"""


def rule_policy(tmp_path: Path) -> tuple[NluPolicy, Domain]:
    project = write_project(tmp_path, DOMAIN, RULES, "  - name: RulePolicy\n")
    (policy,) = train(project)
    return policy, project.domain


def asked(name: str) -> ev.UserUttered:
    """A user turn as a test story (or the NLU) gives it: a retrieval intent's base name,
    with the full name beside it."""
    intent: dict[str, object] = {"name": name.split("/")[0], "confidence": 1.0}
    if "/" in name:
        intent["full_retrieval_intent_name"] = name
    return ev.UserUttered.create(None, intent)


def predicted(policy: NluPolicy, domain: Domain, *events: ev.Event) -> tuple[str, float]:
    tracker = Tracker("retrieval", domain.slots)
    for event in events:
        tracker.update(event)
    prediction = policy.predict(tracker, domain)
    return domain.action_names[prediction.action_index], prediction.max_confidence


def test_the_base_intent_rule_answers_every_sub_intent(tmp_path: Path) -> None:
    policy, domain = rule_policy(tmp_path)
    for full in ("faq/vpn", "faq/printer"):
        events = (action("action_listen"), asked(full))
        assert predicted(policy, domain, *events) == ("utter_faq", 1.0)
    events = (action("action_listen"), asked("chitchat/ask_name"))
    assert predicted(policy, domain, *events) == ("utter_chitchat", 1.0)


def test_the_rule_listens_after_the_retrieval_action_that_ran(tmp_path: Path) -> None:
    policy, domain = rule_policy(tmp_path)
    for full, base in (("faq/vpn", "utter_faq"), ("chitchat/ask_name", "utter_chitchat")):
        events = (action("action_listen"), asked(full), action(base))
        assert predicted(policy, domain, *events) == ("action_listen", 1.0)


def test_after_a_full_retrieval_action_name_only_the_fallback_is_left(tmp_path: Path) -> None:
    """The replayed test story's ``utter_faq/vpn`` is not the rule's ``utter_faq``."""
    policy, domain = rule_policy(tmp_path)
    for full in ("faq/vpn", "chitchat/ask_name"):
        events = (action("action_listen"), asked(full), action(f"utter_{full}"))
        assert predicted(policy, domain, *events) == ("action_default_fallback", 0.3)


def test_a_rule_after_a_retrieval_answer_still_applies(tmp_path: Path) -> None:
    """Whatever name the answer was logged under, the next user turn starts afresh."""
    policy, domain = rule_policy(tmp_path)
    for answered in ("utter_faq", "utter_faq/vpn"):
        events = (action("action_listen"), asked("faq/vpn"), action(answered))
        thanks = (action("action_listen"), asked("thank"))
        assert predicted(policy, domain, *events, *thanks) == ("utter_noworries", 1.0)
        said = (*events, *thanks, action("utter_noworries"))
        assert predicted(policy, domain, *said) == ("action_listen", 1.0)
