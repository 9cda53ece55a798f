"""The naive peer of issue 6: a bare FastAPI app, written the ordinary way.

- GET /ping returns a small dict (the ceiling for any endpoint under this server set-up).
- POST /verify takes {"token": ...} and returns `jwt.decode(token, key, algorithms=["ES256"])`
  with PyJWT; the key is the PEM public key named by $BENCH_NAIVE_KEY.

Handlers are `async def` and the body is a pydantic model: a fair peer, not a strawman. It is run
by bench/serve.py under exactly the same uvicorn settings as the service."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel


class VerifyRequest(BaseModel):
    token: str


def create_app() -> FastAPI:
    key_path = os.environ.get("BENCH_NAIVE_KEY")
    key = load_pem_public_key(Path(key_path).read_bytes()) if key_path else None
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, Any]:
        return {"status": "ok"}

    @app.post("/verify")
    async def verify(req: VerifyRequest) -> dict[str, Any]:
        if key is None:
            raise HTTPException(503, "no key configured")
        try:
            claims: dict[str, Any] = jwt.decode(
                req.token,
                key,
                algorithms=["ES256"],  # type: ignore[arg-type]
                options={"verify_aud": False},
            )
        except jwt.PyJWTError as exc:
            raise HTTPException(400, str(exc)) from exc
        return claims

    return app
