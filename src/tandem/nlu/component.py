"""The component contract and the one option-checking mechanism every component uses.

A component declares its options as ``defaults`` (the default's type is the expected type;
a default of None accepts anything), optional ``choices`` for enumerated options, the options
of the reference it accepts but ignores (each with what is done instead, for the warning that
``tandem data validate`` gives), and a ``check`` hook for rules across options.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from tandem.nlu.message import Message
from tandem.nlu.storage import Store
from tandem.project.training_data import NluData

# Keys every component accepts: `alias` names an instance (e.g. one of two featurizers).
COMMON_OPTIONS = frozenset({"alias"})


class NluError(ValueError):
    """A pipeline that cannot be built or trained: bad component name, option or data.

    ``component_index`` is the position in the pipeline of the component at fault, if one is.
    """

    def __init__(self, message: str, component_index: int | None = None) -> None:
        super().__init__(message)
        self.component_index = component_index


class Component:
    name: ClassVar[str]
    defaults: ClassVar[Mapping[str, Any]] = {}
    choices: ClassVar[Mapping[str, tuple[Any, ...]]] = {}
    # Accepted types where the default's type is too narrow (e.g. min_df: count or proportion).
    types: ClassVar[Mapping[str, tuple[type, ...]]] = {}
    # Options the reference reads that change nothing here (e.g. neural-network epochs), each
    # with what Tandem does instead.
    ignored: ClassVar[Mapping[str, str]] = {}
    # What the component needs from earlier components and what it adds to the message:
    # "tokens", "features", "intent", "entities".
    needs: ClassVar[frozenset[str]] = frozenset()
    provides: ClassVar[frozenset[str]] = frozenset()
    # True when process() must be awaited (it does I/O); the pipeline then has no sync parse.
    is_async: ClassVar[bool] = False
    # True for intent classifiers: train() also gets near misses of the examples, labelled
    # ``near_misses.REJECTION_LABEL``, to learn what a message unlike every example is.
    learns_rejection: ClassVar[bool] = False

    def __init__(self, options: Mapping[str, Any], *, language: str) -> None:
        self.config = dict(options)  # as written in the config, for persisting the pipeline
        self.options = self.resolve_options(options)
        self.label: str = options.get("alias") or self.name
        self.language = language

    @classmethod
    def known_options(cls) -> frozenset[str]:
        return frozenset(cls.defaults) | frozenset(cls.ignored) | COMMON_OPTIONS

    @classmethod
    def resolve_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with ``options``, validated; raises NluError on a bad value.

        Options the component does not know are left out, as the reference leaves them out
        (``tandem data validate`` refuses them, so only models trained without validation
        have any).
        """
        for key, value in options.items():
            if key in cls.types:
                _check_type(cls.name, key, value, cls.types[key])
            elif key in cls.defaults:
                _check_type(cls.name, key, value, _type_of(cls.defaults[key]))
            if key in cls.choices and value not in cls.choices[key]:
                allowed = ", ".join(repr(choice) for choice in cls.choices[key])
                raise NluError(
                    f"{cls.name}: option '{key}' is {value!r}, expected one of {allowed}"
                )
        resolved = {**cls.defaults, **{k: v for k, v in options.items() if k in cls.defaults}}
        cls.check(resolved)
        return resolved

    @classmethod
    def check(cls, options: dict[str, Any]) -> None:
        """Rules that involve more than one option; raise NluError."""

    def check_pipeline(self, earlier: Sequence[Component]) -> None:
        """Check the components before this one (e.g. what their model can give) and keep what
        it needs of them; called as the pipeline is built, so that errors point at the config.
        Raise NluError."""

    def train(self, messages: list[Message], data: NluData) -> None:
        """Learn from the training messages and add to them what later components read."""

    def process(self, message: Message) -> None:
        """Add this component's output to a message being parsed."""

    def process_many(self, messages: list[Message]) -> None:
        """process() for each message; components that batch (encoders) do better."""
        for message in messages:
            self.process(message)

    async def process_async(self, message: Message) -> None:
        self.process(message)

    def persist(self, store: Store) -> None:
        """Write what training learned (JSON and arrays only)."""

    def restore(self, store: Store) -> None:
        """Read back what persist() wrote."""


def write_package(store: Store, name: str, package: str, version: str) -> None:
    """Record the installed package whose output the trained model learned from."""
    store.write_json(name, {"package": package, "version": version})


def check_package(store: Store, name: str, component: str, package: str, version: str) -> None:
    """Refuse a model recorded with another package or version than the installed one: its
    output, and so what the model learned from it, could differ."""
    trained = store.read_json(name)
    if trained != {"package": package, "version": version}:
        raise NluError(
            f"{component}: the model was trained with {trained.get('package')} "
            f"{trained.get('version')}, but {package} {version} is installed; "
            "install that version or train the model again"
        )


def require_non_negative(component: str, options: Mapping[str, Any], *keys: str) -> None:
    for key in keys:
        if options[key] < 0:
            raise NluError(f"{component}: '{key}' must not be negative")


def _type_of(default: Any) -> tuple[type, ...]:
    """Types accepted for an option with this default; () accepts anything."""
    if default is None:
        return ()
    if isinstance(default, bool):
        return (bool,)
    if isinstance(default, float):
        return (int, float)  # YAML writes `max_df: 1` for 1.0
    return (type(default),)


def _check_type(component: str, key: str, value: Any, expected: tuple[type, ...]) -> None:
    if not expected:
        return
    # bool is an int in Python, but `max_iter: true` is a mistake, not a number.
    if (isinstance(value, bool) and bool not in expected) or not isinstance(value, expected):
        names = " or ".join(t.__name__ for t in expected)
        raise NluError(f"{component}: option '{key}' must be {names}, got {value!r}")


class VocabularyFeaturizer(Component, ABC):
    """A featurizer whose whole trained state is a term -> column vocabulary."""

    vocabulary: dict[str, int]

    @abstractmethod
    def _features(self, message: Message) -> Any:
        """The message's feature row over the vocabulary's columns."""

    def process(self, message: Message) -> None:
        message.features.append(self._features(message))

    def persist(self, store: Store) -> None:
        store.write_vocabulary("vocabulary", self.vocabulary)

    def restore(self, store: Store) -> None:
        self.vocabulary = store.read_vocabulary("vocabulary")
