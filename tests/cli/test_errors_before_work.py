"""Mistakes that once passed `tandem data validate` and crashed later: each is one message
with `file:line` and the fix, from validation and from `tandem train` before any work."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest

from tandem.cli.main import main

CONFIG = """\
recipe: default.v1
language: en
assistant_id: test
pipeline:
  - name: WhitespaceTokenizer
  - name: CountVectorsFeaturizer
  - name: LogisticRegressionClassifier
    random_state: 42
policies:
  - name: RulePolicy
"""
DOMAIN = """\
intents: [greet]
responses:
  utter_greet:
    - text: Hello!
"""
DATA = """\
nlu:
  - intent: greet
    examples: |
      - hi
      - hello
rules:
  - rule: greet
    steps:
      - intent: greet
      - action: utter_greet
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small NLU project in the current directory."""
    monkeypatch.chdir(tmp_path)
    write("config.yml", CONFIG)
    write("domain.yml", DOMAIN)
    write("data/nlu.yml", DATA)
    return tmp_path


def write(name: str, text: str) -> None:
    path = Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


def edit(name: str, old: str, new: str) -> None:
    text = Path(name).read_text()
    assert old in text
    Path(name).write_text(text.replace(old, new, 1))


def both_refuse(capsys: pytest.CaptureFixture[str], expected: str) -> None:
    """`data validate` and `train` exit 1 with ``expected``; train writes no model."""
    assert main(["data", "validate"]) == 1
    captured = capsys.readouterr()
    assert expected in captured.out + captured.err
    assert main(["train"]) == 1
    captured = capsys.readouterr()
    assert expected in captured.err
    assert "Traceback" not in captured.err
    assert not Path("models").exists()


def test_a_misspelt_component_option(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The reference accepts the project (it drops the option silently): warned, not refused.
    edit("config.yml", "random_state: 42", "random_stat: 42")
    expected = (
        "config.yml:8: warning: unknown option 'random_stat' of LogisticRegressionClassifier; "
        "it is ignored (did you mean 'random_state'?)"
    )
    assert main(["data", "validate"]) == 0
    captured = capsys.readouterr()
    assert expected in captured.out + captured.err
    assert main(["train"]) == 0
    captured = capsys.readouterr()
    assert (captured.out + captured.err).count(expected) == 1
    assert list(Path("models").glob("*.tar.gz"))


def test_an_unsupported_sql_dialect(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write("endpoints.yml", "tracker_store:\n  type: sql\n  dialect: mysql\n  db: rasa\n")
    both_refuse(
        capsys,
        "endpoints.yml:3: error: SQL dialect 'mysql' is not supported; "
        "use one of sqlite, postgresql",
    )


@pytest.mark.parametrize(
    ("endpoints", "expected"),
    [
        (
            "tracker_store:\n  type: sql\n  dialect: postgresql\n  url: db\n  port: abc\n",
            "endpoints.yml:5: error: `port` must be a whole number, not 'abc'",
        ),
        (
            "lock_store:\n  type: redis\n  url: localhost\n  db: first\n",
            "endpoints.yml:4: error: `db` must be a whole number, not 'first'",
        ),
        (
            "event_broker:\n  type: pika\n  url: localhost\n  retry_delay_in_seconds: soon\n",
            "endpoints.yml:4: error: `retry_delay_in_seconds` must be a number, not 'soon'",
        ),
    ],
)
def test_a_store_setting_that_is_no_number(
    project: Path, capsys: pytest.CaptureFixture[str], endpoints: str, expected: str
) -> None:
    write("endpoints.yml", endpoints)
    both_refuse(capsys, expected)


def test_a_misspelt_domain_key_is_one_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit("domain.yml", "responses:", "responces:")
    assert main(["data", "validate"]) == 1
    err = capsys.readouterr().err
    assert "domain.yml:2: error: unknown key 'responces' (did you mean 'responses'?)" in err
    assert "1 problem(s) found" in err  # not one more for each response the rules use


def test_an_unknown_domain_key_that_is_no_misspelling_is_a_warning(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write("domain.yml", DOMAIN + "x_team_notes: ask Ana\n")
    assert main(["data", "validate"]) == 0
    out = capsys.readouterr().out
    assert "domain.yml:5: warning: unknown top-level key 'x_team_notes'" in out


IGNORED_OPTIONS = """\
  - name: DIETClassifier
    epochs: 100
  - name: ResponseSelector
    epochs: 100
    retrieval_intent: faq
  - name: ResponseSelector
    epochs: 50
