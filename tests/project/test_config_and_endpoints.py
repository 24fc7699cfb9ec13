"""config.yml, endpoints.yml and credentials.yml."""

from __future__ import annotations

from pathlib import Path

import pytest
from project_testkit import Write, find

from tandem.project.config import DEFAULT_PIPELINE, DEFAULT_POLICIES, load_config
from tandem.project.endpoints import (
    EndpointConfig,
    Endpoints,
    ModelGroup,
    load_credentials,
    load_endpoints,
)
from tandem.project.errors import Problem, ProjectError


def test_config_components_keep_their_options_and_lines(write: Write) -> None:
    path = write(
        "config.yml",
        """\
        recipe: default.v1
        language: en
        assistant_id: my-bot
        custom_tool_setting: tolerated
        pipeline:
          - name: WhitespaceTokenizer
          - name: CountVectorsFeaturizer
            analyzer: char_wb
            min_ngram: 1
        policies:
          - name: RulePolicy
        """,
    )
    config = load_config(path)
    assert (config.recipe, config.language, config.assistant_id) == ("default.v1", "en", "my-bot")
    tokenizer, featurizer = config.pipeline
    assert (tokenizer.name, tokenizer.options, tokenizer.source.line) == (
        "WhitespaceTokenizer",
        {},
        6,
    )
    assert featurizer.options == {"analyzer": "char_wb", "min_ngram": 1}
    assert [p.name for p in config.policies] == ["RulePolicy"]
    assert config.find("RulePolicy") is config.policies[0]
    assert config.find("TEDPolicy") is None


def test_missing_pipeline_and_policies_are_auto_configured(write: Write) -> None:
    warnings: list[Problem] = []
    config = load_config(
        write("config.yml", "language: en\nassistant_id: a\npipeline: []\n"), warnings
    )
    assert [c.name for c in config.pipeline] == [d["name"] for d in DEFAULT_PIPELINE]
    assert config.pipeline[4].options == {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4}
    assert [p.name for p in config.policies] == ["MemoizationPolicy", "RulePolicy", "TEDPolicy"]
    assert len(config.policies) == len(DEFAULT_POLICIES)
    assert find(warnings, "no `recipe`").severity == "warning"


def test_config_problems(write: Write) -> None:
    path = write(
        "config.yml",
        """\
        recipe: default.v2
        pipeline:
          - WhitespaceTokenizer
          - analyzer: char_wb
        policies: RulePolicy
        """,
    )
    warnings: list[Problem] = []
    with pytest.raises(ProjectError) as info:
        load_config(path, warnings)
    recipe = find(info.value, "unknown recipe 'default.v2'")
    assert recipe.source.line == 1 and recipe.hint == "did you mean 'default.v1'?"
    assert find(info.value, "must be a mapping").source.line == 3
    assert find(info.value, "has no `name`").source.line == 4
    assert find(info.value, "`policies` must be a list").source.line == 5
    language = find(warnings, "no `language` given; en is used")  # the reference trains too
    assert (language.severity, language.hint) == ("warning", "add e.g. `language: en`")
    assert find(warnings, "no `assistant_id`").severity == "warning"


def test_a_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="the config file does not exist"):
        load_config(tmp_path / "config.yml")


def test_endpoints(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_PASSWORD", "s3cret")
    path = write(
        "endpoints.yml",
        """\
        action_endpoint:
          url: http://localhost:5055/webhook
          enable_selective_domain: true
          token: abc
          token_name: auth
          headers: {X-Key: k}
        tracker_store:
          type: SQL
          dialect: postgresql
          password: ${DB_PASSWORD}
        lock_store:
          store_type: redis
          url: localhost
        nlg:
        model_groups:
          - id: gpt
            models:
              - provider: openai
                model: gpt-4o
                api_key: ${OPENAI_API_KEY}
        tracing:
          type: jaeger
        """,
    )
    endpoints = load_endpoints(path)
    assert endpoints.action_endpoint == EndpointConfig(
        url="http://localhost:5055/webhook",
        headers={"X-Key": "k"},
        token="abc",
        token_name="auth",
        kwargs={"enable_selective_domain": True},
    )
    assert endpoints.tracker_store == EndpointConfig(
        type="SQL", kwargs={"dialect": "postgresql", "password": "s3cret"}
    )
    assert endpoints.lock_store is not None and endpoints.lock_store.type == "redis"
    assert endpoints.nlg is None
    # Secrets stay as written; they are resolved when used.
    models = (({"provider": "openai", "model": "gpt-4o", "api_key": "${OPENAI_API_KEY}"}),)
    assert endpoints.model_groups == (ModelGroup("gpt", models),)
    assert endpoints.model_group("gpt") is endpoints.model_groups[0]
    assert endpoints.raw["tracing"] == {"type": "jaeger"}


def test_endpoint_problems(write: Write) -> None:
    path = write(
        "endpoints.yml",
        """\
        action_endpoint: http://localhost:5055
        models:
          url: [a]
        model_groups:
          - models: []
          - id: a
            models: []
          - id: a
            models: []
        """,
    )
    with pytest.raises(ProjectError) as info:
        load_endpoints(path)
    assert find(info.value, "`action_endpoint` must be a mapping").source.line == 1
    assert find(info.value, "`url` of `models` must be a string").source.line == 3
    assert find(info.value, "model group 'a' is defined twice").source.line == 8
    assert find(info.value, "has no `id`").source.line == 5


def test_missing_endpoints_and_credentials_files_mean_nothing_configured(tmp_path: Path) -> None:
    assert load_endpoints(tmp_path / "endpoints.yml") == Endpoints()
    assert load_credentials(tmp_path / "credentials.yml") == {}


def test_credentials(write: Write) -> None:
    path = write("credentials.yml", "rest:\nsocketio:\n  user_message_evt: user_uttered\n")
    assert load_credentials(path) == {
        "rest": None,
        "socketio": {"user_message_evt": "user_uttered"},
    }
    with pytest.raises(ProjectError, match="channel 'rest' must be a mapping"):
        load_credentials(write("bad.yml", "rest: yes\n"))
