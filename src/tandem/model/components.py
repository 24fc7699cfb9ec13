"""Every name config.yml may give a pipeline component or a policy: what kind of part it is,
and for the routers and command generators, how it is built. Training, loading and validation
read this one list; the names themselves are spelled once, by the classes.

The NLU pipeline builds its components (``tandem.nlu.registry``) and the policy registry its
trained policies (``tandem.policies.registry``); CALM's stages (``tandem.calm.engine``) take
the routers and command generators built here.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
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
from tandem.nlu.jieba_tokenizer import JiebaTokenizer
from tandem.nlu.registry import COMPONENTS, UNSUPPORTED_COMPONENTS
from tandem.policies.registry import NLU_POLICIES, UNSUPPORTED_POLICIES
from tandem.project.config import ComponentConfig, Config
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


# Options of NLU components that name a folder of the project.
_PROJECT_FOLDERS = {JiebaTokenizer.name: "dictionary_path"}


def nlu_components(
    config: Config, project_root: Path | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """The pipeline entries the NLU pipeline builds: all but routers and command generators
    (an unknown name stays in, for the pipeline to refuse). A relative folder an option names
    is taken from ``project_root`` (from the working folder without one), as prompt templates
    and documents are."""
    return [
        (item.name, _rooted(item, project_root))
        for item in config.pipeline
        if PIPELINE.get(item.name, Kind.NLU) is Kind.NLU
    ]


def _rooted(item: ComponentConfig, root: Path | None) -> dict[str, Any]:
    options = dict(item.options)
    named = _folder_option(item)
    if named is not None and root is not None and not named[1].is_absolute():
        options[named[0]] = str(root / named[1])
    return options


def project_folders(config: Config) -> Iterator[tuple[ComponentConfig, str, Path]]:
    """The folders that pipeline entries name in their options: (entry, option, folder as
    written)."""
    for item in config.pipeline:
        named = _folder_option(item)
        if named is not None:
            yield item, *named


def _folder_option(item: ComponentConfig) -> tuple[str, Path] | None:
    key = _PROJECT_FOLDERS.get(item.name)
    value = item.options.get(key) if key else None
    return (key, Path(value)) if key and isinstance(value, str) and value else None


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
