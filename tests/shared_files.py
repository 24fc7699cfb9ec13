"""Where the workspace's shared material lies (``../shared`` beside the clone): the acceptance
assistants and their tools, and the intent datasets.

The project's own tests pass from a clone alone: a test that reads shared material is skipped
with the reason when it is missing. CI sets ``TANDEM_REQUIRE_SHARED=1`` (``.ci/run``), so there
a missing folder fails instead of skipping.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
ACCEPTANCE = SHARED / "acceptance"
DATASETS = SHARED / "datasets"


def require(path: Path) -> Path:
    """``path``, or skip the calling test (or module, at import) when it is missing."""
    if not path.exists():
        reason = f"{path} is missing (the workspace's ../shared folder)"
        if os.environ.get("TANDEM_REQUIRE_SHARED"):
            pytest.fail(reason)
        pytest.skip(reason, allow_module_level=True)
    return path
