"""Answers from documents: the passage index, and ``EnterpriseSearchPolicy`` in conversations
whose ``pattern_search`` runs ``action_trigger_search``."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from fake_llm_server import FakeLLMServer
from tandem.calm.knowledge import DocumentIndex, read_passages, split_passages
from tandem.calm.search import EnterpriseSearchPolicy
from tandem.conversation import commands as cmd
from tandem.conversation import events as ev
from tandem.conversation.tracker import Tracker
from tandem.llm import LLMClient
from tandem.llm.config import LLMConfig
from tandem.llm.text_index import TextIndex
from tandem.model.loading import load_assistant
from tandem.model.training import train
from tandem.project.endpoints import load_endpoints
from tandem.project.loader import load_project
from tandem.runtime.processor import MessageProcessor

from .answer_testkit import AnswerBots, answer_config, policy_of
from .calm_testkit import (
    actions,
    flow_events,
    llm_endpoints,
    prompts_sent,
    send,
    stack_of,
    texts,
)

DOCS = {
    "docs/shipping.md": (
        "# Shipping\n\nParcels to Canada arrive within five working days.\n\n"
        "Express delivery costs twelve euros."
    ),
    "docs/returns.txt": "Unused items may be returned within thirty days for a full refund.",
    "docs/care/plants.md": "Water cactus plants once a month; ferns like humid air.",
}

DOMAIN = """\
version: "3.1"
slots:
  name:
    type: text
responses:
  utter_ask_name:
    - text: "Your name?"
  utter_done:
    - text: "Done."
"""

FLOWS = """\
flows:
  register:
    description: Register a user.
    steps:
      - collect: name
      - action: utter_done
  pattern_search:
    description: Answer knowledge questions from the documents.
    steps:
      - action: action_trigger_search
