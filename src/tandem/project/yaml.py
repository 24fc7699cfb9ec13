"""YAML reading that remembers where every key and list item came from.

Project files are plain YAML, but every error we report must name the file and line, so the
loader returns ``YamlMap``/``YamlList`` (a ``dict``/``list`` with a line table) instead of plain
containers. Scalars follow YAML 1.2 as Rasa's ruamel loader does: only ``true``/``false`` are
booleans (``yes``/``no``/``on``/``off`` stay strings), and duplicate keys are errors.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from tandem.project.errors import ProjectError, Source

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlMap(dict):  # type: ignore[type-arg]
    """A mapping that knows the file, its own line and the line of each key."""

    __slots__ = ("key_lines", "source")

    def __init__(self, source: Source) -> None:
        super().__init__()
        self.source = source
        self.key_lines: dict[Any, int] = {}

    def at(self, key: Any) -> Source:
        """Where ``key`` (or, if absent, this mapping) is written."""
        line = self.key_lines.get(key)
        return self.source if line is None else Source(self.source.path, line)


class YamlList(list):  # type: ignore[type-arg]
    """A sequence that knows the file, its own line and the line of each item."""

    __slots__ = ("item_lines", "source")

    def __init__(self, source: Source) -> None:
        super().__init__()
        self.source = source
        self.item_lines: list[int] = []

    def at(self, index: int) -> Source:
        if 0 <= index < len(self.item_lines):
            return Source(self.source.path, self.item_lines[index])
        return self.source


def where(container: Any, key: Any = None, fallback: Source | None = None) -> Source:
    """The source of ``container[key]`` (or of ``container``) if the loader recorded one."""
    if isinstance(container, (YamlMap, YamlList)):
        return container.at(key) if key is not None else container.source
    return fallback or Source("<unknown>", 0)


_BOOL_1_2 = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


class _LineLoader(_Loader):  # type: ignore[misc, valid-type]
    path = "<string>"


# YAML 1.2 booleans only: drop PyYAML's 1.1 resolver (yes/no/on/off) and add the 1.2 one.
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in _Loader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL_1_2, list("tTfF"))


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> YamlMap:
    result = YamlMap(Source(loader.path, node.start_mark.line + 1))
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise ProjectError(Source(loader.path, line), "a mapping key must be a plain value")
        if key in result.key_lines:
            raise ProjectError(
                Source(loader.path, line),
                f"duplicate key '{key}' (first written on line {result.key_lines[key]})",
                "remove one of the two entries",
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _construct_list(loader: _LineLoader, node: yaml.SequenceNode) -> YamlList:
    result = YamlList(Source(loader.path, node.start_mark.line + 1))
    for item in node.value:
        result.append(loader.construct_object(item, deep=True))
        result.item_lines.append(item.start_mark.line + 1)
    return result


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_list)


def parse_yaml(text: str, path: str = "<string>") -> Any:
    """Parse YAML text; syntax errors become a ``ProjectError`` with the line and a hint."""
    loader = _LineLoader(text)
    loader.path = path
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = exc.problem or "invalid YAML"
        raise ProjectError(Source(path, line), f"YAML syntax error: {problem}", _yaml_hint(problem)) from None
    except yaml.YAMLError as exc:
        raise ProjectError(Source(path, 0), f"YAML syntax error: {exc}") from None
    finally:
        loader.dispose()


def _yaml_hint(problem: str) -> str:
    if "indentation" in problem or "mapping values are not allowed" in problem or "expected <block end>" in problem:
        return "check the indentation of this line against the lines above it"
    if "found character '\\t'" in problem:
        return "YAML does not allow tabs for indentation; use spaces"
    return "fix the YAML syntax on this line"


def read_yaml(path: Path | str) -> Any:
    """Read and parse one YAML file, expanding ``${ENV}`` references in its values."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProjectError(Source(str(path), 0), f"cannot read the file: {exc.strerror}") from None
    return expand_env(parse_yaml(text, str(path)))


# Values under these keys are secrets that are resolved lazily by the component that uses them
# (so a missing variable only matters if the secret is actually needed).
SECRET_KEYS = frozenset(
    {"api_key", "aws_access_key_id", "aws_secret_access_key", "aws_session_token",
     "client_id", "client_secret", "token_url", "secret"}
)
_ENV_REF = re.compile(r"\$\{([^}]+)\}")


def expand_env(data: Any, source: Source | None = None) -> Any:
    """Replace ``${NAME}`` in every string value by the environment variable's value.

    Values of secret keys are left as written. A reference to an unset variable is an error
    that names the variable and where it is used.
    """
    if isinstance(data, YamlMap):
        for key, value in data.items():
            if key not in SECRET_KEYS:
                data[key] = expand_env(value, data.at(key))
        return data
    if isinstance(data, list):
        for index, value in enumerate(data):
            data[index] = expand_env(value, where(data, index, source))
        return data
    if isinstance(data, str) and "${" in data:
        return expand_env_string(data, source or Source("<unknown>", 0))
    return data


def expand_env_string(text: str, source: Source) -> str:
    missing = [name for name in _ENV_REF.findall(text) if name not in os.environ]
    if missing:
        names = ", ".join(missing)
        raise ProjectError(source, f"environment variable(s) not set: {names}", f"export {missing[0]}=... before running tandem")
    return _ENV_REF.sub(lambda match: os.environ[match.group(1)], text)
