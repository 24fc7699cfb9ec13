"""Prompt templates: the user's own (``prompt_template`` in config.yml) or a packaged one."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any


def prompt_template_text(
    options: Mapping[str, Any], project_root: Path | None, package: str, default: str
) -> str:
    """The template text for a component: the file named by ``prompt_template`` (or its
    deprecated alias ``prompt``), relative paths taken from the project root; else the
    packaged template ``default`` of ``package``."""
    custom = options.get("prompt_template") or options.get("prompt")
    if not custom:
        return (resources.files(package) / default).read_text(encoding="utf-8")
    path = Path(custom)
    if not path.is_absolute() and project_root is not None:
        path = project_root / path
    return path.read_text(encoding="utf-8")
