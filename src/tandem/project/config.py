"""``config.yml``: the recipe, the language and the NLU pipeline and policies to run.

Unknown top-level keys are tolerated (one YAML may hold config, domain and data together).
An empty or missing ``pipeline``/``policies`` is filled with the auto-configured defaults,
as ``rasa train`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tandem.project.errors import Problem, ProjectError, Source, gather, raise_errors, suggest
from tandem.project.yaml import YamlMap, as_list, as_map, expect, plain, read_yaml

RECIPES = ("default.v1",)
ASSISTANT_ID_PLACEHOLDER = "placeholder_default"


@dataclass(frozen=True, slots=True)
class ComponentConfig:
    """One pipeline component or policy: its ``name`` and the rest of its item as options."""

    name: str
    options: Mapping[str, Any]
    source: Source
    # Where each option was written, for problems about one option.
    option_sources: Mapping[str, Source] = field(default_factory=dict, compare=False)

    def at(self, option: str) -> Source:
        return self.option_sources.get(option, self.source)


@dataclass(frozen=True, slots=True)
class Config:
    pipeline: tuple[ComponentConfig, ...]
    policies: tuple[ComponentConfig, ...]
    source: Source
    recipe: str = "default.v1"
    language: str | None = None
    additional_languages: tuple[str, ...] = ()
    assistant_id: str | None = None

    def find(self, name: str) -> ComponentConfig | None:
        """The first pipeline component or policy called ``name``."""
        return next((c for c in (*self.pipeline, *self.policies) if c.name == name), None)


# What ``rasa train`` fills in for an empty pipeline / empty policies ([3.21] defaults), but
# for the network options it adds (epochs, constrain_similarities): they change nothing here,
# and the user did not write them, so they should not be warned about.
DEFAULT_PIPELINE: tuple[dict[str, Any], ...] = (
    {"name": "WhitespaceTokenizer"},
    {"name": "RegexFeaturizer"},
    {"name": "LexicalSyntacticFeaturizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
    {"name": "DIETClassifier"},
    {"name": "EntitySynonymMapper"},
    {"name": "ResponseSelector"},
    {"name": "FallbackClassifier", "threshold": 0.3, "ambiguity_threshold": 0.1},
)
DEFAULT_POLICIES: tuple[dict[str, Any], ...] = (
    {"name": "MemoizationPolicy"},
    {"name": "RulePolicy"},
    {"name": "TEDPolicy", "max_history": 5},
)


def load_config(path: Path | str, warnings: list[Problem] | None = None) -> Config:
    """Read ``config.yml``; raise one ``ProjectError`` listing every problem found."""
    path = Path(path)
    if not path.is_file():
        raise ProjectError(
            Source(str(path)), "the config file does not exist", "check the config path"
        )
    problems: list[Problem] = []
    data = read_yaml(path)
    source = Source(str(path), 1)
    data = as_map({} if data is None else data, source, "the config file")
    config = config_from_yaml(data, source, problems)
    raise_errors(problems, warnings)
    return config


def config_from_yaml(data: YamlMap, source: Source, problems: list[Problem]) -> Config:
    recipe = "default.v1"
    if "recipe" not in data:
        problems.append(
            Problem(
                source,
                "no `recipe` given; default.v1 is used",
                "add `recipe: default.v1`",
                "warning",
            )
        )
    else:
        with gather(problems):
            recipe = expect(data["recipe"], str, data.at("recipe"), "`recipe`")
            if recipe not in RECIPES:
                raise ProjectError(
                    data.at("recipe"), f"unknown recipe '{recipe}'", suggest(recipe, RECIPES)
                )

    language = _optional(data, "language", str, problems)
    if data.get("language") is None:
        # The reference trains without one too; English tokenization rules apply.
        message = "no `language` given; en is used"
        problems.append(Problem(source, message, "add e.g. `language: en`", "warning"))
    assistant_id = _optional(data, "assistant_id", str, problems)
    if assistant_id in (None, ASSISTANT_ID_PLACEHOLDER):
        problems.append(
            Problem(
                data.at("assistant_id"),
                "no `assistant_id` set; events will not name the assistant",
                "add a unique `assistant_id: <name>`",
                "warning",
            )
        )
    languages: tuple[str, ...] = ()
    with gather(problems):
        if data.get("additional_languages") is not None:
            at = data.at("additional_languages")
            items = as_list(data["additional_languages"], at, "`additional_languages`")
            languages = tuple(
                expect(v, str, items.at(i), "a language") for i, v in enumerate(items)
            )

    return Config(
        pipeline=_components(data, "pipeline", DEFAULT_PIPELINE, problems),
        policies=_components(data, "policies", DEFAULT_POLICIES, problems),
        recipe=recipe,
        language=language,
        additional_languages=languages,
        assistant_id=assistant_id,
        source=source,
    )


def _optional(data: YamlMap, key: str, kind: type, problems: list[Problem]) -> Any:
    with gather(problems):
        return None if data.get(key) is None else expect(data[key], kind, data.at(key), f"`{key}`")
    return None


def _components(
    data: YamlMap, key: str, defaults: tuple[dict[str, Any], ...], problems: list[Problem]
) -> tuple[ComponentConfig, ...]:
    at = data.at(key)
    if not data.get(key):  # missing, empty or null: auto-configuration
        return tuple(
            ComponentConfig(d["name"], {k: v for k, v in d.items() if k != "name"}, at)
            for d in defaults
        )
    components = []
    with gather(problems):
        items = as_list(data[key], at, f"`{key}`")
        for index, item in enumerate(items):
            with gather(problems):
                components.append(_component(item, items.at(index), key))
    return tuple(components)


def _component(item: Any, source: Source, key: str) -> ComponentConfig:
    item = as_map(item, source, f"an item of `{key}`")
    if "name" not in item:
        raise ProjectError(
            source, f"an item of `{key}` has no `name`", "add `name: <component class>`"
        )
    name = expect(item["name"], str, item.at("name"), "`name`")
    options = {k: plain(v) for k, v in item.items() if k != "name"}
    return ComponentConfig(name, options, source, {k: item.at(k) for k in options})
