"""FallbackClassifier: a low-confidence or ambiguous intent becomes ``nlu_fallback``."""

from __future__ import annotations

from typing import Any

from tandem.names import INTENT_NLU_FALLBACK
from tandem.nlu.component import Component, NluError
from tandem.nlu.message import Message


class FallbackClassifier(Component):
    name = "FallbackClassifier"
    defaults = {"threshold": 0.3, "ambiguity_threshold": 0.1}
    needs = frozenset({"intent"})
    provides = frozenset({"intent"})

    @classmethod
    def check(cls, options: dict[str, Any]) -> None:
        for key in ("threshold", "ambiguity_threshold"):
            if not 0.0 <= options[key] <= 1.0:
                raise NluError(f"{cls.name}: '{key}' must be between 0 and 1, got {options[key]}")

    def process(self, message: Message) -> None:
        if not self._should_fall_back(message):
            return
        fallback = {"name": INTENT_NLU_FALLBACK, "confidence": self.options["threshold"]}
        message.intent = fallback
        message.intent_ranking = [dict(fallback), *(message.intent_ranking or [])]

    def _should_fall_back(self, message: Message) -> bool:
        confidence = (message.intent or {}).get("confidence") or 0.0
        if confidence < self.options["threshold"]:
            return True
        ranking = message.intent_ranking or []
        return (
            len(ranking) >= 2
            and ranking[0]["confidence"] - ranking[1]["confidence"]
            < self.options["ambiguity_threshold"]
        )
