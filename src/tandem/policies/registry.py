"""Dialogue policies by their config names: training them, writing and reading their data.

Each trained policy keeps its data in its own folder ``<index>_<Name>`` (index = position in
the config's ``policies``), as JSON and NumPy files only. CALM policies are built by the
CALM stages and are skipped here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tandem.nlu.storage import Store
from tandem.policies.base import NluPolicy
from tandem.policies.memoization import AugmentedMemoizationPolicy, MemoizationPolicy
from tandem.policies.rule_policy import RulePolicy
from tandem.policies.ted import TEDPolicy
from tandem.policies.training_trackers import PolicyTrainingData
from tandem.project.config import ComponentConfig
from tandem.project.domain import Domain
from tandem.project.errors import Problem, gather, raise_errors
from tandem.project.training_data import TrainingData

log = logging.getLogger(__name__)

NLU_POLICIES: Mapping[str, type[NluPolicy]] = {
    "RulePolicy": RulePolicy,
    "MemoizationPolicy": MemoizationPolicy,
    "AugmentedMemoizationPolicy": AugmentedMemoizationPolicy,
    "TEDPolicy": TEDPolicy,
}
# Accepted in config.yml, but without an implementation: what that means for the user.
UNSUPPORTED_POLICIES: Mapping[str, str] = {
    "UnexpecTEDIntentPolicy": "not implemented in Tandem; action_unlikely_intent is never "
    "predicted, as when the policy is not configured",
}
_FILE_PREFIX = "policy"


def train_policies(
    configs: Sequence[ComponentConfig],
    data: TrainingData,
    domain: Domain,
    on_policy: Callable[[str], None] | None = None,
) -> list[tuple[int, NluPolicy]]:
    """The trained NLU policies with their index in ``configs``; raises ``ProjectError``
    listing the problems of every policy. ``on_policy`` hears each name as it starts."""
    wanted = []
    for index, config in enumerate(configs):
        if config.name in NLU_POLICIES:
            wanted.append((index, config))
        elif config.name in UNSUPPORTED_POLICIES:
            log.warning("%s: %s", config.name, UNSUPPORTED_POLICIES[config.name])
        else:
            log.debug("Policy %s is not trained here (built by a later stage).", config.name)
    if not wanted:
        return []
    training = PolicyTrainingData.build(
        data.stories,
        data.rules,
        domain,
        with_rule_policy=any(config.name == RulePolicy.name for _, config in wanted),
    )
    problems: list[Problem] = []
    trained = []
    for index, config in wanted:
        if on_policy is not None:
            on_policy(config.name)
        with gather(problems):
            trained.append((index, NLU_POLICIES[config.name].train(config, training)))
    raise_errors(problems)
    return trained


def _folder(directory: Path, index: int, name: str) -> Path:
    return directory / f"{index}_{name}"


def persist_policies(trained: Sequence[tuple[int, NluPolicy]], directory: Path) -> None:
    for index, policy in trained:
        folder = _folder(directory, index, policy.name)
        folder.mkdir(parents=True)
        policy.persist(Store(folder, _FILE_PREFIX))


def load_policies(
    configs: Sequence[Mapping[str, Any]], directory: Path, domain: Domain
) -> list[NluPolicy]:
    """The NLU policies of a model; ``configs`` are the policy entries of its metadata."""
    policies = []
    for index, entry in enumerate(configs):
        name = str(entry["name"])
        kind = NLU_POLICIES.get(name)
        if kind is None:
            log.debug("Policy %s is not loaded here (built by a later stage).", name)
            continue
        options = {key: value for key, value in entry.items() if key != "name"}
        store = Store(_folder(directory, index, name), _FILE_PREFIX)
        policies.append(kind.load(options, store, domain))
    return policies
