"""DucklingEntityExtractor: dates, numbers, amounts... from a Duckling HTTP server.

Each parse POSTs the text to ``<url>/parse``. A server that is missing, down or slow is
logged once (until it answers again) and yields no entities: NLU keeps working without it.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import aiohttp

from tandem.nlu.component import Component, NluError
from tandem.nlu.message import Message

log = logging.getLogger(__name__)

URL_VARIABLE = "RASA_DUCKLING_HTTP_URL"  # the reference's way to set the URL per deployment


class DucklingEntityExtractor(Component):
    name = "DucklingEntityExtractor"
    defaults = {
        "url": None,
        "dimensions": None,  # None = every dimension Duckling finds
        "timezone": None,
        "locale": None,  # None = "<language>_<LANGUAGE>", e.g. en_EN (Duckling picks the region)
        "timeout": 3,
    }
    types = {
        "url": (str, type(None)),
        "dimensions": (list, type(None)),
        "timezone": (str, type(None)),
        "locale": (str, type(None)),
        "timeout": (int, float),
    }
    provides = frozenset({"entities"})
    is_async = True

    def __init__(self, options: dict[str, Any], *, language: str) -> None:
        super().__init__(options, language=language)
        self.url = (os.environ.get(URL_VARIABLE) or self.options["url"] or "").rstrip("/")
        if not self.url:
            raise NluError(f"{self.name}: set 'url' (or {URL_VARIABLE}) to the Duckling server")
        self.locale = self.options["locale"] or f"{language}_{language.upper()}"
        self._reported_down = False

    @classmethod
    def check(cls, options: dict[str, Any]) -> None:
        if options["timeout"] <= 0:
            raise NluError(f"{cls.name}: 'timeout' must be positive")

    def process(self, message: Message) -> None:
        raise RuntimeError(f"{self.name} does I/O; parse with parse_async")

    async def process_async(self, message: Message) -> None:
        matches = await self._request(message.text)
        dimensions = self.options["dimensions"]
        for match in matches:
            if dimensions is None or match.get("dim") in dimensions:
                message.entities.append(self._entity(match))

    async def _request(self, text: str) -> list[dict[str, Any]]:
        form = {"text": text, "locale": self.locale, "reftime": str(int(time.time() * 1000))}
        if self.options["timezone"]:
            form["tz"] = self.options["timezone"]
        timeout = aiohttp.ClientTimeout(total=self.options["timeout"])
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(f"{self.url}/parse", data=form) as response,
            ):
                response.raise_for_status()
                matches = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            if not self._reported_down:
                log.error(
                    "%s: Duckling at %s failed (%s); no Duckling entities",
                    self.label,
                    self.url,
                    error,
                )
                self._reported_down = True
            return []
        self._reported_down = False
        return matches if isinstance(matches, list) else []

    def _entity(self, match: dict[str, Any]) -> dict[str, Any]:
        value = match.get("value") or {}
        if "value" in value:
            entity_value = value["value"]
        else:  # an interval: {"from": {...}, "to": {...}}
            entity_value = {
                k: value[k].get("value") for k in ("from", "to") if isinstance(value.get(k), dict)
            }
        return {
            "entity": match.get("dim"),
            "start": match.get("start"),
            "end": match.get("end"),
            "text": match.get("body"),
            "value": entity_value,
            "confidence": 1.0,
            "additional_info": value,
            "extractor": self.name,
        }
