"""Which LLM a component talks to: its ``llm:`` options resolved into one ``LLMConfig``.

A component names its model inline (``llm: {provider: openai, model: gpt-4o}``) or by a model
group of ``endpoints.yml`` (``llm: {model_group: fast}``), over defaults of its own. Whatever
the spelling, the result holds the few settings the client needs to reach an OpenAI-compatible
server; every other key the user wrote (``reasoning_effort``, ``top_p``, ...) is a request
parameter and goes into the request body as written.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tandem.project.endpoints import Endpoints

DEFAULT_API_BASE = "https://api.openai.com/v1"
DEFAULT_TIMEOUT = 60.0  # seconds, when neither the user nor the component sets one
DEFAULT_MAX_RETRIES = 2
DEFAULT_AZURE_API_VERSION = "2024-10-21"
EMBEDDINGS_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {"provider": "openai", "model": "text-embedding-3-small"}
)

# Older spellings found in Rasa 3.x projects -> the current key.
_ALIASES = {
    "model_name": "model",
    "request_timeout": "timeout",
    "type": "provider",
    "openai_api_base": "api_base",
    "openai_api_key": "api_key",
    "openai_api_type": "api_type",
    "openai_api_version": "api_version",
    "deployment_name": "deployment",
    "engine": "deployment",
    "max_completion_tokens": "max_tokens",
}
# Keys the client interprets itself; every other key is a request parameter.
_SETTINGS = frozenset(
    {
        "provider",
        "model",
        "api_base",
        "api_key",
        "api_type",
        "api_version",
        "deployment",
        "timeout",
        "temperature",
        "max_tokens",
        "max_retries",
        "use_chat_completions_endpoint",
    }
)
# The variable that holds the key when the config names none (read when a request is sent).
_KEY_VARIABLES = {"openai": "OPENAI_API_KEY", "azure": "AZURE_API_KEY"}


class LLMConfigError(ValueError):
    """An ``llm:`` / ``embeddings:`` block (or the model group it names) cannot be used."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LLMConfig:
    """How to reach one model on an OpenAI-compatible chat-completions / embeddings server.

    ``api_key`` may still hold ``${NAME}`` references: the client reads them only when it sends
    a request, so a run replayed from a cassette needs no key.
    """

    provider: str = "openai"
    model: str
    api_base: str = DEFAULT_API_BASE
    api_key: str | None = field(default=None, repr=False)
    api_type: str | None = None
    api_version: str | None = None
    deployment: str | None = None  # Azure: the deployment serving ``model``
    timeout: float = DEFAULT_TIMEOUT  # seconds, per HTTP request
    temperature: float | None = None
    max_tokens: int | None = None
    max_retries: int = DEFAULT_MAX_RETRIES
    extra: Mapping[str, Any] = field(default_factory=dict)  # other request parameters


def resolve_llm_config(
    options: Mapping[str, Any] | None,
    endpoints: Endpoints | None,
    defaults: Mapping[str, Any],
) -> LLMConfig:
    """The ``LLMConfig`` of a component's ``llm:`` block, over the component's ``defaults``.

    Keys written next to ``model_group`` override the group's first model. The defaults'
    request parameters (e.g. ``reasoning_effort``) suit the default model only, so they are
    dropped when the user picks another model or provider; the defaults' settings (timeout,
    temperature, max_tokens) still apply.
    """
    user = _user_settings(options or {}, endpoints)
    base = _normalized(defaults)
    if any(user.get(key, base.get(key)) != base.get(key) for key in ("provider", "model")):
        base = {key: value for key, value in base.items() if key in _SETTINGS}
    return _build({**base, **user})


def resolve_embeddings_config(
    options: Mapping[str, Any] | None,
    endpoints: Endpoints | None,
    defaults: Mapping[str, Any] = EMBEDDINGS_DEFAULTS,
) -> LLMConfig:
    """The ``LLMConfig`` of an ``embeddings:`` block; resolved exactly like ``llm:``."""
    return resolve_llm_config(options, endpoints, defaults)


def _user_settings(options: Mapping[str, Any], endpoints: Endpoints | None) -> dict[str, Any]:
    inline = dict(options)
    group_id = inline.pop("model_group", None)
    group = {} if group_id is None else _group_model(str(group_id), endpoints)
    settings = {**_normalized(group), **_normalized(inline)}
    if "provider" not in settings and str(settings.get("api_type", "")).lower() == "azure":
        settings["provider"] = "azure"
    return settings


