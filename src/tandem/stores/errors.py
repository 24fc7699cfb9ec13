"""What can go wrong with a store, lock store or event broker.

One type per kind of failure, so callers can answer for it without knowing the backend:
the HTTP layer answers 503 for ``StoreUnavailable``; ``StoreConfigError`` stops start-up.
"""

from __future__ import annotations

from typing import TypeVar

from tandem.project.endpoints import EndpointConfig
from tandem.project.errors import Source

Number = TypeVar("Number", int, float)


class StoreError(Exception):
    """Base of the errors of tracker stores, lock stores and event brokers."""


class StoreUnavailable(StoreError):
    """The server behind a store or broker cannot be reached (down, refused, timed out).

    Nothing of the failed operation was written; retrying later is safe.
    """


class StoreUnreached(StoreUnavailable):
    """The operation never reached the store (no connection could be had for it), so it
    certainly wrote nothing: unlike a connection lost in the middle, there is nothing to
    look up."""


class StoreConflict(StoreError):
    """Other events are already stored where a save wanted to put its events.

    Happens only when two writers change one conversation without holding its lock; the
    save is refused as a whole, so the stored conversation stays as the first writer left it.
    """


class LockError(StoreError):
    """A conversation's lock could not be taken (the waiting ticket expired)."""


class StoreConfigError(ValueError):
    """``endpoints.yml`` asks for a store or broker that cannot be built as configured.

    ``source`` is the line of the setting at fault, when the endpoint was read from a file.
    """

    def __init__(self, message: str, source: Source | None = None) -> None:
        super().__init__(f"{source}: {message}" if source else message)
        self.message = message
        self.source = source


def number_setting(endpoint: EndpointConfig, key: str, default: Number) -> Number:
    """The endpoint's ``key`` as a number of the default's type, or the default when it is
    not written (or empty); a value that is no such number is a ``StoreConfigError`` at its
    line."""
    value = endpoint.kwargs.get(key)
    if value is None:
        return default
    try:
        return type(default)(value)
    except (TypeError, ValueError):
        what = "a whole number" if isinstance(default, int) else "a number"
        raise StoreConfigError(f"`{key}` must be {what}, not {value!r}", endpoint.at(key)) from None
