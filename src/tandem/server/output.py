"""Bot messages as channels deliver them.

A bot event's message (``text``, ``buttons``, ``quick_replies``, ``image``, ``attachment``,
``elements``, ``custom``) becomes one or more channel messages, in the reference's order:
text (with buttons or quick replies), custom, image, attachment, elements. Plain texts are
split on blank lines. Values of the wrong type (a bot event appended over the API may carry
anything) are skipped rather than failing the request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tandem.conversation.events import BotUttered


def rest_messages(recipient_id: str, bot_events: Iterable[BotUttered]) -> list[dict[str, Any]]:
    """The REST channel's (and the API's ``messages``) form: ``{"recipient_id", ...}``."""
    return [
        {"recipient_id": recipient_id, **part}
        for event in bot_events
        for part in rest_parts(event.message())
    ]


def rest_parts(message: dict[str, Any]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    text = message.get("text")
    text = text if isinstance(text, str) else None
    buttons = _list(message.get("quick_replies")) or _list(message.get("buttons"))
    if buttons:
        parts.append(
            {"text": text, "buttons": buttons} if text is not None else {"buttons": buttons}
        )
    elif text:
        parts.extend({"text": fragment} for fragment in _fragments(text))
    if message.get("custom") is not None:
        parts.append({"custom": message["custom"]})
    if message.get("image"):
        parts.append({"image": message["image"]})
    if message.get("attachment"):
        parts.append({"attachment": message["attachment"]})
    for element in _list(message.get("elements")):
        if isinstance(element, dict):
            title = f"{element.get('title', '')} : {element.get('subtitle', '')}"
            parts.append({"text": title, "buttons": _list(element.get("buttons"))})
    return parts


def socketio_payloads(message: dict[str, Any]) -> list[dict[str, Any]]:
    """What the socket.io channel emits as ``bot_uttered`` (custom payloads excepted, see
    ``socketio_custom``): the shapes web chat widgets render."""
    payloads: list[dict[str, Any]] = []
    text = message.get("text")
    text = text if isinstance(text, str) else ""
    buttons = _list(message.get("quick_replies")) or _list(message.get("buttons"))
    if buttons:
        fragments: list[dict[str, Any]] = [
            {"text": fragment, "quick_replies": []} for fragment in _fragments(text) or [""]
        ]
        fragments[-1]["quick_replies"] = [
            {
                "content_type": "text",
                "title": button.get("title"),
                "payload": button.get("payload", button.get("title")),
            }
            for button in buttons
            if isinstance(button, dict)
        ]
        payloads.extend(fragments)
    elif text:
        payloads.extend({"text": fragment} for fragment in _fragments(text))
    if message.get("image"):
        payloads.append({"attachment": {"type": "image", "payload": {"src": message["image"]}}})
    if message.get("attachment"):
        payloads.append({"attachment": message["attachment"]})
    for element in _list(message.get("elements")):
        payloads.append(
            {
                "attachment": {
                    "type": "template",
                    "payload": {"template_type": "generic", "elements": element},
                }
            }
        )
    return payloads


def socketio_custom(message: dict[str, Any]) -> Any:
    """The custom payload to emit: its ``data`` if it has one (the reference passes such a
    dict to ``emit`` as keyword arguments), else the dict itself."""
    custom = message.get("custom")
    if isinstance(custom, dict) and "data" in custom:
        return custom["data"]
    return custom


def _fragments(text: str) -> list[str]:
    return [part for part in text.strip().split("\n\n") if part]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
