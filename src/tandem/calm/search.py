"""``EnterpriseSearchPolicy``: answers knowledge questions from the project's documents.

A project sends knowledge questions here by overriding ``pattern_search`` with a step
``action: action_trigger_search``. The policy finds the passages closest to the
user's question in the document folder, asks the LLM to answer from them, and says the answer.
With no relevant passage it says ``utter_no_relevant_answer_found``; when the LLM
fails, ``utter_internal_error_rasa``. After the answer ``pattern_search`` ends, which offers
to resume an interrupted flow or runs ``pattern_completed``.

Config keys (defaults):

* ``vector_store``: ``source`` is the document folder, relative to the project root
  (``./docs``). ``type`` (``faiss``, ``milvus``, ``qdrant``, ...) is accepted so Rasa projects
  load, but the documents are always searched by our in-process index (see ``knowledge``).
* ``llm`` (``answer_policy.DEFAULT_LLM``), ``prompt_template`` / ``prompt`` (our
  ``prompts/enterprise_search.jinja2``), ``max_history`` (20 transcript lines), ``priority`` (6).
* ``embeddings``: rank passages by this embedding model instead of lexically (not set).
* ``n_results`` or ``top_k``: passages given to the LLM (3).
* ``min_score``: a passage must score above this to count as relevant (0.0).
* ``citation_enabled``: end the answer with the names of the files it was drawn from (false).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tandem.calm.answer_policy import Answer, FrameAnswerPolicy, latest_user_text
from tandem.calm.knowledge import DocumentIndex
from tandem.conversation import stack as st
from tandem.conversation.tracker import Tracker
from tandem.llm import LLMClient, LLMError, resolve_embeddings_config
from tandem.project.endpoints import Endpoints

log = logging.getLogger(__name__)

DEFAULT_SOURCE = "./docs"
DEFAULT_N_RESULTS = 3
UTTER_NO_RELEVANT_ANSWER = "utter_no_relevant_answer_found"
UTTER_INTERNAL_ERROR = "utter_internal_error_rasa"


def document_folder(options: Mapping[str, Any]) -> Path:
    """The ``vector_store.source`` of a policy's options, as written (maybe relative)."""
    store = options.get("vector_store") or {}
    return Path(str(store.get("source") or DEFAULT_SOURCE))


class EnterpriseSearchPolicy(FrameAnswerPolicy):
    name = "EnterpriseSearchPolicy"
    default_priority = 6
    frame_type = st.SEARCH
    template_file = "enterprise_search.jinja2"

    def __init__(
        self,
        options: Mapping[str, Any],
        endpoints: Endpoints | None = None,
        project_root: Path | None = None,
    ) -> None:
        super().__init__(options, endpoints, project_root)
        embeddings = options.get("embeddings")
        self.embedder = (
            LLMClient(resolve_embeddings_config(embeddings, endpoints)) if embeddings else None
        )
        folder = document_folder(options)
        if not folder.is_absolute() and project_root is not None:
            folder = project_root / folder
        self.documents = DocumentIndex(folder, embedder=self.embedder)
        self.n_results = int(options.get("n_results", options.get("top_k", DEFAULT_N_RESULTS)))
        self.min_score = float(options.get("min_score", 0.0))
        self.citation_enabled = bool(options.get("citation_enabled", False))
        store_type = (options.get("vector_store") or {}).get("type")
        log.info(
            "%s searches %d passages from %s with tandem's in-process %s index%s.",
            self.name,
            len(self.documents.passages),
            folder,
            "embedding" if self.embedder is not None else "lexical",
            f" (vector_store type '{store_type}' is not used)" if store_type else "",
        )

    async def aclose(self) -> None:
        await super().aclose()
        if self.embedder is not None:
            await self.embedder.aclose()

    async def answer(self, tracker: Tracker) -> Answer:
        question = latest_user_text(tracker)
        try:
            passages = await self.documents.search(question, self.n_results, self.min_score)
        except LLMError as exc:
            log.error("%s: the embedding model failed: %s", self.name, exc)
            return Answer(UTTER_INTERNAL_ERROR)
        if not passages:
            return Answer(UTTER_NO_RELEVANT_ANSWER)
        docs = [
            {"text": p.text, "source": p.source, "score": p.score, "metadata": {"source": p.source}}
            for p in passages
        ]
        text = await self.complete(self.render_prompt(tracker, docs=docs))
        if text is not None and self.citation_enabled:
            sources = dict.fromkeys(p.source for p in passages)
            text = f"{text}\n\nSources: {', '.join(sources)}"
        return Answer(UTTER_INTERNAL_ERROR, text)
