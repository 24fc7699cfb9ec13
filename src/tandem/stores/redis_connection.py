"""Connecting to Redis from an endpoint's keys (the tracker store and the lock store).

redis-py's asyncio client: Redis's official Python client, with a connection pool,
MULTI/EXEC transactions with WATCH, and server-side scripts (the lock store's atomic steps).
Keys as the reference reads them: ``url`` (a host, or a whole ``redis://``/``rediss://``
URL) or ``host``, ``port`` (6379), ``db``, ``username``, ``password``, ``use_ssl``,
``ssl_keyfile``, ``ssl_certfile``, ``ssl_ca_certs``, ``socket_timeout`` (10 s).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tandem.project.endpoints import EndpointConfig
from tandem.stores.errors import StoreUnavailable, number_setting

log = logging.getLogger(__name__)

Redis = redis.Redis


def redis_client(endpoint: EndpointConfig, *, default_db: int) -> Redis:
    """A client for the endpoint's server; it connects on first use."""
    keys = endpoint.kwargs
    url = endpoint.url or keys.get("host") or "localhost"
    timeout = number_setting(endpoint, "socket_timeout", 10.0)
    options: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        # A refused connection fails within a fraction of a second (then 503), rather than
        # after the default's seconds of back-off; one quick retry covers a dropped socket.
        "retry": Retry(ExponentialBackoff(cap=0.2, base=0.05), retries=1),
    }
    for key in ("username", "password"):
        if keys.get(key) is not None:
            options[key] = str(keys[key])
    if "://" in str(url):
        return redis.Redis.from_url(str(url), **options)
    if keys.get("use_ssl"):
        options["ssl"] = True
        for key in ("ssl_keyfile", "ssl_certfile", "ssl_ca_certs"):
            if keys.get(key):
                options[key] = str(keys[key])
    return redis.Redis(
        host=str(url),
        port=number_setting(endpoint, "port", 6379),
        db=number_setting(endpoint, "db", default_db),
        **options,
    )


def key_prefix(endpoint: EndpointConfig, kind: str) -> str:
    """``<key_prefix>:<kind>:`` (``<kind>:`` without one), as the reference names keys.
    Only letters and digits are accepted in a prefix; others fall back to no prefix."""
    prefix = endpoint.kwargs.get("key_prefix")
    if prefix is None or prefix == "":
        return f"{kind}:"
    if not str(prefix).isalnum():
        log.warning("key_prefix '%s' must be letters and digits only; ignoring it", prefix)
        return f"{kind}:"
    return f"{prefix}:{kind}:"


@contextmanager
def redis_errors() -> Iterator[None]:
    """Redis being unreachable, as ``StoreUnavailable``."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as error:
        raise StoreUnavailable(f"Redis is unreachable: {error}") from error
