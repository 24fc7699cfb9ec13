"""Custom actions on an action server that speaks the rasa-sdk protocol.

``ActionServerClient`` posts one action call and returns the validated reply;
``reply_events`` turns a reply into events; ``RemoteAction`` is the action that does both.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import ssl
import zlib
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import aiohttp
from yarl import URL

from tandem.actions.base import Action, ActionContext, ActionFailed, ActionRejected
from tandem.actions.responses import bot_event
from tandem.conversation.events import Event, SlotSet, is_known_event_name

if TYPE_CHECKING:
    from tandem.actions.responses import ResponseGenerator
    from tandem.conversation.tracker import Tracker
    from tandem.project.domain import Domain
    from tandem.project.endpoints import EndpointConfig

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 300.0  # seconds, for a whole request
# The reference version we report; rasa-sdk only warns when major.minor differ from its own.
PROTOCOL_VERSION = "3.21.0"
COMPRESS_ENV = "COMPRESS_ACTION_SERVER_REQUEST"
STATUS_MISSING_DOMAIN = 449


class ActionServerClient:
    """Calls actions on one action server, reusing one HTTP session until ``aclose``.

    ``compress`` deflates request bodies; by default it follows the environment variable
    ``COMPRESS_ACTION_SERVER_REQUEST`` as the reference does.
    """

    def __init__(
        self,
        endpoint: EndpointConfig,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        session: aiohttp.ClientSession | None = None,
        compress: bool | None = None,
    ) -> None:
        if not endpoint.url:
            raise ValueError("The action endpoint has no `url`.")
        self.endpoint = endpoint
        self.url = URL(endpoint.url)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._owns_session = session is None
        if compress is None:
            compress = os.environ.get(COMPRESS_ENV, "").strip().lower() == "true"
        self._compress = compress
        self._headers = {str(k): str(v) for k, v in (endpoint.headers or {}).items()}
        if endpoint.basic_auth:
            self._headers["Authorization"] = _basic_auth(endpoint.basic_auth)
        self._params = {str(k): str(v) for k, v in (endpoint.params or {}).items()}
        if endpoint.token:
            self._params[endpoint.token_name or "token"] = endpoint.token
        self._ssl: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=endpoint.cafile) if endpoint.cafile else True
        )
        self._domain_cache: tuple[Domain, dict[str, Any], str] | None = None

    async def call(self, action_name: str, tracker: Tracker, domain: Domain) -> dict[str, Any]:
        """Run ``action_name`` remotely; return the reply ``{"events": [...], "responses": [...]}``.

        Raises ``ActionRejected`` for HTTP 400 and ``ActionFailed`` for every other problem.
        """
        domain_dict, digest = self._domain_payload(domain)
        payload = {
            "next_action": action_name,
            "sender_id": tracker.sender_id,
            "tracker": tracker.current_state("ALL"),
            # Always sent, so every rasa-sdk generation accepts the call (it caches the domain).
            "domain": domain_dict,
            "domain_digest": digest,
            "version": PROTOCOL_VERSION,
        }
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if self._compress:
            body = zlib.compress(body)
            headers["Content-Encoding"] = "deflate"
        status, text = await self._send("POST", self.url, action_name, data=body, headers=headers)
        if status == STATUS_MISSING_DOMAIN:  # the server lost its cached domain: ask once more
            status, text = await self._send(
                "POST", self.url, action_name, data=body, headers=headers
            )
        return _reply(action_name, status, text)

    async def health(self) -> bool:
        """Whether the server answers ``GET /health`` with status ok."""
        try:
            status, text = await self._send("GET", self._sibling("health"), "health")
            return status == 200 and json.loads(text).get("status") == "ok"
        except (ActionFailed, ValueError, AttributeError):
            return False

    async def list_actions(self) -> list[str]:
        """The action names the server has registered (``GET /actions``)."""
        status, text = await self._send("GET", self._sibling("actions"), "actions")
        if status != 200:
            raise ActionFailed(f"The action server answered HTTP {status} to GET /actions.")
        try:
            return [item["name"] for item in json.loads(text)]
        except (ValueError, TypeError, KeyError) as error:
            raise ActionFailed(f"The action server sent an invalid action list: {error}") from None

    async def aclose(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    async def __aenter__(self) -> ActionServerClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- HTTP ---------------------------------------------------------------------------

    def _domain_payload(self, domain: Domain) -> tuple[dict[str, Any], str]:
        if self._domain_cache is None or self._domain_cache[0] is not domain:
            data = domain.as_dict()
            digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
            self._domain_cache = (domain, data, digest)
        return self._domain_cache[1], self._domain_cache[2]

    def _sibling(self, route: str) -> URL:
        """The server's other routes are siblings of the webhook (…/webhook -> …/health)."""
        return self.url.parent / route

    def _session_for_request(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self._owns_session = True
        return self._session

    async def _send(
        self,
        method: str,
        url: URL,
        what: str,
        *,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, str]:
        session = self._session_for_request()
        try:
            async with session.request(
                method,
                url,
                data=data,
                headers={**self._headers, **(headers or {})},
                params=self._params,
                ssl=self._ssl,
                timeout=self._timeout,
            ) as response:
                return response.status, await response.text()
        except TimeoutError:
            raise ActionFailed(
                f"The action server at {url} did not answer for '{what}' within "
                f"{self._timeout.total} seconds."
            ) from None
        except aiohttp.ClientError as error:
            raise ActionFailed(
                f"Cannot reach the action server at {url} for '{what}': {error}"
            ) from None


def _basic_auth(credentials: Mapping[str, Any]) -> str:
    pair = f"{credentials.get('username', '')}:{credentials.get('password', '')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def _reply(action_name: str, status: int, text: str) -> dict[str, Any]:
    """The validated reply of a call, or the exception its status and body stand for."""
    if status == 200:
        try:
            reply = json.loads(text)
        except ValueError:
            raise ActionFailed(
                f"The action server sent invalid JSON for '{action_name}': {text[:200]!r}"
            ) from None
        return _validated(action_name, reply)
    error = _error_message(text)
    if status == 400:
        raise ActionRejected(f"Custom action '{action_name}' rejected execution: {error}")
    if status == 404:
        raise ActionFailed(f"Custom action implementation with name '{action_name}' not found.")
    if status == STATUS_MISSING_DOMAIN:
        raise ActionFailed(f"The action server kept asking for the domain for '{action_name}'.")
    raise ActionFailed(
        f"Custom action '{action_name}' failed on the action server (HTTP {status}): {error}"
    )


def _error_message(text: str) -> str:
    try:
        body = json.loads(text)
    except ValueError:
        return text[:200]
    return str(body.get("error", body)) if isinstance(body, dict) else str(body)


def _validated(action_name: str, reply: Any) -> dict[str, Any]:
    """Check the reply's shape as the reference's schema does; any violation fails the action."""
    if reply is None:  # an action that returned nothing at all
        return {"events": [], "responses": []}

    def invalid(reason: str) -> ActionFailed:
        return ActionFailed(
            f"The action server sent an invalid reply for '{action_name}': {reason}"
        )

    if not isinstance(reply, dict):
        raise invalid("expected a JSON object")
    events = reply.get("events") or []
    responses = reply.get("responses") or []
    if not isinstance(events, list) or not isinstance(responses, list):
        raise invalid("'events' and 'responses' must be lists")
    for event in events:
        if not isinstance(event, dict) or not is_known_event_name(event.get("event")):
            name = event.get("event") if isinstance(event, dict) else event
            raise invalid(f"unknown event {name!r}")
        if event["event"] == "slot" and not {"name", "value"} <= event.keys():
            raise invalid(f"a 'slot' event needs 'name' and 'value': {event}")
    if not all(isinstance(item, dict) for item in responses):
        raise invalid("every response must be a JSON object")
    return {"events": events, "responses": responses}


def reply_events(
    reply: Mapping[str, Any], nlg: ResponseGenerator, tracker: Tracker, channel: str | None
) -> list[Event]:
    """The events of a reply: its messages as ``bot`` events first, then its events."""
    bots = [
        bot
        for item in reply["responses"]
        if (bot := _bot_event(item, nlg, tracker, channel)) is not None
    ]
    events = [Event.from_dict(payload) for payload in reply["events"]]
    return [*bots, *(_custom_filled(event) for event in events)]


def _bot_event(
    item: dict[str, Any], nlg: ResponseGenerator, tracker: Tracker, channel: str | None
) -> Event | None:
    name = item.get("response") or item.get("template")
    if not name:
        return bot_event(None, {k: v for k, v in item.items() if not _empty(v)})
    # The item's other keys are template values, e.g. utter_message(response=..., name="Ann").
    kwargs = {k: v for k, v in item.items() if k not in ("response", "template")}
    message = nlg.generate(name, tracker, channel, **kwargs)
    if message is None:
        log.error("Cannot utter response '%s' requested by a custom action; skipping it.", name)
        return None
    if item.get("buttons"):
        message["buttons"] = [*(message.get("buttons") or []), *item["buttons"]]
    return bot_event(name, message)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value)


def _custom_filled(event: Event) -> Event:
    if isinstance(event, SlotSet) and event.filled_by is None:
        return replace(event, filled_by="CUSTOM")
    return event


class RemoteAction(Action):
    """An action implemented on the action server (``context.action_server``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def run(self, tracker: Tracker, context: ActionContext) -> list[Event]:
        if context.action_server is None:
            raise ActionFailed(
                f"Cannot run custom action '{self.name}': no action endpoint is configured."
            )
        reply = await context.action_server.call(self.name, tracker, context.domain)
        return reply_events(reply, context.nlg, tracker, context.output_channel)
