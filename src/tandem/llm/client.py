"""The client every LLM component uses: chat completions and embeddings over HTTP.

It speaks the OpenAI wire protocol, which OpenAI, Azure OpenAI, vLLM, Ollama and the llama.cpp
server all serve. One client keeps one HTTP session, so its requests reuse connections.
Failures that may pass (connection errors, timeouts, HTTP 429 and 5xx) are retried a bounded
number of times; every failure ends as an ``LLMError``, so components need one ``except`` for
their fallback. A cassette, when one is configured, answers before any connection is opened.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from yarl import URL

from tandem.llm.cassette import cassette_from_env
from tandem.llm.errors import LLMError
from tandem.project.errors import ProjectError, Source
from tandem.project.yaml import expand_env_string

if TYPE_CHECKING:
    from tandem.llm.cassette import Cassette
    from tandem.llm.config import LLMConfig

log = logging.getLogger(__name__)

__all__ = ["Completion", "LLMCall", "LLMClient", "LLMError", "Usage", "observe_llm_calls"]

_BACKOFF = 0.25  # seconds before the first retry; doubled before each further one
_BODY_EXCERPT = 300  # characters of an error body quoted in an LLMError


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens one call (or, summed, many calls) consumed, as the server reported them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
        )

    @classmethod
    def from_reply(cls, data: Any) -> Usage:
        """The ``usage`` object of a reply; servers that leave it out count as zero."""
        if not isinstance(data, Mapping):
            return cls()
        counts = {name: int(data.get(name) or 0) for name in ("prompt_tokens", "completion_tokens")}
        total = int(data.get("total_tokens") or 0) or sum(counts.values())
        return cls(**counts, total_tokens=total)


@dataclass(frozen=True, slots=True)
class Completion:
    """The answer to one prompt; ``text`` is ``None`` when the server returned no choice."""

    text: str | None
    model: str
    usage: Usage = Usage()
    latency_ms: float = 0.0  # 0 when the answer came from a cassette


@dataclass(frozen=True, slots=True)
class LLMCall:
    """One prompt sent and what came of it: the raw answer, or the error that ended it."""

    model: str
    prompt: str
    answer: str | None
    error: str | None = None
    usage: Usage = Usage()
    latency_ms: float = 0.0  # of the answering request (retries included)
    replayed: bool = False  # the answer came from a cassette


LLMCallObserver = Callable[[LLMCall], None]

# The observers of the current context (see ``observe_llm_calls``). A context variable rather
# than a constructor argument: the clients live deep inside the loaded components, and each
# asyncio task sees only its own observers, so one conversation never sees another's calls.
_OBSERVERS: ContextVar[tuple[LLMCallObserver, ...]] = ContextVar("llm_observers", default=())


@contextmanager
def observe_llm_calls(observer: LLMCallObserver) -> Iterator[None]:
    """Call ``observer`` with every completion any client makes in this context meanwhile
    (``tandem shell --debug-llm``)."""
    token = _OBSERVERS.set((*_OBSERVERS.get(), observer))
    try:
        yield
    finally:
        _OBSERVERS.reset(token)


def _notify(call: LLMCall) -> None:
    for observer in _OBSERVERS.get():
        observer(call)


# What stands for a volatile part of a prompt in the requests a cassette keys on.
VOLATILE_MARK = "<volatile>"


class LLMClient:
    """Sends prompts and texts to embed to the model ``config`` describes.

    ``cassette`` records or replays the exchanges; by default it is the one the environment
    names (``TANDEM_LLM_CASSETTE``), if any. ``usage`` sums the tokens of every answer given,
    replayed answers included, so a replayed run reports what its recording run did.
    """

    def __init__(self, config: LLMConfig, *, cassette: Cassette | None = None) -> None:
        self.config = config
        self.cassette = cassette if cassette is not None else cassette_from_env()
        self.usage = Usage()
        self._timeout = aiohttp.ClientTimeout(total=config.timeout)
        self._session: aiohttp.ClientSession | None = None

    async def complete(self, prompt: str, *, volatile: Sequence[str] = ()) -> Completion:
        """The model's answer to ``prompt``, sent as the single user message of a chat.

        ``volatile`` are parts of the prompt that differ from run to run for the same
        conversation (the current time); a cassette matches recordings with them masked.
        Observers (``observe_llm_calls``) see the prompt and the raw answer or the error.
        """
        try:
            completion = await self._complete(prompt, volatile)
        except LLMError as error:
            _notify(LLMCall(self.config.model, prompt, None, str(error)))
            raise
        _notify(
            LLMCall(
                completion.model,
                prompt,
                completion.text,
                usage=completion.usage,
                latency_ms=completion.latency_ms,
                # A cassette's answers are the only ones without a measured latency.
                replayed=self.cassette is not None and completion.latency_ms == 0.0,
            )
        )
        return completion

    async def _complete(self, prompt: str, volatile: Sequence[str]) -> Completion:
        config = self.config
        keyed_prompt = prompt
        for part in volatile:
            if part:
                keyed_prompt = keyed_prompt.replace(part, VOLATILE_MARK)
        request = {
            "kind": "chat",
            "model": config.model,
            "messages": [{"role": "user", "content": keyed_prompt}],
            "temperature": config.temperature,
            "max_tokens": config.max_tokens,
            "extra": dict(config.extra),
        }
        recorded = self.cassette.lookup(request) if self.cassette is not None else None
        if recorded is not None:
            completion = Completion(
                recorded.get("text"),
                str(recorded.get("model") or config.model),
                Usage.from_reply(recorded.get("usage")),
            )
        else:
            body: dict[str, Any] = {
                **config.extra,
                "model": config.model,
                "messages": [{"role": "user", "content": prompt}],
            }
            if config.temperature is not None:
                body["temperature"] = config.temperature
            if config.max_tokens is not None:
                body[_max_tokens_key(config.provider)] = config.max_tokens
            started = time.perf_counter()
            reply = await self._post("chat/completions", body)
            completion = _completion(reply, config.model, (time.perf_counter() - started) * 1000)
            if self.cassette is not None:
                response = {"text": completion.text, "model": completion.model}
                self.cassette.record(request, {**response, "usage": asdict(completion.usage)})
        self._count(completion.usage, completion.latency_ms)
        return completion

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One embedding vector per text, in the order of ``texts``."""
        if not texts:
            return []
        config = self.config
        request = {
            "kind": "embed",
            "model": config.model,
            "input": list(texts),
            "extra": dict(config.extra),
        }
        recorded = self.cassette.lookup(request) if self.cassette is not None else None
        if recorded is not None:
            vectors = [list(vector) for vector in recorded["embeddings"]]
            usage = Usage.from_reply(recorded.get("usage"))
            latency_ms = 0.0
        else:
            started = time.perf_counter()
            body = {**config.extra, "model": config.model, "input": request["input"]}
            reply = await self._post("embeddings", body)
            latency_ms = (time.perf_counter() - started) * 1000
            vectors = _embeddings(reply, len(texts))
            usage = Usage.from_reply(reply.get("usage"))
            if self.cassette is not None:
                self.cassette.record(request, {"embeddings": vectors, "usage": asdict(usage)})
        self._count(usage, latency_ms)
        return vectors

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = None

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- HTTP ---------------------------------------------------------------------------

    def _count(self, usage: Usage, latency_ms: float) -> None:
        self.usage += usage
        log.debug(
            "LLM %s: %d prompt + %d completion tokens, %.0f ms (client total %d tokens)",
            self.config.model,
            usage.prompt_tokens,
            usage.completion_tokens,
            latency_ms,
            self.usage.total_tokens,
        )

    def _url(self, route: str) -> URL:
        config = self.config
        if config.provider == "azure":
            url = URL(f"{config.api_base}/openai/deployments/{config.deployment}/{route}")
            return url.with_query({"api-version": config.api_version or ""})
        return URL(f"{config.api_base}/{route}")

    def _headers(self) -> dict[str, str]:
        """The auth header; ``${NAME}`` in the key is read now, when a request needs it."""
        key = self.config.api_key
        if not key:
            return {}
        try:
            key = expand_env_string(key, Source("api_key"))
        except ProjectError as error:
            raise LLMError(
                f"No API key for LLM model '{self.config.model}': "
                f"{error.problems[0].message} (set it, or write `api_key` in the LLM config)"
            ) from None
        if self.config.provider == "azure":
            return {"api-key": key}
        return {"Authorization": f"Bearer {key}"}

    async def _post(self, route: str, body: Mapping[str, Any]) -> Any:
        """The JSON reply to one POST, retrying the failures that may pass."""
        url = self._url(route)
        shown = url.with_user(None)  # never show credentials written into api_base
        headers = self._headers()
        if self._session is None:
            self._session = aiohttp.ClientSession()
        failure = ""
        for attempt in range(self.config.max_retries + 1):
            if attempt:
                log.debug("Retrying the LLM request to %s (%s).", shown, failure)
                await asyncio.sleep(_BACKOFF * 2 ** (attempt - 1))
            try:
                async with self._session.post(
                    url, json=body, headers=headers, timeout=self._timeout
                ) as response:
                    status, text = response.status, await response.text()
            except TimeoutError:
                failure = f"no answer within {self.config.timeout:g} seconds"
                continue
            except aiohttp.ClientConnectionError as error:
                failure = f"cannot connect: {error}"
                continue
            except aiohttp.ClientError as error:
                raise LLMError(f"The LLM request to {shown} failed: {error}") from None
            if status == 200:
                try:
                    return json.loads(text)
                except ValueError:
                    raise LLMError(
                        f"The LLM server at {shown} sent invalid JSON: {text[:_BODY_EXCERPT]!r}"
                    ) from None
            failure = f"HTTP {status}: {_error_text(text)}"
            if status != 429 and status < 500:  # the request itself is wrong: retrying won't help
                break
        tries = f" after {attempt + 1} attempts" if attempt else ""
        raise LLMError(f"The LLM request to {shown} failed{tries}: {failure}")


