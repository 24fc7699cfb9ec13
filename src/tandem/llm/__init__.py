"""The LLM client of every LLM component: config resolution, HTTP client, record/replay."""

from tandem.llm.cassette import Cassette, CassetteMiss, cassette_from_env
from tandem.llm.client import Completion, LLMCall, LLMClient, Usage, observe_llm_calls
from tandem.llm.config import (
    LLMConfig,
    LLMConfigError,
    resolve_embeddings_config,
    resolve_llm_config,
)
from tandem.llm.errors import LLMError

__all__ = [
    "Cassette",
    "CassetteMiss",
    "Completion",
    "LLMCall",
    "LLMClient",
    "LLMConfig",
    "LLMConfigError",
    "LLMError",
    "Usage",
    "cassette_from_env",
    "observe_llm_calls",
    "resolve_embeddings_config",
    "resolve_llm_config",
]
