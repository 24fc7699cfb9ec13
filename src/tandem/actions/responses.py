"""Domain responses: picking a variation, filling it in, and uttering it.

``ResponseGenerator.generate`` turns a response name into a bot message dict (``text``,
``buttons``, ``image``, ``custom``, ...). ``bot_event`` wraps such a message into the ``bot``
event the reference logs, and ``ResponseAction`` is the action every ``utter_*`` name runs.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

import jinja2

from tandem.actions.base import Action, ActionContext
from tandem.conversation.events import BotUttered, Event
from tandem.conversation.stack import stack_context as frames_context
from tandem.names import RESPONSE_PREFIX
from tandem.project.flows.conditions import Predicate

if TYPE_CHECKING:
    from tandem.conversation.tracker import Tracker
    from tandem.project.domain import Domain

log = logging.getLogger(__name__)

INTERNAL_ERROR_RESPONSE = "utter_internal_error_rasa"

# Keys of a message that a ``bot`` event carries under ``data``; the rest goes to ``metadata``.
BOT_DATA_KEYS = ("elements", "quick_replies", "buttons", "attachment", "image", "custom")
# Keys whose strings (recursively) are templated; ``elements`` is deliberately not among them.
TEMPLATED_KEYS = ("text", "image", "custom", "buttons", "attachment", "quick_replies")
# Keys that only select a variation and are not part of the message.
SELECTION_KEYS = ("condition", "channel")


def stack_context(tracker: Tracker) -> dict[str, Any]:
    """The dialogue stack's ``context`` for ``tracker``."""
    return frames_context(tracker.stack)


def bot_event(name: str | None, message: Mapping[str, Any]) -> BotUttered:
    """The ``bot`` event for ``message``; ``name`` (the response) becomes ``utter_action``."""
    metadata = {k: v for k, v in message.items() if k != "text" and k not in BOT_DATA_KEYS}
    if name is not None:
        metadata["utter_action"] = name
    return BotUttered(
        text=message.get("text"),
        data={key: message.get(key) for key in BOT_DATA_KEYS},
        metadata=metadata,
    )


class ResponseGenerator:
    """Renders domain responses. ``rng`` makes the choice among variations reproducible."""

    def __init__(self, domain: Domain, *, rng: random.Random | None = None) -> None:
        self.domain = domain
        self._rng = rng or random.Random()
        self._jinja = jinja2.Environment(autoescape=False)
        self._templates: dict[str, jinja2.Template] = {}

    def generate(
        self, name: str, tracker: Tracker, channel: str | None = None, /, **kwargs: Any
    ) -> dict[str, Any] | None:
        """The message for response ``name``, or ``None`` if there is nothing to say.

        ``kwargs`` are extra template values; they win over slot values of the same name.
        The other parameters are positional-only so that any name can be a template value
        (custom actions send e.g. ``name="Ann"``).
        """
        variations = self.domain.responses.get(name)
        if variations is None:
            log.debug("No response named '%s' in the domain.", name)
            return None
        slots = tracker.slots
        candidates = self._preferred(variations, slots, channel)
        if not candidates:
            if name != INTERNAL_ERROR_RESPONSE and INTERNAL_ERROR_RESPONSE in self.domain.responses:
                log.warning(
                    "No variation of '%s' applies; using '%s'.", name, INTERNAL_ERROR_RESPONSE
                )
                return self.generate(INTERNAL_ERROR_RESPONSE, tracker, channel, **kwargs)
            log.error("No variation of response '%s' applies to the current slots.", name)
            return None
        variation = self._rng.choice(candidates)
        return self._fill(variation, tracker, slots, kwargs)

    # -- choosing a variation ---------------------------------------------------------

    def _preferred(
        self,
        variations: tuple[Mapping[str, Any], ...],
        slots: Mapping[str, Any],
        channel: str | None,
    ) -> list[Mapping[str, Any]]:
        """The most specific non-empty group: conditional+channel, channel, conditional, default."""
        groups: tuple[list[Mapping[str, Any]], ...] = ([], [], [], [])
        for variation in variations:
            variation_channel = variation.get("channel")
            if variation_channel is not None and variation_channel != channel:
                continue
            condition = variation.get("condition")
            if condition and not self._condition_holds(condition, slots):
                continue
            generic = 2 if variation_channel is None else 0
            groups[generic + (0 if condition else 1)].append(variation)
        return next((group for group in groups if group), [])

    def _condition_holds(self, condition: Any, slots: Mapping[str, Any]) -> bool:
        if isinstance(condition, str):
            return self._predicate_holds(condition, slots)
        return all(_constraint_holds(constraint, slots) for constraint in condition)

    def _predicate_holds(self, condition: str, slots: Mapping[str, Any]) -> bool:
        try:
            text = self._template(condition).render(slots=slots)
            return bool(Predicate.parse(text).evaluate({"slots": dict(slots)}))
        except Exception:  # a broken condition disqualifies its variation, it must not crash a turn
            log.exception("Cannot evaluate response condition %r.", condition)
            return False

    # -- filling in -------------------------------------------------------------------

    def _fill(
        self,
        variation: Mapping[str, Any],
        tracker: Tracker,
        slots: Mapping[str, Any],
        kwargs: Mapping[str, Any],
    ) -> dict[str, Any]:
        render: Callable[[str], str]
        metadata = variation.get("metadata")
        if isinstance(metadata, Mapping) and metadata.get("template") == "jinja":
            render = partial(
                self._render_jinja, values={**slots, "context": stack_context(tracker), **kwargs}
            )
        else:
            render = partial(_format, values={**slots, **kwargs})
        message = {k: v for k, v in variation.items() if k not in SELECTION_KEYS}
        for key in TEMPLATED_KEYS:
            if key in message:
                message[key] = _render_all(message[key], render)
        return message

    def _render_jinja(self, text: str, values: Mapping[str, Any]) -> str:
        try:
            return self._template(text).render(values)
        except jinja2.TemplateError as error:
            log.error("Cannot render the template %r (%s); sending it unchanged.", text, error)
            return text

    def _template(self, text: str) -> jinja2.Template:
        template = self._templates.get(text)
        if template is None:
            template = self._templates[text] = self._jinja.from_string(text)
        return template


