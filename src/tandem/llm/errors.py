"""The one error every LLM call ends in, so callers need a single ``except`` for fallbacks."""

from __future__ import annotations


class LLMError(Exception):
    """An LLM request could not be answered (after whatever retries the failure allowed)."""
