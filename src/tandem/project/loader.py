"""A whole project: config, domain, training data, flows, endpoints and credentials.

``load_project`` reads every part even when an earlier one is broken, so a single run
reports all the problems of all files at once (one ``ProjectError``). Checks that need
several parts together (is this intent declared? does this response exist?) are in
``tandem.model.validation``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tandem.project.config import Config, load_config
from tandem.project.data_files import load_training_data
from tandem.project.domain import Domain
from tandem.project.domain_files import load_domain
from tandem.project.endpoints import Endpoints, load_credentials, load_endpoints
from tandem.project.errors import Problem, gather, raise_errors
from tandem.project.flows.model import FlowsList
from tandem.project.flows.patterns import build_flows, default_pattern_domain
from tandem.project.training_data import TrainingData


@dataclass(frozen=True, slots=True)
class ProjectPaths:
    root: Path
    config: Path
    domain: Path
    data: tuple[Path, ...]
    endpoints: Path
    credentials: Path


@dataclass(frozen=True)
class Project:
    root: Path
    config: Config
    domain: Domain
    data: TrainingData
    flows: FlowsList
    endpoints: Endpoints
    credentials: Mapping[str, Mapping[str, Any] | None]
    paths: ProjectPaths
    # Problems that do not stop loading (old format versions, ignored values, ...).
    warnings: tuple[Problem, ...] = ()


def load_project(
    root: Path | str = ".",
    config: Path | str = "config.yml",
    domain: Path | str = "domain",
    data: Sequence[Path | str] = ("data",),
    endpoints: Path | str = "endpoints.yml",
    credentials: Path | str = "credentials.yml",
) -> Project:
    """Load the project under ``root`` (relative paths are taken from there).

    ``domain`` without a suffix means "``<domain>.yml`` if it exists, else the directory".
    """
    root = Path(root)
    paths = ProjectPaths(
        root=root,
        config=root / config,
        domain=_domain_path(root / domain),
        data=tuple(root / path for path in data),
        endpoints=root / endpoints,
        credentials=root / credentials,
    )
    problems: list[Problem] = []
    warnings: list[Problem] = []
    parts: dict[str, Any] = {}
    with gather(problems):
        parts["config"] = load_config(paths.config, warnings)
    with gather(problems):
        parts["domain"] = load_domain(paths.domain, warnings)
    with gather(problems):
        slots = parts["domain"].slots if "domain" in parts else None
        parts["data"], user_flows = load_training_data(paths.data, slots, warnings)
        parts["flows"] = build_flows(user_flows, with_default_patterns=True)
    with gather(problems):
        parts["endpoints"] = load_endpoints(paths.endpoints, warnings)
    with gather(problems):
        parts["credentials"] = load_credentials(paths.credentials)
    raise_errors(problems)
    return Project(
        root=root,
        domain=_complete_domain(parts["domain"], parts["data"], parts["flows"]),
        paths=paths,
        warnings=tuple(warnings),
        **{key: parts[key] for key in ("config", "data", "flows", "endpoints", "credentials")},
    )


def _domain_path(path: Path) -> Path:
    """``domain`` -> ``domain.yml`` when that file exists (the file wins over the directory)."""
    file = path.with_name(path.name + ".yml")
    return file if not path.suffix and file.is_file() else path


def _complete_domain(domain: Domain, data: TrainingData, flows: FlowsList) -> Domain:
    """Add what other files contribute: NLU-file responses, flow actions, pattern defaults.

    Definitions in the domain always win over the added ones.
    """
    responses = dict(domain.responses)
    slots = dict(domain.slots)
    additions = [data.responses]
    if flows.user_flows:
        defaults = default_pattern_domain()
        additions.append(defaults.responses)
        slots.update((name, slot) for name, slot in defaults.slots.items() if name not in slots)
    for added in additions:
        responses.update((name, r) for name, r in added.items() if name not in responses)
    return replace(
        domain,
        responses=responses,
        slots=slots,
        flow_ids=tuple(flow.id for flow in flows),
    )
