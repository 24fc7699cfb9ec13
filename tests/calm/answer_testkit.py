"""CALM assistants whose LLM-answering policies (document search, chitchat) talk to the
scripted LLM server of the ``llm_server`` fixture."""

from __future__ import annotations

from typing import Any, TypeVar

import yaml

from tandem.policies.base import Policy
from tandem.runtime.processor import MessageProcessor

from .calm_testkit import LLM_GROUP, ProjectProcessors, calm_processor, llm_endpoints


def answer_config(policies: dict[str, dict[str, Any]]) -> str:
    """config.yml listing ``FlowPolicy`` and then ``policies`` (name -> options), each of these
    with the scripted model as its ``llm``."""
    config = {
        "recipe": "default.v1",
        "language": "en",
        "pipeline": [{"name": "NLUCommandAdapter"}],
        "policies": [
            {"name": "FlowPolicy"},
            *(
                {"name": name, "llm": {"model_group": LLM_GROUP}, **options}
                for name, options in policies.items()
            ),
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


class AnswerBots(ProjectProcessors):
    """CALM processors whose LLM-answering policies use the scripted model."""

    def __call__(
        self,
        domain: str,
        flows: str,
        policies: dict[str, dict[str, Any]],
        *,
        files: dict[str, str] | None = None,
    ) -> MessageProcessor:
        """``policies``: the options of each policy listed after ``FlowPolicy`` (their ``llm`` is
        the scripted model); ``files``: more project files by relative path (documents, ...)."""
        root = self.new_project()
        for name, text in (files or {}).items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text, encoding="utf-8")
        processor = calm_processor(
            root,
            domain,
            flows,
            answer_config(policies),
            endpoints=llm_endpoints(self.api_base),
        )
        return self.keep(processor)


_P = TypeVar("_P", bound=Policy)


def policy_of(processor: MessageProcessor, kind: type[_P]) -> _P:
    return next(p for p in processor.assistant.policies if isinstance(p, kind))
