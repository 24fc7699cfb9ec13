"""What differs between two loaded projects, named by flow, slot, response, component, ...

Where a thing was written (``Source``) is left out, and flow file paths are compared relative
to their project's root: a project and its model snapshot live in different folders.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tandem.calm.search import EnterpriseSearchPolicy, document_folder
from tandem.project.errors import Source
from tandem.project.loader import Project


def project_differences(expected: Project, actual: Project) -> list[str]:
    """One line per difference in flows, domain, config and the files components name."""
    found: list[str] = []
    expected_flows = {flow.id: _plain(flow, expected) for flow in expected.flows}
    actual_flows = {flow.id: _plain(flow, actual) for flow in actual.flows}
    found += _keyed("flow", expected_flows, actual_flows)
    if not found and list(expected_flows) != list(actual_flows):
        found.append(f"flow order: {list(expected_flows)} != {list(actual_flows)}")
    for field in dataclasses.fields(expected.domain):
        if field.compare:
            want = _plain(getattr(expected.domain, field.name), expected)
            got = _plain(getattr(actual.domain, field.name), actual)
            if isinstance(want, dict) and isinstance(got, dict):
                found += _keyed(f"domain {field.name}", want, got)
            elif want != got:
                found.append(f"domain {field.name}: {want!r} != {got!r}")
    want_config, got_config = _plain(expected.config, expected), _plain(actual.config, actual)
    for key in want_config.keys() | got_config.keys():
        if want_config.get(key) != got_config.get(key):
            found.append(f"config {key}: {want_config.get(key)!r} != {got_config.get(key)!r}")
    want_files, got_files = named_file_texts(expected), named_file_texts(actual)
    found += _keyed("file named in config.yml", want_files, got_files)
    return found


def named_file_texts(project: Project) -> dict[str, str]:
    """Relative path -> text of the prompt templates and documents that components name."""
    texts: dict[str, str] = {}
    for component in (*project.config.pipeline, *project.config.policies):
        prompt = component.options.get("prompt_template") or component.options.get("prompt")
        if isinstance(prompt, str):
            texts[prompt] = (project.root / prompt).read_text(encoding="utf-8")
        if component.name == EnterpriseSearchPolicy.name:
            folder = project.root / document_folder(component.options)
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    texts[str(path.relative_to(project.root))] = path.read_text(encoding="utf-8")
    return texts


def _keyed(kind: str, expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    found = [f"{kind} '{key}' is missing" for key in expected if key not in actual]
    found += [f"{kind} '{key}' is extra" for key in actual if key not in expected]
    for key in expected.keys() & actual.keys():
        if expected[key] != actual[key]:
            found.append(f"{kind} '{key}' differs: {_first_difference(expected[key], actual[key])}")
    return found


def _first_difference(expected: Any, actual: Any, at: str = "") -> str:
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(expected.keys() | actual.keys(), key=str):
            if expected.get(key) != actual.get(key):
                return _first_difference(expected.get(key), actual.get(key), f"{at}.{key}")
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            if want != got:
                return _first_difference(want, got, f"{at}[{index}]")
    return f"{at or 'value'}: {expected!r} != {actual!r}"


def _plain(value: Any, project: Project) -> Any:
    """Dicts, lists and scalars, without sources; flow file paths relative to the root."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        plain = {
            field.name: _plain(getattr(value, field.name), project)
            for field in dataclasses.fields(value)
            if field.compare and not isinstance(getattr(value, field.name), Source)
        }
        file_path = plain.get("file_path")
        if isinstance(file_path, str) and Path(file_path).is_relative_to(project.root):
            plain["file_path"] = os.path.relpath(file_path, project.root)
        return plain
    if isinstance(value, Mapping):
        return {str(key): _plain(item, project) for key, item in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(_plain(item, project) for item in value)
    if isinstance(value, list | tuple):
        return [_plain(item, project) for item in value]
    return value
