"""The LLM client tests: the scripted server (``llm_server``, see tests/conftest.py) and no
ambient LLM settings."""

from __future__ import annotations

import pytest

from fake_llm_server import FakeLLMServer, Reply, Seen, chat_reply

__all__ = ["FakeLLMServer", "Reply", "Seen", "chat_reply"]  # imported by the test modules


@pytest.fixture(autouse=True)
def _no_ambient_llm_settings(no_ambient_llm_settings: None) -> None:
    """The tests set the variables they need; the developer's own must not leak in."""
