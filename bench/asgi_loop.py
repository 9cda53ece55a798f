"""One service process, its app called as ASGI in a loop: the per-request work of
`POST /v1/licences/verify` with no server, socket or load generator around it.

    python bench/asgi_loop.py TREE DEMO_DIR TOKENS_JSON MODE N

TREE is a checkout of huren (put first on sys.path, so an older commit can run with this
environment); DEMO_DIR a demo world written by that checkout; TOKENS_JSON holds distinct
licences (`{"tokens": [...], "relying": "..."}`); MODE `cached` (one licence, N times) or
`uncached` (N distinct licences). Two requests are checked to PASS first. Used by
bench/instructions.py, which runs it under callgrind."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any


def main() -> None:
    tree, demo, tokens_file, mode, n = sys.argv[1:6]
    here = os.path.dirname(os.path.abspath(__file__))
    # Run as a script, its own directory comes first, where bench/http.py would shadow `http`.
    sys.path[:] = [tree, *(p for p in sys.path if os.path.abspath(p) != here)]
    os.chdir(tree)
    os.environ["HUREN_CONFIG"] = os.path.join(demo, "huren.json")
    os.environ["HUREN_CACHE_SECRET"] = "bench-cache-secret-0123456789abcdef"
    from api.server import app_from_env

    with open(os.path.join(demo, "demo-credentials.txt"), encoding="utf-8") as f:
        key = next(p[2] for p in map(str.split, f) if len(p) == 3 and p[1] == "counter")
    with open(tokens_file, encoding="utf-8") as f:
        data = json.load(f)
    relying = data["relying"]
    bodies = [
        json.dumps({"token": t, "relying_jurisdiction": relying}, separators=(",", ":")).encode()
        for t in data["tokens"]
    ]
    count = int(n)
    if mode == "uncached" and count + 2 > len(bodies):
        sys.exit(f"asgi_loop: {count} requests need {count + 2} licences, {len(bodies)} given")
    asyncio.run(_run(app_from_env(), key, bodies, mode, count))


async def _run(app: Any, key: str, bodies: list[bytes], mode: str, n: int) -> None:
    headers = [
        (b"host", b"bench"),
        (b"content-type", b"application/json"),
        (b"authorization", f"Bearer {key}".encode()),
    ]

    async def call(body: bytes) -> list[dict[str, Any]]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/licences/verify",
            "raw_path": b"/v1/licences/verify",
            "query_string": b"",
            "root_path": "",
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return sent

    startup: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await startup.put({"type": "lifespan.startup"})
    lifespan = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, startup.get, replies.put)
    )
    started = await replies.get()
    if started["type"] != "lifespan.startup.complete":
        sys.exit(f"asgi_loop: the service did not start: {started}")
    for body in (bodies[0], bodies[-1]):
        sent = await call(body)
        if sent[0]["status"] != 200 or b'"PASSED"' not in sent[1]["body"]:
            sys.exit(f"asgi_loop: a licence did not pass: {sent[:2]}")
    chosen = [bodies[0]] * n if mode == "cached" else bodies[1 : n + 1]
    for body in chosen:
        await call(body)
    await startup.put({"type": "lifespan.shutdown"})
    await lifespan


if __name__ == "__main__":
    main()
