"""Loading whole projects: the acceptance assistants, merging of parts, all problems at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from project_testkit import Write

from shared_files import ACCEPTANCE, require
from tandem import names
from tandem.model.validation import validate_project
from tandem.project.errors import ProjectError
from tandem.project.loader import load_project

CONFIG = """\
recipe: default.v1
language: en
assistant_id: test
pipeline:
  - name: WhitespaceTokenizer
policies:
  - name: RulePolicy
"""


@pytest.mark.parametrize(
    ("assistant", "config"),
    [
        ("classic", "config.yml"),
        ("flows", "config-nlu.yml"),
        ("flows", "config.yml"),
        ("bank", "config.yml"),
        ("bank", "config-llm-router.yml"),
    ],
)
def test_acceptance_assistants_load_and_validate(assistant: str, config: str) -> None:
    project = load_project(require(ACCEPTANCE / assistant), config=config)
    errors = [p for p in validate_project(project) if p.severity == "error"]
    assert errors == []
    assert project.data.nlu.examples
    assert project.credentials == {"rest": None}
    has_flows = assistant != "classic"
    assert bool(project.flows.user_flows) is has_flows
    assert ("utter_can_do_something_else" in project.domain.responses) is has_flows
    assert project.domain.has_routing_slot is (assistant == "bank")


def test_bank_project_parts() -> None:
    project = load_project(require(ACCEPTANCE / "bank"))
    domain = project.domain
    assert project.config.find("IntentBasedRouter") is not None
    assert project.endpoints.action_endpoint is not None
    assert project.endpoints.action_endpoint.url == "http://127.0.0.1:5055/webhook"
    assert [group.id for group in project.endpoints.model_groups] == ["oracle_llm"]
    # Three domain files merged; the form's requested_slot and pattern slots added.
    assert {"route_session_to_calm", "appointment_day", "transfer_amount"} <= set(domain.slots)
    assert names.SLOT_REQUESTED in domain.slots and "continue_conversation" in domain.slots
    assert domain.slots["is_authenticated"].shared_for_coexistence
    # Every flow (user flows and default patterns) is also an action.
    assert "flow_block_card" in domain.action_names and "flow_pattern_search" in domain.action_names
    assert project.flows.get("pattern_completed").file_path.endswith("data/flows.yml")
    assert project.data.rules[0].name == "answer a greeting"
    assert project.paths.domain == ACCEPTANCE / "bank" / "domain"


def test_every_file_is_read_before_raising(write: Write, tmp_path: Path) -> None:
    write("config.yml", "pipeline:\n  - nme: X\n")
    write("domain.yml", "slots:\n  s:\n    tpye: text\n")
    write("data/nlu.yml", "nlu:\n  - intent: greet\n    exampels: '- hi'\n")
    write("data/flows.yml", "flows:\n  f:\n    description: d\n    steps: []\n")
    write("endpoints.yml", "action_endpoint: nope\n")
    write("credentials.yml", "rest: 1\n")
    with pytest.raises(ProjectError) as info:
        load_project(tmp_path)
    files = {Path(problem.source.path).name for problem in info.value.problems}
    assert files == {
        "config.yml",
        "domain.yml",
        "nlu.yml",
        "flows.yml",
        "endpoints.yml",
        "credentials.yml",
    }
    assert "tpye" in str(info.value)


def test_domain_file_wins_over_directory_and_nlu_responses_are_merged(
    write: Write, tmp_path: Path
) -> None:
    write("config.yml", CONFIG)
    write("domain.yml", "intents: [faq]\nresponses:\n  utter_hi:\n    - text: from domain\n")
    write("domain/other.yml", "intents: [other]\n")
    write(
        "data/nlu.yml",
        """\
        nlu:
          - intent: faq/name
            examples: |
              - your name?
        responses:
          utter_faq/name:
            - text: Tandem
          utter_hi:
            - text: from nlu
        """,
    )
    project = load_project(tmp_path)
    assert project.paths.domain == tmp_path / "domain.yml"
    assert "other" not in project.domain.intents
    assert project.domain.responses["utter_hi"] == ({"text": "from domain"},)
    assert project.domain.responses["utter_faq/name"] == ({"text": "Tandem"},)
    # No flows: no default patterns, no pattern slots or responses.
    assert len(project.flows) == 0 and project.domain.flow_ids == ()
    assert "utter_can_do_something_else" not in project.domain.responses


def test_user_definitions_win_over_pattern_defaults(write: Write, tmp_path: Path) -> None:
    write("config.yml", CONFIG)
    write(
        "domain.yml",
        """\
        slots:
          continue_conversation:
            type: text
        responses:
          utter_can_do_something_else:
            - text: Anything else?
        """,
    )
    write("data/flows.yml", "flows:\n  f:\n    description: d\n    steps:\n      - action: x\n")
    project = load_project(tmp_path)
    assert project.domain.slots["continue_conversation"].type == "text"
    assert project.domain.responses["utter_can_do_something_else"] == ({"text": "Anything else?"},)
    assert "csat_score" in project.domain.slots
    assert project.domain.flow_ids[0] == "f" and "pattern_completed" in project.domain.flow_ids
