"""Record and replay LLM exchanges, so LLM-driven test suites run offline and deterministically.

A cassette is a JSON-lines file with one recorded exchange per line::

    {"key": "<sha256>", "request": {"kind": "chat", "model": "...", "text": "<prompt head>"},
     "response": {"text": "...", "model": "...", "usage": {...}}}

The key is a hash of what was asked (kind, model, messages or inputs, temperature, max_tokens,
other request parameters), never of where it was sent or with which key, so a cassette
recorded against one server replays against any other, or none. ``request`` is only a summary
for people reading the file. Each recording is appended with a single write (a large file is
never rewritten), and a last line cut short by a crash is ignored when the file is read.

Modes: ``replay`` answers from the file only and never calls the LLM (an unrecorded request is
a ``CassetteMiss``); ``auto`` answers from the file when it can and records the rest;
``record`` ignores earlier recordings and records every request anew (later lines win when the
file is read). In every mode a request asked twice in one run gets the first answer again, so
the recording run and each replay of it see exactly the same answers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, cast

from tandem.llm.errors import LLMError

log = logging.getLogger(__name__)

CassetteMode = Literal["record", "replay", "auto"]
CASSETTE_ENV = "TANDEM_LLM_CASSETTE"
MODE_ENV = "TANDEM_LLM_MODE"
_MODES = ("record", "replay", "auto")
_EXCERPT = 200  # characters of the prompt shown in summaries and errors


class CassetteMiss(LLMError):
    """Replay mode met a request that the cassette holds no recording of."""


class Cassette:
    """The recorded exchanges of one cassette file, and where new ones are appended."""

    def __init__(self, path: str | os.PathLike[str], mode: CassetteMode = "auto") -> None:
        self.path = Path(path)
        self.mode = _checked_mode(mode, "the cassette mode")
        self._responses = {} if self.mode == "record" else _load(self.path)

    def lookup(self, request: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The recorded response to ``request``; ``None`` means: ask the LLM, then ``record``.

        Raises ``CassetteMiss`` in replay mode instead of returning ``None``.
        """
        response = self._responses.get(request_key(request))
        if response is None and self.mode == "replay":
            raise CassetteMiss(_miss_message(request, self.path))
        return response

    def record(self, request: Mapping[str, Any], response: Mapping[str, Any]) -> None:
        """Keep ``response`` as the answer to ``request``, in memory and in the file."""
        key = request_key(request)
        self._responses[key] = response
        entry = {"key": key, "request": _summary(request), "response": response}
        data = (json.dumps(entry, ensure_ascii=False, default=str) + "\n").encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        except OSError as error:
            raise LLMError(f"Cannot write the LLM cassette {self.path}: {error.strerror}") from None


def request_key(request: Mapping[str, Any]) -> str:
    """The hash a request is recorded under: of its canonical JSON, so key order is irrelevant."""
    canonical = json.dumps(
        request, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


_shared: dict[tuple[Path, str], Cassette] = {}


def cassette_from_env() -> Cassette | None:
    """The cassette ``TANDEM_LLM_CASSETTE`` names, in mode ``TANDEM_LLM_MODE`` (default auto).

    Every client of a process gets the same ``Cassette`` for a file, so that all of them
    replay what any of them recorded.
    """
    path = os.environ.get(CASSETTE_ENV, "").strip()
    mode = os.environ.get(MODE_ENV, "").strip().lower()
    if not path:
        if mode:
            raise ValueError(f"{MODE_ENV} is set but {CASSETTE_ENV} is not: name a cassette file")
        return None
    checked = _checked_mode(mode or "auto", MODE_ENV)
    key = (Path(path).resolve(), checked)
    if key not in _shared:
        _shared[key] = Cassette(key[0], checked)
    return _shared[key]


def _checked_mode(mode: str, what: str) -> CassetteMode:
    if mode not in _MODES:
        raise ValueError(f"{what} must be one of {', '.join(_MODES)}, not {mode!r}")
    return cast(CassetteMode, mode)


def _load(path: Path) -> dict[str, Mapping[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise LLMError(f"Cannot read the LLM cassette {path}: {error.strerror}") from None
    responses: dict[str, Mapping[str, Any]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            responses[str(entry["key"])] = dict(entry["response"])
        except (ValueError, TypeError, KeyError):
            if number == len(lines):
                log.warning("Ignoring the incomplete last line of the LLM cassette %s.", path)
                continue
            raise LLMError(f"{path}:{number}: not an LLM cassette recording") from None
    return responses


def _prompt(request: Mapping[str, Any]) -> str:
    """The text a person recognises a request by: the last user message, or the inputs."""
    if request.get("kind") == "embed":
        return " | ".join(str(text) for text in request.get("input") or ())
    users = [m for m in request.get("messages") or () if m.get("role") == "user"]
    return str(users[-1].get("content", "")) if users else ""


def _summary(request: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "kind": request.get("kind"),
        "model": request.get("model"),
        "text": _prompt(request)[:_EXCERPT],
    }


def _miss_message(request: Mapping[str, Any], path: Path) -> str:
    prompt = _prompt(request)
    tail = prompt if len(prompt) <= _EXCERPT else "…" + prompt[-_EXCERPT:]
    missing = "" if path.exists() else " (the file does not exist)"
    return (
        f"The LLM cassette {path}{missing} has no recording of this {request.get('kind')} "
        f"request to model '{request.get('model')}' ending {tail!r}; record it by running "
        f"with {MODE_ENV}=auto or {MODE_ENV}=record."
    )
