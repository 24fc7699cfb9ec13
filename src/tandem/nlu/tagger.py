"""Entity tagging with CRFs: one for entity types, and one each for roles and groups.

The role and group taggers see the entity type of each token as an extra feature (the gold
type in training, the predicted one when parsing), so "from [Berlin] to [Paris]" can learn
that the city after "to" is the destination.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import scipy.sparse as sp

from tandem.nlu import bilou
from tandem.nlu.component import NluError
from tandem.nlu.crf import Crf, CrfError, Item
from tandem.nlu.message import Message
from tandem.nlu.storage import Store
from tandem.nlu.token_features import TOKEN_VALUES
from tandem.project.training_data import EntityAnnotation

log = logging.getLogger(__name__)

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


# Tokens whose attributes are remembered (texts repeat across messages); past it, start afresh.
_CACHE_SIZE = 10_000
_NO_PATTERNS: frozenset[str] = frozenset()


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
        self.layers: dict[str, Crf] = {}
        middle = len(features) // 2
        # (offset, feature names) of each window position, and the attribute of a position
        # outside the text.
        self._windows = [
            (k - middle, list(dict.fromkeys(names))) for k, names in enumerate(features)
        ]
        self._edges = [f"{offset}:{'BOS' if offset < 0 else 'EOS'}" for offset, _ in self._windows]
        self._cache: dict[tuple[str, frozenset[str]], tuple[tuple[str, ...], ...]] = {}

    # -- features ------------------------------------------------------------------------------

    def _token_attributes(self, text: str, patterns: frozenset[str]) -> tuple[tuple[str, ...], ...]:
        """The attributes a token gives at each window position (they depend on its text and
        patterns only, so they are worked out once per distinct token)."""
        key = (text, patterns)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            found = self._cache[key] = tuple(
                tuple(a for name in names for a in _values(name, offset, text, patterns))
                for offset, names in self._windows
            )
        return found

    def _attributes(self, message: Message) -> list[list[str]]:
        """Each token's attribute names (the `features` option at each window offset)."""
        tokens = message.tokens or ()
        n = len(tokens)
        patterns = message.patterns or [_NO_PATTERNS] * n
        per_token = [
            self._token_attributes(token.text, p) for token, p in zip(tokens, patterns, strict=True)
        ]
        result = []
        for i in range(n):
            attributes: list[str] = []
            for k, (offset, _) in enumerate(self._windows):
                j = i + offset
                if 0 <= j < n:
                    attributes.extend(per_token[j][k])
                else:
                    attributes.append(self._edges[k])
            result.append(attributes)
        return result

    def _items(self, message: Message, attributes: list[list[str]]) -> list[Item]:
        """CRFsuite's items: the tokens' ``attributes``, plus the featurizers' token features
        (as `x<column>` with their values) when the tagger reads them."""
        if self.token_features == "none":
            return list(attributes)
        extra = [
            f.sequence
            for f in message.features_from(self.origins)
            if f.dense or self.token_features == "all"
        ]
        if not extra:
            return list(attributes)
        matrix = sp.hstack(extra, format="csr")
        ends, columns, values = (
            matrix.indptr.tolist(),
            matrix.indices.tolist(),
            matrix.data.tolist(),
        )
        items: list[Item] = []
        for i, names in enumerate(attributes):
            item = dict.fromkeys(names, 1.0)
            for column, value in zip(
                columns[ends[i] : ends[i + 1]], values[ends[i] : ends[i + 1]], strict=True
            ):
                item[f"x{column}"] = value
            items.append(item)
        return items

    # -- training ------------------------------------------------------------------------------

    def fit(self, messages: list[Message]) -> None:
        annotated = [(m, m.example) for m in messages if m.example is not None and m.tokens]
        if not any(example.entities for _, example in annotated):
            log.warning(
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
        items = [self._items(m, self._attributes(m)) for m, _ in annotated]
        self.layers = {}
        for layer in LAYERS:
            if not any(targets[layer]):
                continue
            use_bilou = self.bilou and layer == "entity"
            self.layers[layer] = Crf.train(
                items
                if layer == "entity"
                else [_with_entities(x, tags) for x, tags in zip(items, entity_tags, strict=True)],
                [bilou.encode(n, s, use_bilou) for n, s in zip(sizes, targets[layer], strict=True)],
                l1=self.l1,
                l2=self.l2,
                max_iter=self.max_iter,
            )
        self._cache.clear()  # the training data's tokens; parsing fills it with its own

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
        items = self._items(message, self._attributes(message))
        tags, confidences = self.layers["entity"].tag(items)
        spans = bilou.decode(tags, message.tokens, message.text, self.bilou, self._splits_at_comma)
        tokens = message.tokens
        entities = []
        plain_tags = bilou.encode(len(tokens), spans, bilou=False)
        inside = [i for span in spans for i in range(span.first, span.last + 1)]
        extra = {
            layer: self.layers[layer].marginals(_with_entities(items, plain_tags), inside)
            for layer in ("role", "group")
            if layer in self.layers and spans
        }
        for span in spans:
            start, end = tokens[span.first].start, tokens[span.last].end
            entity: dict[str, Any] = {
                "entity": span.label,
                "start": start,
                "end": end,
                # An entity is only as certain as its least certain token.
                "confidence_entity": float(min(confidences[span.first : span.last + 1])),
            }
            for layer, layer_marginals in extra.items():
                layer_labels = self.layers[layer].labels
                width = span.last - span.first + 1
                mean = [
                    sum(column) / width
                    for column in zip(
                        *(layer_marginals[i] for i in range(span.first, span.last + 1)),
                        strict=True,
                    )
                ]
                best = max(range(len(mean)), key=mean.__getitem__)  # the first on a tie
                if layer_labels[best] != bilou.OUTSIDE:
                    entity[layer] = layer_labels[best]
                    entity[f"confidence_{layer}"] = mean[best]
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
        store.write_json("layers", sorted(self.layers))
        for layer, crf in self.layers.items():
            store.write_crfsuite(layer, crf.model)

    def restore(self, store: Store) -> None:
        self.layers = {}
        for layer in store.read_json("layers"):
            try:
                self.layers[layer] = Crf(store.read_crfsuite(layer))
            except CrfError as exc:
                raise NluError(
                    f"{self.extractor}: the {layer} model of '{store.prefix}' is {exc}; "
                    "train the model again"
                ) from exc


def _with_entities(items: list[Item], entity_tags: list[str]) -> list[Item]:
    """The role and group layers' items: each token's with its entity tag as an attribute."""
    return [
        [*item, _entity_attribute(tag)]
        if isinstance(item, list)
        else {**item, _entity_attribute(tag): 1.0}
        for item, tag in zip(items, entity_tags, strict=True)
    ]


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
    log.warning(
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
