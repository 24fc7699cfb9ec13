"""Flow retrieval: which flows a command prompt offers when there are many.

Ranking is tested on the retriever itself; what reaches the prompt is read back from the
requests the scripted LLM server received.
"""

from __future__ import annotations

import pytest

from tandem.calm.flow_retrieval import FlowRetriever
from tandem.conversation import commands as cmd
from tandem.conversation.tracker import Tracker

from .calm_testkit import INPUTS_TEMPLATE, LLMProcessors, inputs_sent, offered_flows, say, send
from .test_cleaning import flows_of

# Thirty flows of a bank and travel assistant: id -> description.
DESCRIPTIONS = {
    "transfer_money": "Send money from your account to a friend or family member.",
    "check_balance": "Show the current balance of a bank account.",
    "block_card": "Freeze or block a debit or credit card that was lost or stolen.",
    "order_card": "Order a new debit card or a replacement credit card.",
    "activate_card": "Activate a card that arrived in the post.",
    "change_pin": "Change the PIN code of a card.",
    "dispute_charge": "Dispute a charge or payment you do not recognise on your statement.",
    "open_account": "Open a new savings or checking account.",
    "close_account": "Close an existing bank account for good.",
    "update_address": "Change the postal address on your profile after moving house.",
    "update_phone": "Change the phone number on your profile.",
    "book_flight": "Book a plane ticket to a destination.",
    "cancel_flight": "Cancel a booked plane ticket and ask for a refund.",
    "book_hotel": "Reserve a hotel room for some nights.",
    "rent_car": "Rent a car for a trip.",
    "travel_insurance": "Buy insurance cover for a trip abroad.",
    "exchange_currency": "Exchange euros, dollars or other foreign currency.",
    "apply_loan": "Apply for a personal loan or a mortgage.",
    "loan_status": "Check how far a loan application has got.",
    "set_budget": "Set a monthly spending budget with alerts.",
    "pay_bill": "Pay an electricity, water or phone bill.",
    "schedule_payment": "Schedule a standing order that repeats every month.",
    "find_atm": "Find the nearest cash machine.",
    "branch_hours": "Tell the opening hours of a branch office.",
    "talk_to_human": "Connect the user with a human support agent.",
    "download_statement": "Download a monthly account statement as a PDF.",
    "tax_documents": "Get the yearly tax documents of your investments.",
    "invest_stocks": "Buy or sell shares and funds in the investment portfolio.",
    "savings_goal": "Create a savings goal for a holiday or a new house.",
    "report_fraud": "Report a suspicious message, call or fraud attempt.",
}
EXTRA_FLOWS = """\
  greet_user:
    description: Welcome the user.
    always_include_in_prompt: true
    steps:
      - action: utter_done
  verify_identity:
    if: False
    description: Block the stolen card after checking who the user is.
    steps:
      - action: utter_done
  vip_concierge:
    if: slots.is_vip
    description: A personal concierge blocks a lost or stolen card for VIP customers.
    steps:
      - action: utter_done
"""


def flows_yaml(extra: str = "") -> str:
    """The thirty flows (each uttering ``utter_done``), then ``extra`` flows."""
    entries = "".join(
        f"  {flow_id}:\n    description: {description}\n    steps:\n      - action: utter_done\n"
        for flow_id, description in DESCRIPTIONS.items()
    )
    return "flows:\n" + entries + extra


def domain_yaml(is_vip: bool = False) -> str:
    return f"""\
version: "3.1"
slots:
  is_vip:
    type: bool
    initial_value: {str(is_vip).lower()}
responses:
  utter_done:
    - text: "Done."
"""


FLOWS = flows_of(flows_yaml(EXTRA_FLOWS))
STOLEN_CARD = "my card was stolen, please block it"


def retriever(**options) -> FlowRetriever:
    return FlowRetriever.from_options(options, FLOWS, None)


# -- ranking --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "best"),
    [
        (STOLEN_CARD, "block_card"),
        ("I'd like a new pin for my card", "change_pin"),
        ("where can I get cash nearby", "find_atm"),
        ("reserve a room in a hotel in Rome", "book_hotel"),
        ("I moved house, please update my address", "update_address"),
    ],
)
async def test_tf_idf_ranks_the_relevant_flow_first(query, best):
    assert (await retriever().rank(query))[0] == best


async def test_link_only_flows_are_never_ranked():
    ranked = await retriever().rank("block the stolen card after checking who the user is")

    assert "verify_identity" not in ranked
    assert len(ranked) == len(DESCRIPTIONS) + 2  # the thirty, greet_user and vip_concierge


async def test_num_flows_limits_the_ranked_candidates():
    tracker = Tracker("user")
    available = list(FLOWS.user_flows)

    chosen = await retriever(num_flows=3).select(STOLEN_CARD, tracker, available, set())

    # The three best, and greet_user, which is always included.
    assert len(chosen) == 4
    assert {"block_card", "greet_user"} <= chosen
    assert len(await retriever().select(STOLEN_CARD, tracker, available, set())) == 21


