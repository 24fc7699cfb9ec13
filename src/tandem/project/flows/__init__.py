"""Flows: the model, reading flow files, the checks across flows and the default patterns."""
