"""What every component that prompts an LLM sets up the same way (routers, command
generators, answer policies): a client for its ``llm`` options over the component's defaults,
and its prompt template, the project's own or the packaged one."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from tandem.llm.client import LLMClient
from tandem.llm.config import resolve_llm_config
from tandem.llm.templates import prompt_template_text

if TYPE_CHECKING:
    from tandem.llm.cassette import Cassette
    from tandem.project.endpoints import Endpoints


def _json_string(value: Any) -> str:
    return json.dumps(value if isinstance(value, str) else str(value), ensure_ascii=False)


# One environment for every prompt: prompts are plain text (nothing is HTML-escaped), and a
# variable a template names that its component does not pass (or an attribute of one)
# renders empty instead of failing.
PROMPTS = jinja2.Environment(autoescape=False, undefined=jinja2.ChainableUndefined)
PROMPTS.filters["to_json_escaped_string"] = _json_string


class PromptedLLMComponent:
    """Base of the components that fill a prompt template and send it to an LLM: ``client``
    and ``template`` once ``use_llm`` ran, ``aclose`` to release the client's connection."""

    client: LLMClient
    template: jinja2.Template

    def use_llm(
        self,
        options: Mapping[str, Any],
        endpoints: Endpoints | None,
        defaults: Mapping[str, Any],
        *,
        project_root: Path | None,
        package: str,
        template: str,
        cassette: Cassette | None = None,
    ) -> None:
        """Set up the client and the template. ``template`` is the packaged default, a path
        inside ``package``; ``cassette`` defaults to the one the environment names."""
        config = resolve_llm_config(options.get("llm"), endpoints, defaults)
        self.client = LLMClient(config, cassette=cassette)
        text = prompt_template_text(options, project_root, package, template)
        self.template = PROMPTS.from_string(text)

    async def aclose(self) -> None:
        await self.client.aclose()
