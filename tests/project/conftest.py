from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from project_testkit import Write


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """Write dedented ``text`` to ``tmp_path / name``; line 1 is the text's first line."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write
