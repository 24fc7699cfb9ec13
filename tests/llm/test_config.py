"""Resolving a component's ``llm:`` block against ``model_groups`` and its defaults."""

from __future__ import annotations

import textwrap

import pytest

from tandem.llm.config import (
    DEFAULT_API_BASE,
    LLMConfig,
    LLMConfigError,
    resolve_embeddings_config,
    resolve_llm_config,
)
from tandem.project.endpoints import Endpoints, ModelGroup, load_endpoints

COMPACT_DEFAULTS = {
    "provider": "openai",
    "model": "gpt-5.1-2025-11-13",
    "temperature": 1.0,
    "max_tokens": 256,
    "timeout": 7,
    "reasoning_effort": "none",
}

GROUPS = Endpoints(
    model_groups=(
        ModelGroup(
            "fast",
            (
                {"provider": "openai", "model": "gpt-4o-mini", "api_key": "${GROUP_KEY}"},
                {"provider": "openai", "model": "never-used"},
            ),
        ),
        ModelGroup(
            "local",
            ({"provider": "self-hosted", "model": "llama", "api_base": "http://gpu:8000/v1"},),
        ),
    )
)


def test_no_llm_block_gives_the_component_defaults():
    config = resolve_llm_config(None, None, COMPACT_DEFAULTS)
    assert config == LLMConfig(
        provider="openai",
        model="gpt-5.1-2025-11-13",
        api_base=DEFAULT_API_BASE,
        api_key="${OPENAI_API_KEY}",
        timeout=7.0,
        temperature=1.0,
        max_tokens=256,
        extra={"reasoning_effort": "none"},
    )


def test_a_model_group_gives_its_first_model_and_component_keys_override_it():
    config = resolve_llm_config(
        {"model_group": "fast", "temperature": 0.0, "top_p": 0.9}, GROUPS, COMPACT_DEFAULTS
    )
    assert config.model == "gpt-4o-mini"
    assert config.api_key == "${GROUP_KEY}"  # read when a request is sent
    assert config.temperature == 0.0
    assert config.max_tokens == 256
    assert config.timeout == 7.0
    assert config.extra == {"top_p": 0.9}  # reasoning_effort suits the default model only


def test_a_group_from_endpoints_yml(tmp_path):
    path = tmp_path / "endpoints.yml"
    path.write_text(
        textwrap.dedent(
            """
            model_groups:
              - id: local_llm
                models:
                  - provider: ollama
                    model: llama3.1
                    api_base: http://localhost:11434
                    timeout: 30
                    max_completion_tokens: 64
            """
        )
    )
    config = resolve_llm_config({"model_group": "local_llm"}, load_endpoints(path), {})
    assert config.provider == "ollama"
    assert config.api_base == "http://localhost:11434/v1"
    assert config.api_key is None
    assert (config.timeout, config.max_tokens) == (30.0, 64)


def test_an_unknown_group_names_itself_and_the_known_ones():
    with pytest.raises(LLMConfigError) as failure:
        resolve_llm_config({"model_group": "fats"}, GROUPS, COMPACT_DEFAULTS)
    message = str(failure.value)
    assert "model group 'fats' is not defined" in message
    assert "known groups: fast, local" in message

    with pytest.raises(LLMConfigError, match="no model groups are defined"):
        resolve_llm_config({"model_group": "fast"}, None, COMPACT_DEFAULTS)


def test_the_defaults_request_parameters_stay_with_the_default_model():
    same = resolve_llm_config({"model": "gpt-5.1-2025-11-13", "timeout": 3}, None, COMPACT_DEFAULTS)
    assert same.extra == {"reasoning_effort": "none"}
    assert same.timeout == 3.0

    other = resolve_llm_config({"model": "gpt-4o"}, None, COMPACT_DEFAULTS)
    assert other.extra == {}
    assert (other.temperature, other.max_tokens) == (1.0, 256)


def test_older_spellings_are_understood():
    config = resolve_llm_config(
        {
            "type": "openai",
            "model_name": "gpt-4",
            "request_timeout": "12",
            "max_completion_tokens": 100,
            "openai_api_key": "sk-old",
        },
        None,
        {},
    )
    assert (config.model, config.timeout, config.max_tokens) == ("gpt-4", 12.0, 100)
    assert config.api_key == "sk-old"
    assert config.extra == {}


def test_the_api_base_comes_from_the_environment_for_openai(monkeypatch):
    assert resolve_llm_config({"model": "m"}, None, {}).api_base == DEFAULT_API_BASE
    monkeypatch.setenv("OPENAI_API_BASE", "http://legacy:1/v1")
    assert resolve_llm_config({"model": "m"}, None, {}).api_base == "http://legacy:1/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://proxy:8080/v1/")
    assert resolve_llm_config({"model": "m"}, None, {}).api_base == "http://proxy:8080/v1"
    explicit = resolve_llm_config({"model": "m", "api_base": "http://mine/v1"}, None, {})
    assert explicit.api_base == "http://mine/v1"


def test_the_api_key_is_explicit_or_the_providers_variable():
    assert resolve_llm_config({"model": "m", "api_key": "sk"}, None, {}).api_key == "sk"
    assert resolve_llm_config({"model": "m"}, None, {}).api_key == "${OPENAI_API_KEY}"
    assert "sk-secret" not in repr(
        resolve_llm_config({"model": "m", "api_key": "sk-secret"}, None, {})
    )


def test_azure(monkeypatch):
    monkeypatch.setenv("AZURE_API_BASE", "https://me.openai.azure.com/")
    config = resolve_llm_config({"api_type": "azure", "model": "gpt-4o"}, None, COMPACT_DEFAULTS)
    assert config.provider == "azure"
    assert config.api_base == "https://me.openai.azure.com"
    assert config.deployment == "gpt-4o"
    assert config.api_version == "2024-10-21"
    assert config.api_key == "${AZURE_API_KEY}"

    monkeypatch.setenv("AZURE_API_VERSION", "2025-01-01-preview")
    config = resolve_llm_config({"provider": "azure", "deployment": "prod"}, None, {})
    assert (config.model, config.deployment) == ("prod", "prod")
    assert config.api_version == "2025-01-01-preview"


def test_providers_other_than_openai_need_an_api_base():
    with pytest.raises(LLMConfigError, match="'vllm' needs an `api_base`"):
        resolve_llm_config({"provider": "vllm", "model": "m"}, None, {})
    with pytest.raises(LLMConfigError, match="'azure' needs an `api_base`"):
        resolve_llm_config({"provider": "azure", "model": "m"}, None, {})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "names no `model`"),
        ({"model": "m", "timeout": "soon"}, "`timeout` of the LLM config must be a number"),
        ({"model": "m", "max_tokens": 2.5}, "`max_tokens` of the LLM config must be a whole"),
        ({"model": "m", "temperature": True}, "`temperature` of the LLM config must be a number"),
        ({"model": "m", "timeout": 0}, "`timeout` of the LLM config must be positive"),
        ({"model": "m", "use_chat_completions_endpoint": False}, "not supported"),
    ],
)
def test_unusable_settings_are_clear_errors(options, message):
    with pytest.raises(LLMConfigError, match=message):
        resolve_llm_config(options, None, {})


def test_embeddings_default_to_openais_small_model():
    config = resolve_embeddings_config(None, None)
    assert (config.provider, config.model) == ("openai", "text-embedding-3-small")
    local = resolve_embeddings_config({"model_group": "local"}, GROUPS)
    assert (local.provider, local.model, local.api_base) == (
        "self-hosted",
        "llama",
        "http://gpu:8000/v1",
    )