policies:
  - name: RulePolicy
  - name: TEDPolicy
    epochs: 100
    max_history: 5
"""


def test_ignored_reference_options_warn_once(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Once per component name and option, in validate and in train (which validates once)."""
    edit(
        "config.yml",
        "  - name: LogisticRegressionClassifier\n    random_state: 42\npolicies:\n"
        "  - name: RulePolicy\n",
        IGNORED_OPTIONS,
    )
    assert main(["data", "validate"]) == 0
    out = capsys.readouterr().out
    diet = "config.yml:8: warning: option 'epochs' of DIETClassifier does nothing in Tandem"
    selector = "config.yml:10: warning: option 'epochs' of ResponseSelector does nothing"
    ted = "config.yml:17: warning: option 'epochs' of TEDPolicy does nothing in Tandem"
    for line in (diet, selector, ted):
        assert out.count(line) == 1, out
    assert "a logistic-regression classifier over dialogue states instead" in out
    assert out.count("does nothing") == 3  # TED's max_history is read; the second selector's
    assert "0 error(s), 3 warning(s)" in out  # epochs are told with the first
    assert main(["train"]) == 0
    err = capsys.readouterr().err
    assert err.count("does nothing") == 3


FLOW_CONFIG = """\
recipe: default.v1
language: en
assistant_id: test
pipeline:
  - name: WhitespaceTokenizer
  - name: CountVectorsFeaturizer
  - name: LogisticRegressionClassifier
  - name: RegexEntityExtractor
  - name: NLUCommandAdapter
  - name: CompactLLMCommandGenerator
policies:
  - name: FlowPolicy
"""
FLOW_DOMAIN = """\
intents: [order]
entities: [pizza]
slots:
  pizza:
    type: text
    mappings:
      - type: from_entity
        entity: pizza
  size:
    type: text
    mappings:
      - type: from_llm
        conditions:
          - active_flow: another_flow
responses:
  utter_ask_pizza:
    - text: Which pizza?
  utter_ask_size:
    - text: Which size?
"""
FLOWS = """\
flows:
  order_pizza:
    description: order a pizza
    steps:
      - collect: pizza
      - collect: size
  another_flow:
    description: something else
    steps:
      - action: utter_ask_size
"""


def test_a_flow_slot_the_llm_generator_cannot_fill(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write("config.yml", FLOW_CONFIG)
    write("domain.yml", FLOW_DOMAIN)
    write("data/nlu.yml", "nlu:\n- intent: order\n  examples: |\n    - a [margherita](pizza)\n")
    write("data/flows.yml", FLOWS)
    assert main(["data", "validate"]) == 0
    out = capsys.readouterr().out
    assert (
        "domain.yml:4: warning: [tandem.validation.calm.collected_slot_not_fillable] slot 'pizza' "
        "is collected by flow 'order_pizza' (data/flows.yml:5), but CompactLLMCommandGenerator's "
        "`set slot` commands for it are refused" in out
    )
    assert "only NLUCommandAdapter fills it" in out
    assert "add `- type: from_llm` to the mappings of 'pizza'" in out
    # `size` is LLM-only, and only while another flow is active: nobody fills it here.
    assert "domain.yml:9: warning: [tandem.validation.calm.collected_slot_not_fillable]" in out
    assert "with `active_flow: order_pizza`" in out
    edit("domain.yml", "        entity: pizza\n", "        entity: pizza\n      - type: from_llm\n")
    edit("domain.yml", "        conditions:\n          - active_flow: another_flow\n", "")
    assert main(["data", "validate"]) == 0
    assert "collected_slot_not_fillable" not in capsys.readouterr().out


def test_a_store_down_at_the_first_message_of_the_shell(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    unused_port: int,
) -> None:
    assert main(["train"]) == 0
    write(
        "endpoints.yml",
        f"tracker_store:\n  type: sql\n  dialect: postgresql\n  url: localhost\n"
        f"  port: {unused_port}\n  db: rasa\n",
    )
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO("hello\n"))
    assert main(["shell"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("Cannot reach a store: PostgreSQL")
    assert str(unused_port) in err
    assert "Start that server, or change tracker_store (endpoints.yml:1)." in err
