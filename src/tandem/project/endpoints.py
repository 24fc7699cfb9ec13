"""``endpoints.yml`` and ``credentials.yml``: where the assistant's services and channels are.

Every endpoint is read into the same ``EndpointConfig``: the generic keys are fields, and
whatever else the implementation needs (``db``, ``queue``, ``enable_selective_domain``, ...)
stays in ``kwargs``. Both files are optional; a missing file means "nothing configured".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tandem.project.errors import Problem, ProjectError, Source, gather, raise_errors
from tandem.project.yaml import YamlMap, as_list, as_map, expect, plain, read_yaml

# Top-level keys read into an ``EndpointConfig`` field of ``Endpoints`` of the same name.
ENDPOINT_KEYS = (
    "action_endpoint",
    "nlg",
    "nlu",
    "models",
    "tracker_store",
    "lock_store",
    "event_broker",
    "vector_store",
)
_GENERIC_KEYS = frozenset(
    {"url", "params", "headers", "basic_auth", "token", "token_name", "cafile"}
)


@dataclass(frozen=True, slots=True)
class EndpointConfig:
    url: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)  # added to the query string
    headers: Mapping[str, Any] = field(default_factory=dict)
    basic_auth: Mapping[str, Any] | None = None  # {username, password}
    token: str | None = None  # sent as the query parameter ``token_name``
    token_name: str = "token"
    cafile: str | None = None
    type: str | None = None  # the implementation (``type`` or, for stores, ``store_type``)
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    # Where the endpoint and each of its keys were written, for errors about them.
    source: Source | None = field(default=None, compare=False)
    key_sources: Mapping[str, Source] = field(default_factory=dict, compare=False)

    def at(self, *keys: str) -> Source | None:
        """Where the first of ``keys`` that was written is, else where the endpoint is."""
        return next((self.key_sources[k] for k in keys if k in self.key_sources), self.source)


@dataclass(frozen=True, slots=True)
class ModelGroup:
    """A named list of LLM / embedding model configurations (``model_groups``)."""

    id: str
    models: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class Endpoints:
    action_endpoint: EndpointConfig | None = None
    nlg: EndpointConfig | None = None
    nlu: EndpointConfig | None = None
    models: EndpointConfig | None = None
    tracker_store: EndpointConfig | None = None
    lock_store: EndpointConfig | None = None
    event_broker: EndpointConfig | None = None
    vector_store: EndpointConfig | None = None
    model_groups: tuple[ModelGroup, ...] = ()
    # The whole file as plain data, for settings read by single components (tracing, ...).
    raw: Mapping[str, Any] = field(default_factory=dict)

    def model_group(self, group_id: str) -> ModelGroup | None:
        return next((group for group in self.model_groups if group.id == group_id), None)


def load_endpoints(path: Path | str, warnings: list[Problem] | None = None) -> Endpoints:
    """Read ``endpoints.yml``; a missing file gives empty ``Endpoints``."""
    path = Path(path)
    if not path.exists():
        return Endpoints()
    data = as_map(read_yaml(path) or {}, Source(str(path), 1), "the endpoints file")
    problems: list[Problem] = []
    endpoints: dict[str, Any] = {}
    for key in ENDPOINT_KEYS:
        if data.get(key) is not None:
            with gather(problems):
                endpoints[key] = endpoint_config(data[key], data.at(key), f"`{key}`")
    groups: tuple[ModelGroup, ...] = ()
    with gather(problems):
        groups = _model_groups(data, problems)
    raise_errors(problems, warnings)
    return Endpoints(**endpoints, model_groups=groups, raw=plain(data))


def endpoint_config(value: Any, source: Source, what: str) -> EndpointConfig:
    data = as_map(value, source, what)
    generic = {key: plain(data[key]) for key in _GENERIC_KEYS if data.get(key) is not None}
    for key in ("url", "token", "token_name", "cafile"):
        if key in generic:
            expect(generic[key], str, data.at(key), f"`{key}` of {what}")
    for key in ("params", "headers", "basic_auth"):
        if key in generic:
            expect(generic[key], dict, data.at(key), f"`{key}` of {what}")
    kind = data.get("type", data.get("store_type"))
    kwargs = {
        k: plain(v) for k, v in data.items() if k not in _GENERIC_KEYS | {"type", "store_type"}
    }
    return EndpointConfig(
        **generic,
        type=None if kind is None else str(kind),
        kwargs=kwargs,
        source=source,
        key_sources={str(key): data.at(key) for key in data},
    )


def _model_groups(data: YamlMap, problems: list[Problem]) -> tuple[ModelGroup, ...]:
    if data.get("model_groups") is None:
        return ()
    items = as_list(data["model_groups"], data.at("model_groups"), "`model_groups`")
    groups: dict[str, ModelGroup] = {}
    for index, item in enumerate(items):
        with gather(problems):
            group = _model_group(item, items.at(index))
            if group.id in groups:
                raise ProjectError(
                    items.at(index), f"model group '{group.id}' is defined twice", "rename one"
                )
            groups[group.id] = group
    return tuple(groups.values())


def _model_group(item: Any, source: Source) -> ModelGroup:
    group = as_map(item, source, "a model group")
    if "id" not in group:
        raise ProjectError(source, "a model group has no `id`", "add `id: <name>`")
    group_id = str(group["id"])
    what = f"`models` of model group '{group_id}'"
    models = as_list(group.get("models"), group.at("models"), what)
    return ModelGroup(
        group_id, tuple(plain(as_map(m, models.at(i), "a model")) for i, m in enumerate(models))
    )


def load_credentials(path: Path | str) -> Mapping[str, Mapping[str, Any] | None]:
    """Read ``credentials.yml``: channel name -> its credentials (``None`` when left empty)."""
    path = Path(path)
    if not path.exists():
        return {}
    data = as_map(read_yaml(path) or {}, Source(str(path), 1), "the credentials file")
    problems: list[Problem] = []
    channels: dict[str, Mapping[str, Any] | None] = {}
    for name, value in data.items():
        with gather(problems):
            channel = None if value is None else as_map(value, data.at(name), f"channel '{name}'")
            channels[str(name)] = plain(channel)
    raise_errors(problems)
    return channels
