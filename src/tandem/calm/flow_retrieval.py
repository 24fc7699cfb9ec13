"""Flow retrieval: which flows an LLM prompt offers when there are many.

Each user flow becomes a short document (``id: description`` plus its collected slots). The
user's message is compared with every document, and the closest ``num_flows`` are offered,
together with flows marked ``always_include_in_prompt`` and flows already started in the
conversation. With an ``embeddings`` model configured the comparison uses its vectors;
otherwise a local TF-IDF index does, which needs no model and no network.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tandem.conversation import events as ev
from tandem.conversation.tracker import Tracker
from tandem.llm import Cassette, LLMClient, resolve_embeddings_config
from tandem.llm.text_index import TextIndex
from tandem.project.endpoints import Endpoints
from tandem.project.flows.model import Flow, FlowsList

DEFAULT_NUM_FLOWS = 20


class FlowRetriever:
    def __init__(
        self,
        flows: FlowsList,
        *,
        num_flows: int = DEFAULT_NUM_FLOWS,
        turns_to_embed: int = 1,
        should_embed_slots: bool = True,
        embedder: LLMClient | None = None,
    ) -> None:
        self.num_flows = num_flows
        self.turns_to_embed = max(turns_to_embed, 1)
        self.embedder = embedder
        searchable = [flow for flow in flows.user_flows if not flow.is_link_only]
        self.documents = {flow.id: flow_document(flow, should_embed_slots) for flow in searchable}
        self.index = TextIndex(list(self.documents.values()), embedder=embedder)

    @classmethod
    def from_options(
        cls,
        options: Mapping[str, Any],
        flows: FlowsList,
        endpoints: Endpoints | None,
        cassette: Cassette | None = None,
    ) -> FlowRetriever:
        embeddings = options.get("embeddings")
        embedder = (
            LLMClient(resolve_embeddings_config(embeddings, endpoints), cassette=cassette)
            if embeddings
            else None
        )
        return cls(
            flows,
            num_flows=int(options.get("num_flows", DEFAULT_NUM_FLOWS)),
            turns_to_embed=int(options.get("turns_to_embed", 1)),
            should_embed_slots=bool(options.get("should_embed_slots", True)),
            embedder=embedder,
        )

    async def aclose(self) -> None:
        if self.embedder is not None:
            await self.embedder.aclose()

    async def select(
        self, message: str, tracker: Tracker, available: Sequence[Flow], active: set[str]
    ) -> set[str]:
        """Ids of the flows to offer for ``message``."""
        started = tracker.flows_started_in_events()
        chosen = {f.id for f in available if f.always_include_in_prompt} | started | active
        ranked = await self.rank(_query(message, tracker, self.turns_to_embed))
        chosen.update(ranked[: self.num_flows])
        return chosen

    async def rank(self, query: str) -> list[str]:
        """Flow ids, most similar to ``query`` first."""
        scores = dict(zip(self.documents, await self.index.scores(query), strict=True))
        return sorted(scores, key=lambda flow_id: -scores[flow_id])


def flow_document(flow: Flow, with_slots: bool) -> str:
    """The text that stands for ``flow`` in retrieval."""
    lines = [f"{flow.id}: {flow.description}"]
    if with_slots:
        for step in flow.collect_steps:
            lines.append(f"{step.collect}: {step.description or ''}")
    return "\n".join(lines)


def _query(message: str, tracker: Tracker, turns: int) -> str:
    if turns <= 1:
        return message
    utterances = [
        e.text or ""
        for e in tracker.events
        if isinstance(e, (ev.UserUttered, ev.BotUttered)) and e.text
    ]
    return "\n".join([*utterances[-(turns - 1) :], message])
