"""Tandem: NLU-based dialogue and LLM-driven flows, coexisting in one assistant."""

__version__ = "0.1.0"
