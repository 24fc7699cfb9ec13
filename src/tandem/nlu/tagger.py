"""Entity tagging with CRFs: one for entity types, and one each for roles and groups.

The role and group taggers see the entity type of each token as an extra feature (the gold
type in training, the predicted one when parsing), so "from [Berlin] to [Paris]" can learn
that the city after "to" is the destination.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from tandem.nlu import bilou
from tandem.nlu.crf import LinearChainCrf
from tandem.nlu.message import Message
from tandem.nlu.storage import Store
from tandem.nlu.token_features import TOKEN_VALUES, positions
from tandem.project.training_data import EntityAnnotation, NluExample

logger = logging.getLogger(__name__)

_VALUES = {**TOKEN_VALUES, "low": str.lower}
# `text_dense_features` adds each token's dense features (spaCy's vectors, a language model's
# embeddings) of the tagged token, as the reference does; see EntityTagger.token_features.
FEATURE_NAMES = (*_VALUES, "bias", "pattern", "text_dense_features", "pos", "pos2")
DEFAULT_FEATURES = [
    ["low", "title", "upper"],
    [
        "low",
        "bias",
        "prefix5",
        "prefix2",
        "suffix5",
        "suffix3",
        "suffix2",
        "upper",
        "title",
        "digit",
        "pattern",
        "text_dense_features",
    ],
    ["low", "title", "upper"],
]
LAYERS = ("entity", "role", "group")


def _values(name: str, offset: int, text: str, patterns: frozenset[str]) -> list[str]:
    """The attributes a feature name gives a token seen at ``offset`` from the tagged one."""
    if name == "bias":
        return [f"{offset}:bias"]
    if name == "pattern":
        return [f"{offset}:pattern:{p}" for p in sorted(patterns)]
    if name not in _VALUES:
        return []  # text_dense_features
    value = _VALUES[name](text)
    if isinstance(value, bool):
        return [f"{offset}:{name}"] if value else []
    return [f"{offset}:{name}:{value}"]


class EntityTagger:
    def __init__(
        self,
        *,
        extractor: str,
        features: list[list[str]],
        bilou_flag: bool,
        split_by_comma: bool | Mapping[str, bool],
        max_iter: int,
        l1: float,
        l2: float,
        token_features: Literal["none", "dense", "all"] = "none",
        origins: frozenset[str] | None = None,
    ) -> None:
        self.extractor = extractor  # the component name reported in each entity
        self.features = features
        self.bilou = bilou_flag
        self.split_by_comma = split_by_comma
        self.max_iter = max_iter
        self.l1 = l1
        self.l2 = l2
        # Which of the featurizers' token features to add (DIET: all; CRFEntityExtractor: the
        # dense ones, with `text_dense_features`), and whose (None = every featurizer's).
        self.token_features = token_features
        self.origins = origins
        self.vocabulary: dict[str, int] = {}
        self.layers: dict[str, tuple[list[str], LinearChainCrf]] = {}

    # -- features ------------------------------------------------------------------------------

    def _attributes(self, message: Message) -> list[list[str]]:
        """Each token's attribute names (the `features` option at each window offset)."""
        texts = [token.text for token in message.tokens or ()]
        patterns = message.patterns or [frozenset()] * len(texts)
        result = []
        for i in range(len(texts)):
            attributes = []
            for offset, j, names in positions(self.features, i, len(texts)):
                if j is None:
                    attributes.append(f"{offset}:{'BOS' if offset < 0 else 'EOS'}")
                    continue
                for name in names:
                    attributes.extend(_values(name, offset, texts[j], patterns[j]))
            result.append(attributes)
        return result

    def _matrix(
        self,
        message: Message,
        attributes: list[list[str]],
        entity_tags: list[str] | None = None,
    ) -> sp.csr_matrix:
        """The layer's input: the tokens' ``attributes`` (with each token's entity tag, for the
        role and group layers) as one CSR matrix, plus the featurizers' token features.

        Built from its index arrays: stacking one sparse row per token cost more than training
        and tagging together."""
        columns: list[int] = []
        ends = [0]
        for i, token_attributes in enumerate(attributes):
            names = (
                token_attributes
                if entity_tags is None
                else [*token_attributes, _entity_attribute(entity_tags[i])]
            )
            known = {c for a in names if (c := self.vocabulary.get(a)) is not None}
            columns.extend(sorted(known))
            ends.append(len(columns))
        matrix = sp.csr_matrix(
            (
                np.ones(len(columns), dtype=np.float32),
                np.asarray(columns, dtype=np.int32),
                np.asarray(ends, dtype=np.int32),
            ),
            shape=(len(ends) - 1, len(self.vocabulary)),
        )
        if self.token_features == "none":
            return matrix
        extra = [
            f.sequence
            for f in message.features_from(self.origins)
            if f.dense or self.token_features == "all"
        ]
        return sp.hstack([matrix, *extra], format="csr") if extra else matrix

    # -- training ------------------------------------------------------------------------------

    def fit(self, messages: list[Message]) -> None:
        annotated = [(m, m.example) for m in messages if m.example is not None and m.tokens]
        if not any(example.entities for _, example in annotated):
            logger.warning(
                "%s: the training data has no entities; it will extract nothing", self.extractor
            )
            return
        targets = {
            layer: [self._spans(m, example.entities, layer) for m, example in annotated]
            for layer in LAYERS
        }
        sizes = [len(m.tokens or ()) for m, _ in annotated]
        entity_tags = [
            bilou.encode(n, spans, bilou=False)
            for n, spans in zip(sizes, targets["entity"], strict=True)
        ]
        attributes = [self._attributes(m) for m, _ in annotated]
        names = {a for per_message in attributes for token in per_message for a in token}
        names.update(_entity_attribute(tag) for tags in entity_tags for tag in tags)
        self.vocabulary = {a: i for i, a in enumerate(sorted(names))}
        for layer in LAYERS:
            if any(targets[layer]):
                self.layers[layer] = self._fit_layer(
                    layer, annotated, attributes, sizes, targets[layer], entity_tags
                )

    def _fit_layer(
        self,
        layer: str,
        annotated: list[tuple[Message, NluExample]],
        attributes: list[list[list[str]]],
        sizes: list[int],
        spans: list[list[bilou.Span]],
        entity_tags: list[list[str]],
    ) -> tuple[list[str], LinearChainCrf]:
        use_bilou = self.bilou and layer == "entity"
        tags = [bilou.encode(n, s, use_bilou) for n, s in zip(sizes, spans, strict=True)]
        labels = sorted({t for seq in tags for t in seq} | {bilou.OUTSIDE})
        index = {label: k for k, label in enumerate(labels)}
        inputs = [
            self._matrix(m, a, None if layer == "entity" else et)
            for (m, _), a, et in zip(annotated, attributes, entity_tags, strict=True)
        ]
        crf = LinearChainCrf(inputs[0].shape[1], len(labels))
        crf.fit(
            inputs,
            [np.array([index[t] for t in seq]) for seq in tags],
            l1=self.l1,
            l2=self.l2,
            max_iter=self.max_iter,
        )
        return labels, crf

    def _spans(
        self, message: Message, annotations: Sequence[EntityAnnotation], layer: str
    ) -> list[bilou.Span]:
        spans = []
        tokens = message.tokens or []
        for annotation in annotations:
            label = getattr(annotation, layer)
            if label is None:
                continue
            covered = bilou.covered_tokens(tokens, annotation.start, annotation.end)
            edges = (tokens[covered[0]].start, tokens[covered[-1]].end) if covered else None
            if edges != (annotation.start, annotation.end):
                _warn_misaligned(self.extractor, message, annotation, covered)
            if not covered:
                continue
            spans.append(bilou.Span(covered[0], covered[-1], label))
        return spans

    # -- extraction ----------------------------------------------------------------------------

    def extract(self, message: Message) -> list[dict[str, Any]]:
        if "entity" not in self.layers or not message.tokens:
            return []
        labels, crf = self.layers["entity"]
        attributes = self._attributes(message)
        path, marginals = crf.predict(self._matrix(message, attributes))
        tags = [labels[k] for k in path]
        spans = bilou.decode(tags, message.tokens, message.text, self.bilou, self._splits_at_comma)
        tokens = message.tokens
        entities = []
        plain_tags = bilou.encode(len(tokens), spans, bilou=False)
        extra = {
            layer: self.layers[layer][1].predict(self._matrix(message, attributes, plain_tags))[1]
            for layer in ("role", "group")
            if layer in self.layers
        }
        for span in spans:
            start, end = tokens[span.first].start, tokens[span.last].end
            entity: dict[str, Any] = {
                "entity": span.label,
                "start": start,
                "end": end,
                # An entity is only as certain as its least certain token.
                "confidence_entity": float(
                    min(marginals[i, path[i]] for i in range(span.first, span.last + 1))
                ),
            }
            for layer, layer_marginals in extra.items():
                layer_labels = self.layers[layer][0]
                mean = layer_marginals[span.first : span.last + 1].mean(axis=0)
                best = int(mean.argmax())
                if layer_labels[best] != bilou.OUTSIDE:
                    entity[layer] = layer_labels[best]
                    entity[f"confidence_{layer}"] = float(mean[best])
            entity["value"] = message.text[start:end]
            entity["extractor"] = self.extractor
            entities.append(entity)
        return entities

    def _splits_at_comma(self, label: str) -> bool:
        if isinstance(self.split_by_comma, bool):
            return self.split_by_comma
        return bool(self.split_by_comma.get(label, True))

    # -- persistence ---------------------------------------------------------------------------

    def persist(self, store: Store) -> None:
        store.write_vocabulary("attributes", self.vocabulary)
        store.write_json("layers", {layer: labels for layer, (labels, _) in self.layers.items()})
        for layer, (_, crf) in self.layers.items():
            store.write_array(f"{layer}.emissions", crf.emissions)
            store.write_array(f"{layer}.transitions", crf.transitions)

    def restore(self, store: Store) -> None:
        self.vocabulary = store.read_vocabulary("attributes")
        self.layers = {}
        for layer, labels in store.read_json("layers").items():
            crf = LinearChainCrf(0, len(labels))
            crf.emissions = store.read_array(f"{layer}.emissions")
            crf.transitions = store.read_array(f"{layer}.transitions")
            self.layers[layer] = (labels, crf)


def _entity_attribute(tag: str) -> str:
    """The attribute that tells the role and group layers a token's entity."""
    return f"entity:{tag}"


def _warn_misaligned(
    extractor: str, message: Message, annotation: EntityAnnotation, covered: list[int]
) -> None:
    """Training data whose entity does not start and end where tokens do: say where it is
    and what is learned instead (the whole tokens inside it, or nothing)."""
    tokens = message.tokens or []
    example = message.example
    where = f"{example.source}: " if example is not None and example.source.line else ""
    learned = " ".join(tokens[i].text for i in covered)
    logger.warning(
        "%s%s: entity '%s' at %d-%d (%r) in %r does not start and end at token boundaries "
        "(tokens: %s); %s. Annotate whole words.",
        where,
        extractor,
        annotation.entity,
        annotation.start,
        annotation.end,
        message.text[annotation.start : annotation.end],
        message.text,
        ", ".join(f"{t.text!r} {t.start}-{t.end}" for t in tokens),
        f"only {learned!r} is learned" if learned else "it is not learned",
    )
