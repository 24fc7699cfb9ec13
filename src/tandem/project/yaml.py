"""YAML reading that remembers where every key and list item came from.

Project files are plain YAML, but every error we report must name the file and line, so the
loader returns ``YamlMap``/``YamlList`` (a ``dict``/``list`` with a line table) instead of plain
containers. Scalars follow YAML 1.2 as Rasa's ruamel loader does: only ``true``/``false`` are
booleans (``yes``/``no``/``on``/``off`` stay strings), and duplicate keys are errors.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml

from tandem.project.errors import Problem, ProjectError, Source, closest, suggest

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlMap(dict):
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


class YamlList(list):
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
        raise ProjectError(
            Source(path, line), f"YAML syntax error: {problem}", _yaml_hint(problem)
        ) from None
    except yaml.YAMLError as exc:
        raise ProjectError(Source(path, 0), f"YAML syntax error: {exc}") from None
    finally:
        loader.dispose()


_INDENT_PROBLEMS = (
    "indentation",
    "mapping values are not allowed",
    "expected <block end>",
    "did not find expected key",
    "did not find expected '-' indicator",
    "could not find expected ':'",
)


def _yaml_hint(problem: str) -> str:
    if "found character '\\t'" in problem or "found character that cannot start" in problem:
        return "YAML does not allow tabs for indentation; use spaces"
    if any(marker in problem for marker in _INDENT_PROBLEMS):
        return "check the indentation of this line against the lines above it"
    return "fix the YAML syntax on this line"


def read_yaml(path: Path | str, *, expand: bool = True) -> Any:
    """Read and parse one YAML file, expanding ``${ENV}`` references in its values."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProjectError(Source(str(path), 0), f"cannot read the file: {exc.strerror}") from None
    data = parse_yaml(text, str(path))
    return expand_env(data) if expand else data


# Values under these keys are secrets that are resolved lazily by the component that uses them
# (so a missing variable only matters if the secret is actually needed).
SECRET_KEYS = frozenset(
    {
        "api_key",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "client_id",
        "client_secret",
        "token_url",
        "secret",
    }
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
        raise ProjectError(
            source,
            f"environment variable(s) not set: {names}",
            f"export {missing[0]}=... before running tandem",
        )
    return _ENV_REF.sub(lambda match: os.environ[match.group(1)], text)


# -- checking the shape of project files ---------------------------------------------------
#
# Readers of project files describe what they expect with these few helpers; each raises a
# ``ProjectError`` that says where the value is, what was expected and how to fix it.


def as_map(
    value: Any,
    source: Source,
    what: str,
    keys: Collection[str] | None = None,
    *,
    extra_ok: bool = False,
    warnings: list[Problem] | None = None,
) -> YamlMap:
    """``value`` as a mapping, all of whose keys are among ``keys`` (when given).

    Every unknown key is reported with a "did you mean" hint: as an error, or, where the
    reference reads past unknown keys, as a warning in ``warnings``. With ``extra_ok`` (slot
    definitions, intent properties: the format accepts extra keys) only keys that look like a
    misspelling of a known key that is missing are reported.
    """
    if not isinstance(value, dict):
        raise ProjectError(
            source, f"{what} must be a mapping, not {_describe(value)}", "write `key: value` lines"
        )
    if not isinstance(value, YamlMap):
        value = _map_from(value, source)
    if keys is None:
        return value
    problems = []
    for key in value:
        if key in keys:
            continue
        if not extra_ok:
            hint = suggest(str(key), keys)
        elif (near := closest(str(key), [k for k in keys if k not in value])) is not None:
            hint = f"did you mean '{near}'?"
        else:
            continue
        if warnings is None:
            problems.append(Problem(value.at(key), f"unknown key '{key}' in {what}", hint))
        else:
            message = f"unknown key '{key}' in {what} is ignored"
            warnings.append(Problem(value.at(key), message, hint, "warning"))
    if problems:
        raise ProjectError.of(problems)
    return value


def as_list(value: Any, source: Source, what: str) -> YamlList:
    if not isinstance(value, list):
        raise ProjectError(
            source, f"{what} must be a list, not {_describe(value)}", "write one `- item` per line"
        )
    if isinstance(value, YamlList):
        return value
    result = YamlList(source)
    result.extend(value)
    result.item_lines.extend(source.line for _ in value)
    return result


_KIND_NAMES = {
    str: "a string",
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    list: "a list",
    dict: "a mapping",
}


def expect(value: Any, kind: type | tuple[type, ...], source: Source, what: str) -> Any:
    """``value`` if it is of ``kind`` (``bool`` never counts as a number), else an error."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    wants_number = bool({int, float} & set(kinds)) and bool not in kinds
    if isinstance(value, kinds) and not (wants_number and isinstance(value, bool)):
        return value
    expected = " or ".join(_KIND_NAMES.get(k, k.__name__) for k in kinds)
    raise ProjectError(
        source, f"{what} must be {expected}, not {_describe(value)}", f"write {expected} here"
    )


def _describe(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _map_from(data: dict[Any, Any], source: Source) -> YamlMap:
    result = YamlMap(source)
    result.update(data)
    return result


def plain(value: Any) -> Any:
    """A deep copy made of plain ``dict``/``list`` (what the runtime keeps and serialises)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


# The format version this reader implements (the top-level ``version`` key of every file).
FORMAT_VERSION = (3, 1)


def read_project_file(path: Path | str, warnings: list[Problem]) -> YamlMap | None:
    """Read a project file whose top level is a mapping; ``None`` if it is empty or skipped.

    The ``version`` key follows the reference: missing or older means "read as the current
    format" (older with a warning), unreadable warns, and a *newer* version skips the file.
    """
    data = read_yaml(path, expand=False)
    if data is None:
        return None
    data = as_map(data, Source(str(path), 1), "the top level of a project file")
    # Response texts are templates: in "${balance}" the `$` is text before a `{slot}`
    # placeholder, not an environment variable. Everything else is expanded.
    for key, value in data.items():
        if key != "responses":
            data[key] = expand_env(value, data.at(key))
    if "version" not in data:
        return data
    version, at = data["version"], data.at("version")
    current = ".".join(map(str, FORMAT_VERSION))
    fix = f'write version: "{current}"'

    def warn(message: str) -> None:
        warnings.append(Problem(at, message, fix, "warning"))

    try:
        parts = tuple(int(part) for part in str(version).split("."))
    except ValueError:
        warn(f"cannot read the format version {version!r}; reading the file as {current}")
        return data
    if not isinstance(version, str):
        warn("the format version should be a string (in quotes)")
    if parts > FORMAT_VERSION:
        warn(f"format version {version} is newer than {current}; the file is skipped")
        return None
    if parts < FORMAT_VERSION:
        warn(f"format version {version} is older than {current}; reading it as {current}")
    return data


YAML_SUFFIXES = (".yml", ".yaml")


def yaml_files(path: Path | str) -> list[Path]:
    """``path`` itself if it is a file, else every YAML file below it.

    Directories are walked recursively, following symlinks, sorted per directory, so that
    the order files are merged in (first definition wins) does not depend on the disk.
    """
    path = Path(path)
    if not path.is_dir():
        return [path]
    found: list[Path] = []
    for directory, subdirectories, files in os.walk(path, followlinks=True):
        subdirectories.sort()
        found += [Path(directory, name) for name in sorted(files) if name.endswith(YAML_SUFFIXES)]
    return found
