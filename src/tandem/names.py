"""Reserved names of the reference's wire protocol: default actions, intents and slots."""

from __future__ import annotations

ACTION_LISTEN = "action_listen"
ACTION_RESTART = "action_restart"
ACTION_SESSION_START = "action_session_start"
ACTION_DEFAULT_FALLBACK = "action_default_fallback"
ACTION_DEACTIVATE_LOOP = "action_deactivate_loop"
ACTION_REVERT_FALLBACK_EVENTS = "action_revert_fallback_events"
ACTION_DEFAULT_ASK_AFFIRMATION = "action_default_ask_affirmation"
ACTION_DEFAULT_ASK_REPHRASE = "action_default_ask_rephrase"
ACTION_TWO_STAGE_FALLBACK = "action_two_stage_fallback"
ACTION_UNLIKELY_INTENT = "action_unlikely_intent"
ACTION_BACK = "action_back"
RULE_SNIPPET_ACTION = "..."
ACTION_EXTRACT_SLOTS = "action_extract_slots"
ACTION_SEND_TEXT = "action_send_text"
ACTION_VALIDATE_SLOT_MAPPINGS = "action_validate_slot_mappings"

# A flow's first and last step ids, and the prefix of a ``next`` that names a step id.
START = "START"
END = "END"
NEXT_PREFIX = "NEXT:"

# CALM / coexistence defaults.
ACTION_RESET_ROUTING = "action_reset_routing"
ACTION_CANCEL_FLOW = "action_cancel_flow"
ACTION_CORRECT_FLOW_SLOT = "action_correct_flow_slot"
ACTION_CLARIFY_FLOWS = "action_clarify_flows"
ACTION_RUN_SLOT_REJECTIONS = "action_run_slot_rejections"
ACTION_CLEAN_STACK = "action_clean_stack"
ACTION_TRIGGER_SEARCH = "action_trigger_search"
ACTION_TRIGGER_CHITCHAT = "action_trigger_chitchat"
ACTION_HANGUP = "action_hangup"
ACTION_HANDOFF_METRIC = "action_handoff_metric"
ACTION_REPEAT_BOT_MESSAGES = "action_repeat_bot_messages"
ACTION_DEFAULT_CAPABILITIES = "action_default_capabilities"
ACTION_CONTINUE_INTERRUPTED_FLOW = "action_continue_interrupted_flow"
ACTION_CANCEL_INTERRUPTED_FLOWS = "action_cancel_interrupted_flows"

# The fixed order of default actions at the start of every action index.
DEFAULT_ACTIONS: tuple[str, ...] = (
    ACTION_LISTEN,
    ACTION_RESTART,
    ACTION_SESSION_START,
    ACTION_DEFAULT_FALLBACK,
    ACTION_DEACTIVATE_LOOP,
    ACTION_REVERT_FALLBACK_EVENTS,
    ACTION_DEFAULT_ASK_AFFIRMATION,
    ACTION_DEFAULT_ASK_REPHRASE,
    ACTION_TWO_STAGE_FALLBACK,
    ACTION_UNLIKELY_INTENT,
    ACTION_BACK,
    ACTION_SEND_TEXT,
    RULE_SNIPPET_ACTION,
    ACTION_EXTRACT_SLOTS,
    ACTION_RESET_ROUTING,
    ACTION_CANCEL_FLOW,
    ACTION_CORRECT_FLOW_SLOT,
    ACTION_CLARIFY_FLOWS,
    ACTION_RUN_SLOT_REJECTIONS,
    ACTION_CLEAN_STACK,
    ACTION_TRIGGER_SEARCH,
    ACTION_TRIGGER_CHITCHAT,
    ACTION_HANGUP,
    ACTION_HANDOFF_METRIC,
    ACTION_REPEAT_BOT_MESSAGES,
    ACTION_DEFAULT_CAPABILITIES,
    ACTION_CONTINUE_INTERRUPTED_FLOW,
    ACTION_CANCEL_INTERRUPTED_FLOWS,
)

# Intents every domain has.
INTENT_RESTART = "restart"
INTENT_BACK = "back"
INTENT_OUT_OF_SCOPE = "out_of_scope"
INTENT_SESSION_START = "session_start"
INTENT_SESSION_END = "session_end"
INTENT_SILENCE_TIMEOUT = "silence_timeout"
INTENT_NLU_FALLBACK = "nlu_fallback"
DEFAULT_INTENTS: tuple[str, ...] = (
    INTENT_RESTART,
    INTENT_BACK,
    INTENT_OUT_OF_SCOPE,
    INTENT_SESSION_START,
    INTENT_SESSION_END,
    INTENT_SILENCE_TIMEOUT,
    INTENT_NLU_FALLBACK,
)

# Slots added by the runtime.
SLOT_REQUESTED = "requested_slot"
SLOT_SESSION_STARTED_METADATA = "session_started_metadata"
SLOT_FLOW_HASHES = "flow_hashes"
SLOT_MOCKED_DATETIME = "mocked_datetime"
ROUTING_SLOT = "route_session_to_calm"

# Prefixes with a meaning.
RESPONSE_PREFIX = "utter_"
ASK_RESPONSE_PREFIX = "utter_ask_"
ASK_ACTION_PREFIX = "action_ask_"
VALIDATE_PREFIX = "validate_"
FLOW_ACTION_PREFIX = "flow_"
PATTERN_PREFIX = "pattern_"

UNSET_TEMPLATE_VALUE = "None"  # how an unset slot renders in a ``{slot}`` template
