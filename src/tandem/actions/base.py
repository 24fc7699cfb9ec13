"""What every action is: a name and an async ``run`` that returns events.

Actions never change the tracker themselves; the processor appends what they return. Two
exceptions tell the processor how a run went wrong, as the reference distinguishes them:
``ActionRejected`` (the action declines to run: only ``action_execution_rejected`` is logged
and other policies predict) and ``ActionFailed`` (any other error: the ``action`` event is
logged, the action's events are dropped).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tandem.project.flows.model import FlowsList

if TYPE_CHECKING:
    from tandem.actions.custom import ActionServerClient
    from tandem.actions.responses import ResponseGenerator
    from tandem.conversation.events import Event
    from tandem.conversation.tracker import Tracker
    from tandem.project.domain import Domain


class ActionRejected(Exception):
    """The action refuses to run now (form with nothing to validate, HTTP 400 from the server)."""


class ActionFailed(Exception):
    """The action could not run (server down, 404/5xx, timeout, invalid reply)."""


@dataclass(frozen=True)
class ActionContext:
    """What an action may use besides the tracker."""

    domain: Domain
    nlg: ResponseGenerator
    action_server: ActionServerClient | None = None
    output_channel: str | None = None
    # The project's flows (none for an NLU-only assistant).
    flows: FlowsList = field(default_factory=FlowsList)
    # What the predicting policy attached for this run (e.g. the text ``action_send_text``
    # sends for ``EnterpriseSearchPolicy``, the slots a ``flow_<id>`` action sets).
    action_metadata: Mapping[str, Any] = field(default_factory=dict)


class Action(ABC):
    name: str

    @abstractmethod
    async def run(self, tracker: Tracker, context: ActionContext) -> list[Event]:
        """Return the events this action produces for ``tracker``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
