"""The conversation as LLM prompts show it: ``USER:`` and ``AI:`` lines of the current session.

Command generators, document search and chitchat all show the model the same view, so a
project's prompt templates can rely on one format.
"""

from __future__ import annotations

from tandem.conversation import commands as cmd
from tandem.conversation import events as ev
from tandem.conversation.tracker import Tracker

MAX_TRANSCRIPT_LINES = 20
# Shown instead of a message the engine refused (too long or empty), which the model never saw.
INPUT_ERROR_PLACEHOLDER = "[message too long or empty]"


def transcript(
    tracker: Tracker,
    *,
    max_lines: int = MAX_TRANSCRIPT_LINES,
    pending_message: str | None = None,
) -> str:
    """The session's last ``max_lines`` user and bot utterances, oldest first.

    ``pending_message`` is a message being parsed, not in the tracker yet; it becomes the last
    line (on top of the ``max_lines``).
    """
    lines: list[str] = []
    for event in reversed(tracker.events):
        if len(lines) >= max_lines or isinstance(event, (ev.SessionStarted, ev.Restarted)):
            break
        if isinstance(event, ev.UserUttered):
            lines.append(f"USER: {_user_text(event)}")
        elif isinstance(event, ev.BotUttered) and event.text:
            lines.append(f"AI: {_one_line(event.text)}")
    lines.reverse()
    if pending_message is not None:
        lines.append(f"USER: {pending_message}")
    return "\n".join(lines)


def _user_text(event: ev.UserUttered) -> str:
    commands = cmd.commands_from_dicts(event.parse_data.get("commands", []))
    if any(
        isinstance(c, cmd.Error) and c.error_type != cmd.INTERNAL_ERROR_DEFAULT for c in commands
    ):
        return INPUT_ERROR_PLACEHOLDER
    return _one_line(event.text or "")


def _one_line(text: str) -> str:
    return text.replace("\n", " ")
