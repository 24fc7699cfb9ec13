"""The NLU pipeline: components in config order, trained together, parsing one text at a time."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from tandem.nlu import registry
from tandem.nlu.component import Component, NluError
from tandem.nlu.message import Message
from tandem.nlu.near_misses import near_miss_messages
from tandem.nlu.slash import parse_slash_message
from tandem.nlu.storage import Store
from tandem.project import config
from tandem.project.training_data import NluData

log = logging.getLogger(__name__)

# 2: intent models learn near misses and store their temperature; 3: and which of their
# feature blocks are dense; 4: entity taggers store CRFsuite model files.
_FORMAT = 4
_MANIFEST = "pipeline.json"

# What `rasa train` fills in for an empty `pipeline:`, as (name, options) pairs.
DEFAULT_PIPELINE: tuple[tuple[str, Mapping[str, Any]], ...] = tuple(
    (c["name"], {k: v for k, v in c.items() if k != "name"}) for c in config.DEFAULT_PIPELINE
)

# How to satisfy what a component needs, for the error message.
_PROVIDERS = {
    "tokens": "a tokenizer (WhitespaceTokenizer)",
    "features": "a featurizer (e.g. CountVectorsFeaturizer)",
    "intent": "an intent classifier (e.g. LogisticRegressionClassifier)",
    "spacy_doc": "SpacyNLP",
}


def build(components: Sequence[tuple[str, Mapping[str, Any]]], *, language: str) -> list[Component]:
    """Components from (name, options) in config order; raises NluError on the first config
    problem, with the index of the component at fault."""
    built: list[Component] = []
    available: set[str] = set()
    featurizers: set[str] = set()
    for index, (name, options) in enumerate(components):
        try:
            component = registry.create(name, options, language=language)
        except NluError as error:
            raise NluError(str(error), index) from None
        for need in sorted(component.needs - available):
            raise NluError(f"{name} needs {_PROVIDERS[need]} before it in the pipeline", index)
        for featurizer in component.options.get("featurizers") or ():
            if featurizer not in featurizers:
                raise NluError(
                    f"{name}: featurizer '{featurizer}' is not the name or alias of an earlier "
                    "featurizer",
                    index,
                )
        try:
            component.check_pipeline(built)
        except NluError as error:
            raise NluError(str(error), index) from None
        available |= component.provides
        if "features" in component.provides:
            featurizers.update({component.label, component.name})
        built.append(component)
    return built


class NluPipeline:
    def __init__(self, components: list[Component], *, language: str) -> None:
        self.components = components
        self.language = language
        # A component that does I/O (Duckling) makes parsing async; the others stay sync.
        self.needs_io = any(component.is_async for component in components)

    @classmethod
    def train(
        cls,
        components: Sequence[tuple[str, Mapping[str, Any]]],
        data: NluData,
        *,
        language: str = "en",
        on_component: Callable[[str], None] | None = None,
    ) -> NluPipeline:
        """Build and train; an empty ``components`` means the reference's default pipeline.
        ``on_component`` hears the label of each component as it starts to train."""
        if not components:
            log.info("no NLU pipeline configured; training the default pipeline")
            components = DEFAULT_PIPELINE
        built = build(components, language=language)
        messages = [Message(example.text, example=example) for example in data.examples]
        near_misses: list[Message] | None = None
        for index, component in enumerate(built):
            if on_component is not None:
                on_component(component.label)
            if not component.learns_rejection:
                component.train(messages, data)
                continue
            if near_misses is None:
                # Made once, after the tokenizer has split the examples, and featurized by the
                # components before this one as any message to parse would be. An embedding
                # among their features asks for blends too (see near_misses).
                embedded = any(f.dense for f in messages[0].features) if messages else False
                near_misses = near_miss_messages(messages, blends=embedded)
                for earlier in built[:index]:
                    earlier.process_many(near_misses)
            component.train(messages + near_misses, data)
        return cls(built, language=language)

    # -- parsing -------------------------------------------------------------------------------

    def parse(
        self,
        text: str,
        *,
        intents: Collection[str] | None = None,
        entities: Collection[str] | None = None,
    ) -> dict[str, Any]:
        """The parse result JSON of ``text``.

        ``intents``/``entities`` are the domain's names, used for slash messages
        (``/intent{...}``); None accepts any name.
        """
        if self.needs_io:
            raise RuntimeError("this pipeline calls a server (Duckling): use parse_async")
        if not text:
            return _empty(text)
        message = Message(text)
        for component in self.components:
            component.process(message)
        return _finish(message, intents, entities)

    async def parse_async(
        self,
        text: str,
        *,
        intents: Collection[str] | None = None,
        entities: Collection[str] | None = None,
    ) -> dict[str, Any]:
        """Like parse(), awaiting components that do I/O."""
        if not text:
            return _empty(text)
        message = Message(text)
        for component in self.components:
            await component.process_async(message)
        return _finish(message, intents, entities)

    # -- persistence ---------------------------------------------------------------------------

    def persist(self, directory: Path) -> None:
        """Write the trained pipeline as JSON, .npy and .crfsuite files into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        entries = []
        for index, component in enumerate(self.components):
            prefix = f"{index:02d}_{component.name}"
            component.persist(Store(directory, prefix))
            entries.append({"name": component.name, "options": component.config, "files": prefix})
        manifest = {"format": _FORMAT, "language": self.language, "components": entries}
        (directory / _MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> NluPipeline:
        """Read a persisted pipeline. Only Tandem's own component classes are ever built."""
        manifest = json.loads((directory / _MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("format") != _FORMAT:
            raise NluError(
                f"{directory}: NLU model format {manifest.get('format')!r} is not {_FORMAT}; "
                "train the model again with this version (`tandem train --force`)"
            )
        language = manifest["language"]
        components = build(
            [(c["name"], c["options"]) for c in manifest["components"]], language=language
        )
        for component, entry in zip(components, manifest["components"], strict=True):
            component.restore(Store(directory, entry["files"]))
        return cls(components, language=language)


def _empty(text: str) -> dict[str, Any]:
    return {"text": text, "intent": {"name": None, "confidence": 0.0}, "entities": []}


def _finish(
    message: Message, intents: Collection[str] | None, entities: Collection[str] | None
) -> dict[str, Any]:
    result = message.as_dict()
    _name_retrieval_intent(result)
    # The reference's RegexMessageHandler always runs after the configured components.
    slash = parse_slash_message(message.text, intents, entities)
    if slash is not None:
        result.update(slash)
    return result


def _name_retrieval_intent(result: dict[str, Any]) -> None:
    """For a retrieval intent (``faq``), add the full name the response selector chose."""
    selector = result.get("response_selector")
    intent = result["intent"]
    if not selector or intent.get("name") not in selector["all_retrieval_intents"]:
        return
    chosen = selector.get(intent["name"]) or selector.get("default")
    if chosen and chosen["response"]["intent_response_key"]:
        intent["full_retrieval_intent_name"] = chosen["response"]["intent_response_key"]