def _constraint_holds(constraint: Mapping[str, Any], slots: Mapping[str, Any]) -> bool:
    """One ``{type: slot, name, value}`` constraint; strings compare case-insensitively."""
    actual, expected = slots.get(str(constraint.get("name"))), constraint.get("value")
    if isinstance(actual, str) and isinstance(expected, str):
        return actual.lower() == expected.lower()
    return bool(actual == expected)


def _format(text: str, values: Mapping[str, Any]) -> str:
    """``str.format`` over ``values``; a text that cannot be filled in is sent unchanged."""
    try:
        return text.format_map(values)
    except (KeyError, IndexError, ValueError, AttributeError) as error:
        log.error("Cannot fill in the placeholders of %r (%s); sending it unchanged.", text, error)
        return text


def _render_all(value: Any, render: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return render(value)
    if isinstance(value, list):
        return [_render_all(item, render) for item in value]
    if isinstance(value, Mapping):
        return {key: _render_all(item, render) for key, item in value.items()}
    return value


def utter(name: str, tracker: Tracker, context: ActionContext) -> list[Event]:
    """The ``bot`` event of response ``name``; nothing if it is undefined or cannot be generated."""
    message = context.nlg.generate(name, tracker, context.output_channel)
    return [] if message is None else [bot_event(name, message)]


class ResponseAction(Action):
    """Utters a response. For a retrieval intent (``utter_faq`` with responses ``utter_faq/...``)
    it utters the response the response selector chose for the latest message.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    async def run(self, tracker: Tracker, context: ActionContext) -> list[Event]:
        if self.name in context.domain.responses:
            return utter(self.name, tracker, context)
        selected = _selected_response(self.name, tracker)
        return [] if selected is None else utter(selected, tracker, context)


def _selected_response(name: str, tracker: Tracker) -> str | None:
    selector = tracker.latest_message_dict().get("response_selector") or {}
    intent = name.removeprefix(RESPONSE_PREFIX)
    output = selector.get(intent) or selector.get("default") or {}
    selected = (output.get("response") or {}).get("utter_action")
    if selected is None:
        log.debug("The response selector chose nothing for '%s'.", name)
    return selected