def _max_tokens_key(provider: str) -> str:
    """OpenAI's current models refuse ``max_tokens``; other servers may not know the new name."""
    return "max_completion_tokens" if provider in ("openai", "azure") else "max_tokens"


def _error_text(text: str) -> str:
    """The ``error.message`` of an OpenAI-style error body, else the start of the body."""
    try:
        error = json.loads(text).get("error")
        message = error.get("message") if isinstance(error, Mapping) else error
        if message:
            return str(message)[:_BODY_EXCERPT]
    except (ValueError, AttributeError):
        pass
    return text[:_BODY_EXCERPT]


def _completion(reply: Any, model: str, latency_ms: float) -> Completion:
    try:
        choices = reply.get("choices") or []
        text = choices[0]["message"].get("content") if choices else None
        model = str(reply.get("model") or model)
    except (AttributeError, LookupError, TypeError):
        raise LLMError(f"The LLM server sent an unexpected reply: {str(reply)[:300]}") from None
    return Completion(text, model, Usage.from_reply(reply.get("usage")), latency_ms)


def _embeddings(reply: Any, count: int) -> list[list[float]]:
    try:
        items = sorted(reply["data"], key=lambda item: item.get("index", 0))
        vectors = [[float(x) for x in item["embedding"]] for item in items]
    except (AttributeError, LookupError, TypeError, ValueError):
        raise LLMError(f"The LLM server sent unexpected embeddings: {str(reply)[:300]}") from None
    if len(vectors) != count:
        raise LLMError(f"The LLM server sent {len(vectors)} embeddings for {count} texts.")
    return vectors