"""

QUESTION = "How long does shipping to Canada take?"
NO_RELEVANT_ANSWER = "I’m sorry, I can’t help with that."  # noqa: RUF001 (the default text)
INTERNAL_ERROR = "Sorry, I am having trouble with that. Please try again in a few minutes."

SearchBot = Callable[..., MessageProcessor]


@pytest.fixture
async def search_bot(tmp_path: Path, llm_server: FakeLLMServer) -> AsyncIterator[SearchBot]:
    """``search_bot(domain=..., files=..., **options)``: an assistant with the documents
    ``DOCS`` (and more ``files``) whose EnterpriseSearchPolicy has ``options``."""
    bots = AnswerBots(tmp_path, llm_server.api_base)

    def make(
        domain: str = DOMAIN, files: dict[str, str] | None = None, **options: Any
    ) -> MessageProcessor:
        policies = {EnterpriseSearchPolicy.name: options}
        return bots(domain, FLOWS, policies, files={**DOCS, **(files or {})})

    yield make
    await bots.aclose()


# -- the document index ---------------------------------------------------------------------------


def test_passages_keep_paragraphs_together_up_to_the_limit() -> None:
    text = "one two.\n\nthree four.\n\n" + "word " * 30
    six_words = " ".join(["word"] * 6)  # 29 characters: a seventh word would pass the limit
    assert split_passages(text, limit=30) == ["one two.\n\nthree four.", *[six_words] * 5]
    assert split_passages("short\n\n\n  \n\nnext") == ["short\n\nnext"]


def write_docs(root: Path, docs: dict[str, str]) -> Path:
    for name, text in docs.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root / "docs"


def test_every_text_and_markdown_file_is_read(tmp_path: Path) -> None:
    folder = write_docs(tmp_path, {**DOCS, "docs/image.png": "not a document"})
    sources = {passage.source for passage in read_passages(folder)}
    assert sources == {"shipping.md", "returns.txt", "care/plants.md"}
    assert read_passages(tmp_path / "missing") == []


async def test_the_lexical_index_ranks_the_passage_that_answers_first(tmp_path: Path) -> None:
    index = DocumentIndex(write_docs(tmp_path, DOCS))
    found = await index.search("When will my parcel to Canada arrive?", 3, 0.0)
    assert found[0].source == "shipping.md"
    assert "five working days" in found[0].text
    found = await index.search("how often should I water my cactus", 1, 0.0)
    assert [p.source for p in found] == ["care/plants.md"]
    # Only stop words in common: nothing is relevant.
    assert await index.search("What is it that you are?", 3, 0.0) == []
    # ``min_score`` raises the bar.
    assert await index.search("refund for returned items", 3, 0.99) == []


async def test_the_index_ranks_by_embeddings_when_given_a_model(
    llm_server: FakeLLMServer,
) -> None:
    client = LLMClient(LLMConfig(model="embedder", api_base=llm_server.api_base, api_key="k"))
    try:
        # The scripted vectors are [len(text), position]: the query (alone, position 0) points
        # the same way as the document of the same length at position 0.
        index = TextIndex(["a" * 10, "b" * 1000], embedder=client)
        scores = await index.scores("c" * 10)
        assert scores[0] > scores[1]
    finally:
        await client.aclose()
    assert [r.path for r in llm_server.requests] == ["/v1/embeddings", "/v1/embeddings"]


# -- conversations --------------------------------------------------------------------------------


async def test_a_knowledge_question_is_answered_from_the_documents(
    search_bot: SearchBot, llm_server: FakeLLMServer
) -> None:
    processor = search_bot()
    llm_server.then_answer("It takes up to five working days.")
    events = await send(processor, cmd.KnowledgeAnswer(), text=QUESTION)
    (prompt,) = prompts_sent(llm_server)
    assert "Parcels to Canada arrive within five working days." in prompt
    assert "from shipping.md" in prompt
    assert f"USER: {QUESTION}" in prompt  # the conversation
    assert "ferns" not in prompt  # irrelevant passages are left out
    assert texts(events) == [
        "It takes up to five working days.",
        "Is there anything else I can help you with?",
    ]
    assert "action_send_text" in actions(events)
    assert flow_events(events) == [
        ("flow_started", "pattern_search"),
        ("flow_completed", "pattern_search"),
        ("flow_started", "pattern_completed"),
        ("flow_started", "pattern_collect_information"),
    ]


async def test_no_relevant_document_says_so(
    search_bot: SearchBot, llm_server: FakeLLMServer
) -> None:
    processor = search_bot()
    events = await send(processor, cmd.KnowledgeAnswer(), text="Who won the match yesterday?")
    assert llm_server.requests == []
    assert texts(events)[0] == NO_RELEVANT_ANSWER
    assert "utter_no_relevant_answer_found" in actions(events)


@pytest.mark.parametrize("failure", ["server error", "empty answer"])
async def test_a_failing_llm_gives_the_internal_error_response(
    search_bot: SearchBot, llm_server: FakeLLMServer, failure: str
) -> None:
    processor = search_bot()
    if failure == "server error":
        llm_server.then(status=500, body={"error": {"message": "overloaded"}})
    else:
        llm_server.then_answer("   ")
    events = await send(processor, cmd.KnowledgeAnswer(), text=QUESTION)
    assert texts(events)[0] == INTERNAL_ERROR
    assert "utter_internal_error_rasa" in actions(events)
    # The search frame is gone and the pattern has ended.
    assert stack_of(await processor.fetch_tracker("user"))[0][0] == "pattern_completed"


async def test_after_the_answer_the_interrupted_flow_is_offered(
    search_bot: SearchBot, llm_server: FakeLLMServer
) -> None:
    processor = search_bot()
    llm_server.then_answer("Five working days.")
    assert texts(await send(processor, cmd.StartFlow("register"))) == ["Your name?"]
    events = await send(processor, cmd.KnowledgeAnswer(), text=QUESTION)
    assert texts(events) == ["Five working days.", "Would you like to continue with register?"]
    events = await send(processor, cmd.SetSlot("continue_interrupted_flow_confirmation", True))
    assert texts(events) == ["Your name?"]
    assert [frame for frame, _ in stack_of(await processor.fetch_tracker("user"))] == [
        "register",
        "pattern_collect_information",
    ]


async def test_citations_name_the_source_files(
    search_bot: SearchBot, llm_server: FakeLLMServer
) -> None:
    processor = search_bot(citation_enabled=True, n_results=1)
    llm_server.then_answer("Five working days.")
    events = await send(processor, cmd.KnowledgeAnswer(), text=QUESTION)
    assert texts(events)[0] == "Five working days.\n\nSources: shipping.md"


async def test_a_project_prompt_template_and_top_k(
    search_bot: SearchBot, llm_server: FakeLLMServer
) -> None:
    template = "Q={{ user_message }}{% for doc in docs %}|{{ doc.metadata.source }}{% endfor %}"
    processor = search_bot(
        files={"search.jinja2": template}, prompt_template="search.jinja2", top_k=2
    )
    await send(processor, cmd.KnowledgeAnswer(), text="refund for unused items or express")
    assert prompts_sent(llm_server) == [
        "Q=refund for unused items or express|returns.txt|shipping.md"
    ]


async def test_the_vector_store_names_the_document_folder(
    search_bot: SearchBot, llm_server: FakeLLMServer
) -> None:
    processor = search_bot(vector_store={"type": "faiss", "source": "docs/care"})
    assert {p.source for p in policy_of(processor, EnterpriseSearchPolicy).documents.passages} == {
        "plants.md"
    }


@pytest.mark.parametrize("route", [None, False])
async def test_it_abstains_unless_the_conversation_is_routed_to_calm(
    search_bot: SearchBot, llm_server: FakeLLMServer, route: bool | None
) -> None:
    routed = DOMAIN.replace("slots:\n", "slots:\n  route_session_to_calm:\n    type: bool\n")
    processor = search_bot(domain=routed)
    domain = processor.assistant.domain
    policy = policy_of(processor, EnterpriseSearchPolicy)
    search_frame = '[{"op": "add", "path": "/0", "value": {"frame_id": "S", "type": "search"}}]'
    tracker = Tracker("t", domain.slots)
    tracker.update_many(
        [
            ev.SlotSet(name="route_session_to_calm", value=route),
            ev.UserUttered(text=QUESTION),
            ev.DialogueStackUpdated(update=search_frame),
        ]
    )
    abstained = await policy.predict_async(tracker, domain)
    tracker.update(ev.SlotSet(name="route_session_to_calm", value=True))
    answered = await policy.predict_async(tracker, domain)
    assert abstained.max_confidence == 0.0 and abstained.events == ()
    assert answered.max_confidence == 1.0
    assert len(llm_server.requests) == 1


# -- trained models -------------------------------------------------------------------------------


async def test_a_trained_model_answers_from_its_own_copy_of_the_documents(
    tmp_path: Path, llm_server: FakeLLMServer
) -> None:
    root = tmp_path / "project"
    write_docs(
        root,
        {
            **DOCS,
            "domain.yml": DOMAIN,
            "data/flows.yml": FLOWS,
            "config.yml": answer_config({EnterpriseSearchPolicy.name: {}}),
            "endpoints.yml": llm_endpoints(llm_server.api_base),
        },
    )
    models = tmp_path / "models"
    first = train(load_project(root), models, fixed_model_name="m")
    (root / "docs" / "returns.txt").write_text("Returns are free.", encoding="utf-8")
    assert not train(load_project(root), models, fixed_model_name="m").skipped
    shutil.rmtree(root / "docs")  # the model must not need the project's folder

    assistant = load_assistant(first.archive, load_endpoints(root / "endpoints.yml"))
    processor = MessageProcessor(assistant)
    llm_server.then_answer("Five working days.")
    try:
        events = await send(processor, cmd.KnowledgeAnswer(), text=QUESTION)
    finally:
        for component in assistant.closeables:
            await component.aclose()
    assert "Parcels to Canada arrive within five working days." in prompts_sent(llm_server)[0]
    assert texts(events)[0] == "Five working days."