def _group_model(group_id: str, endpoints: Endpoints | None) -> Mapping[str, Any]:
    """The group's first model: groups may list several, and we use no load balancing."""
    group = endpoints.model_group(group_id) if endpoints is not None else None
    if group is None:
        known = [g.id for g in endpoints.model_groups] if endpoints is not None else []
        listing = f"known groups: {', '.join(known)}" if known else "no model groups are defined"
        raise LLMConfigError(
            f"model group '{group_id}' is not defined in `model_groups` of endpoints.yml "
            f"({listing})"
        )
    if not group.models:
        raise LLMConfigError(f"model group '{group_id}' in endpoints.yml lists no models")
    return group.models[0]


def _normalized(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Current key names (a key written in its current spelling wins over an alias); no Nones."""
    result: dict[str, Any] = {}
    for key, value in settings.items():
        name = _ALIASES.get(str(key), str(key))
        if value is not None and (name == key or name not in settings):
            result[name] = value
    return result


def _build(settings: Mapping[str, Any]) -> LLMConfig:
    provider = str(settings.get("provider") or "openai").lower()
    model = settings.get("model") or settings.get("deployment")
    if not model:
        raise LLMConfigError("the LLM config names no `model`")
    if settings.get("use_chat_completions_endpoint") is False:
        raise LLMConfigError(
            "`use_chat_completions_endpoint: false` is not supported: tandem only speaks the "
            "chat-completions protocol"
        )
    timeout = _number(settings, "timeout", float)
    max_tokens = _number(settings, "max_tokens", int)
    max_retries = _number(settings, "max_retries", int)
    if timeout is not None and timeout <= 0:
        raise LLMConfigError(f"`timeout` of the LLM config must be positive, not {timeout}")
    api_version = settings.get("api_version")
    if provider == "azure":
        api_version = api_version or os.environ.get("AZURE_API_VERSION", DEFAULT_AZURE_API_VERSION)
    api_key = settings.get("api_key")
    if api_key is None and provider in _KEY_VARIABLES:
        api_key = "${" + _KEY_VARIABLES[provider] + "}"
    return LLMConfig(
        provider=provider,
        model=str(model),
        api_base=_api_base(provider, settings.get("api_base")),
        api_key=None if api_key is None else str(api_key),
        api_type=settings.get("api_type"),
        api_version=None if api_version is None else str(api_version),
        deployment=str(settings.get("deployment") or model) if provider == "azure" else None,
        timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
        temperature=_number(settings, "temperature", float),
        max_tokens=max_tokens,
        max_retries=DEFAULT_MAX_RETRIES if max_retries is None else max(0, max_retries),
        extra={key: value for key, value in settings.items() if key not in _SETTINGS},
    )


def _api_base(provider: str, explicit: Any) -> str:
    if explicit:
        base = str(explicit)
    elif provider == "openai":
        base = (
            os.environ.get("OPENAI_BASE_URL")
            or os.environ.get("OPENAI_API_BASE")
            or DEFAULT_API_BASE
        )
    elif provider == "azure" and os.environ.get("AZURE_API_BASE"):
        base = os.environ["AZURE_API_BASE"]
    else:
        raise LLMConfigError(
            f"the LLM provider '{provider}' needs an `api_base` (the URL of its OpenAI-compatible "
            "API, e.g. http://localhost:8000/v1)"
        )
    base = base.rstrip("/")
    # Ollama's OpenAI-compatible API lives under /v1, but its docs give the bare server URL.
    if provider == "ollama" and not base.endswith("/v1"):
        base += "/v1"
    return base


def _number(settings: Mapping[str, Any], key: str, kind: type[int] | type[float]) -> Any:
    """``settings[key]`` as ``kind`` (numbers may arrive as strings from ``${ENV}``)."""
    value = settings.get(key)
    if value is None:
        return None
    try:
        number = float(value)
        if isinstance(value, bool) or (kind is int and not number.is_integer()):
            raise ValueError
        return kind(number)
    except (TypeError, ValueError):
        kind_name = "a whole number" if kind is int else "a number"
        raise LLMConfigError(
            f"`{key}` of the LLM config must be {kind_name}, not {value!r}"
        ) from None