# -- what the prompt offers -----------------------------------------------------------------------


@pytest.fixture
async def make_processor(tmp_path, llm_server):
    processors = LLMProcessors(tmp_path, llm_server.api_base)
    yield processors
    await processors.aclose()


async def flows_offered_for(processor, llm_server, text: str) -> list[str]:
    """The flows the prompt for ``text`` offers (the LLM's answer is not understood)."""
    llm_server.then_answer("I do not know.")
    await say(processor, text)
    return offered_flows(inputs_sent(llm_server)[-1])


async def test_the_prompt_offers_the_best_flows_and_those_always_included(
    make_processor, llm_server
):
    processor = make_processor(
        domain_yaml(),
        flows_yaml(EXTRA_FLOWS),
        template=INPUTS_TEMPLATE,
        flow_retrieval={"num_flows": 2},
    )

    assert (await retriever().rank(STOLEN_CARD))[:2] == ["block_card", "vip_concierge"]

    offered = await flows_offered_for(processor, llm_server, STOLEN_CARD)

    # The best flow and greet_user; not vip_concierge, whose guard is false, and never the
    # link-only verify_identity.
    assert offered == ["block_card", "greet_user"]


async def test_flows_started_earlier_stay_in_the_prompt(make_processor, llm_server):
    processor = make_processor(
        domain_yaml(),
        flows_yaml(),
        template=INPUTS_TEMPLATE,
        flow_retrieval={"num_flows": 1},
    )
    await send(processor, cmd.StartFlow("book_hotel"))  # runs to its end

    assert await flows_offered_for(processor, llm_server, STOLEN_CARD) == [
        "block_card",
        "book_hotel",
    ]


@pytest.mark.parametrize(("is_vip", "offered"), [(False, False), (True, True)])
async def test_guarded_flows_are_offered_only_while_their_guard_holds(
    make_processor, llm_server, is_vip, offered
):
    processor = make_processor(
        domain_yaml(is_vip),
        flows_yaml(EXTRA_FLOWS),
        template=INPUTS_TEMPLATE,
        flow_retrieval={"num_flows": 3},
    )

    flows = await flows_offered_for(processor, llm_server, "a concierge for VIP customers")

    assert ("vip_concierge" in flows) is offered


async def test_without_retrieval_every_startable_flow_is_offered(make_processor, llm_server):
    processor = make_processor(
        domain_yaml(),
        flows_yaml(EXTRA_FLOWS),
        template=INPUTS_TEMPLATE,
        flow_retrieval={"active": False, "num_flows": 1},
    )

    offered = await flows_offered_for(processor, llm_server, STOLEN_CARD)

    assert offered == [*DESCRIPTIONS, "greet_user"]


def embeddings_reply(*vectors: list[float]) -> dict:
    return {
        "data": [{"index": i, "embedding": vector} for i, vector in enumerate(vectors)],
        "model": "scripted-embeddings",
    }


async def test_an_embeddings_model_ranks_by_its_vectors(make_processor, llm_server):
    embeddings = {
        "provider": "openai",
        "model": "scripted-embeddings",
        "api_base": llm_server.api_base,
        "api_key": "sk-test",
    }
    processor = make_processor(
        domain_yaml(),
        flows_yaml(),
        template=INPUTS_TEMPLATE,
        flow_retrieval={"embeddings": embeddings, "num_flows": 1},
    )
    # The flows' documents: only find_atm points the way the query will.
    flow_ids = list(DESCRIPTIONS)
    vectors = [[1.0, 0.0] if flow_id == "find_atm" else [0.0, 1.0] for flow_id in flow_ids]
    llm_server.then(body=embeddings_reply(*vectors))
    llm_server.then(body=embeddings_reply([0.9, 0.1]))  # the query

    # The words of the message point at block_card; the vectors win.
    assert await flows_offered_for(processor, llm_server, STOLEN_CARD) == ["find_atm"]

    documents, query = (seen.body for seen in llm_server.requests[:2])
    assert [seen.path for seen in llm_server.requests] == [
        "/v1/embeddings",
        "/v1/embeddings",
        "/v1/chat/completions",
    ]
    assert documents["model"] == "scripted-embeddings"
    assert [text.split(":")[0] for text in documents["input"]] == flow_ids
    assert documents["input"][flow_ids.index("find_atm")].startswith(
        "find_atm: Find the nearest cash machine."
    )
    assert query["input"] == [STOLEN_CARD]

    # The flows' vectors are kept: the next message embeds only itself.
    llm_server.then(body=embeddings_reply([0.0, 1.0]))
    await flows_offered_for(processor, llm_server, "hello")
    assert [seen.path for seen in llm_server.requests[3:]] == [
        "/v1/embeddings",
        "/v1/chat/completions",
    ]
