"""Every name config.yml may give a pipeline component or a policy: what kind of part it is,
and for the routers and command generators, how it is built. Training, loading and validation
read this one list; the names themselves are spelled once, by the classes.

The NLU pipeline builds its components (``tandem.nlu.registry``) and the policy registry its
trained policies (``tandem.policies.registry``); CALM's stages (``tandem.calm.engine``) take
the routers and command generators built here.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tandem.calm.chitchat import IntentlessPolicy
from tandem.calm.dsl import DSL_VERSIONS
from tandem.calm.flow_policy import FlowPolicy
from tandem.calm.llm_generator import LLMCommandGenerator
from tandem.calm.nlu_adapter import NLUCommandAdapter
from tandem.calm.parsing import CommandComponent, GeneratorStep
from tandem.calm.search import EnterpriseSearchPolicy
from tandem.coexistence.routers import IntentBasedRouter, LLMBasedRouter
from tandem.llm import Cassette, cassette_from_env
from tandem.nlu.registry import COMPONENTS, UNSUPPORTED_COMPONENTS
from tandem.policies.registry import NLU_POLICIES, UNSUPPORTED_POLICIES
from tandem.project.config import Config
from tandem.project.endpoints import Endpoints
from tandem.project.flows.model import FlowsList


class Kind(enum.Enum):
    NLU = "NLU component"
    ROUTER = "router"
    COMMAND_GENERATOR = "command generator"
    NLU_POLICY = "policy of the NLU-based system"
    CALM_POLICY = "CALM policy"


PIPELINE: Mapping[str, Kind] = {
    **dict.fromkeys(COMPONENTS, Kind.NLU),
    IntentBasedRouter.name: Kind.ROUTER,
    LLMBasedRouter.name: Kind.ROUTER,
    NLUCommandAdapter.name: Kind.COMMAND_GENERATOR,
    **dict.fromkeys(DSL_VERSIONS, Kind.COMMAND_GENERATOR),
}
# UNSUPPORTED_POLICIES are accepted (training says what that means), so they are known.
POLICIES: Mapping[str, Kind] = {
    **dict.fromkeys([*NLU_POLICIES, *UNSUPPORTED_POLICIES], Kind.NLU_POLICY),
    **dict.fromkeys(
        [FlowPolicy.name, EnterpriseSearchPolicy.name, IntentlessPolicy.name], Kind.CALM_POLICY
    ),
}
# Reference components Tandem refuses: models it does not run, or (for the multi-step
# generator) a second prompt design.
UNSUPPORTED: frozenset[str] = UNSUPPORTED_COMPONENTS | {"MultiStepLLMCommandGenerator"}


def nlu_components(config: Config) -> list[tuple[str, dict[str, Any]]]:
    """The pipeline entries the NLU pipeline builds: all but routers and command generators
    (an unknown name stays in, for the pipeline to refuse)."""
    return [
        (item.name, dict(item.options))
        for item in config.pipeline
        if PIPELINE.get(item.name, Kind.NLU) is Kind.NLU
    ]


def command_components(
    config: Config,
    flows: FlowsList,
    endpoints: Endpoints | None,
    project_root: Path | None,
) -> list[CommandComponent]:
    """The routers and command generators of the pipeline, built in pipeline order; the LLM
    clients among them share one recording (``TANDEM_LLM_CASSETTE``)."""
    cassette = cassette_from_env()
    chitchat = config.find(IntentlessPolicy.name) is not None
    return [
        _command_component(
            item.name, item.options, flows, endpoints, project_root, chitchat, cassette
        )
        for item in config.pipeline
        if PIPELINE.get(item.name) in (Kind.ROUTER, Kind.COMMAND_GENERATOR)
    ]


def _command_component(
    name: str,
    options: Mapping[str, Any],
    flows: FlowsList,
    endpoints: Endpoints | None,
    project_root: Path | None,
    chitchat_available: bool,
    cassette: Cassette | None,
) -> CommandComponent:
    if name == IntentBasedRouter.name:
        return IntentBasedRouter(options)
    if name == LLMBasedRouter.name:
        return LLMBasedRouter(options, endpoints, project_root=project_root, cassette=cassette)
    if name == NLUCommandAdapter.name:
        return GeneratorStep(NLUCommandAdapter(options, chitchat_available=chitchat_available))
    generator = LLMCommandGenerator(
        name, options, flows, endpoints, project_root=project_root, cassette=cassette
    )
    return GeneratorStep(generator)
