"""An OpenAI-compatible LLM stub that answers at once, for measuring the framework's own cost.

It serves ``POST /v1/chat/completions`` (and ``/v1/embeddings``) on loopback. A chat answer
is chosen by the user's latest message, which the command generators' prompts quote at their
end: the first rule whose key occurs in that message gives the answer (else ``ANSWER``).
``usage.prompt_tokens`` is an estimate (words and punctuation marks, which is close to what
BPE tokenisers count for English prompts). ``GET /stats`` returns the calls and tokens seen.

    .venv/bin/python bench/llm_stub.py --port 8765 --rules '[["pizza", "start flow order_pizza"]]'
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from aiohttp import web

ANSWER = "offtopic reply"
# The compact / search-ready prompts end with: ...latest message: """<text>"""
_LATEST = re.compile(r'latest message:\s*"""(.*?)"""', re.DOTALL)
_TOKEN = re.compile(r"\w+|[^\w\s]")


def estimate_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


class Stub:
    def __init__(self, rules: list[tuple[str, str]]) -> None:
        self.rules = [(key.lower(), answer) for key, answer in rules]
        self.calls = 0
        self.prompt_tokens = 0

    def answer(self, prompt: str) -> str:
        found = _LATEST.findall(prompt)
        latest = (found[-1] if found else prompt).lower()
        return next((answer for key, answer in self.rules if key in latest), ANSWER)

    async def chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        prompt = "\n".join(str(m.get("content") or "") for m in body.get("messages", []))
        tokens = estimate_tokens(prompt)
        self.calls += 1
        self.prompt_tokens += tokens
        text = self.answer(prompt)
        completion = estimate_tokens(text)
        return web.json_response(
            {
                "id": f"chatcmpl-{self.calls}",
                "object": "chat.completion",
                "model": body.get("model", "stub"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": tokens,
                    "completion_tokens": completion,
                    "total_tokens": tokens + completion,
                },
            }
        )

    async def embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(t)), 1.0, float(i)]}
            for i, t in enumerate(texts)
        ]
        return web.json_response({"data": data, "model": body.get("model", "stub")})

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response({"calls": self.calls, "prompt_tokens": self.prompt_tokens})


def app(rules: list[tuple[str, str]]) -> web.Application:
    stub = Stub(rules)
    application = web.Application()
    application.router.add_post("/v1/chat/completions", stub.chat)
    application.router.add_post("/v1/embeddings", stub.embeddings)
    application.router.add_get("/stats", stub.stats)
    return application


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rules", default="[]", help="JSON list of [key, answer] pairs")
    args = parser.parse_args()
    rules: list[Any] = json.loads(args.rules)
    web.run_app(
        app([(str(k), str(a)) for k, a in rules]),
        host="127.0.0.1",
        port=args.port,
        print=None,
        access_log=None,
    )


if __name__ == "__main__":
    main()
