"""JSON response bodies, fast: the bytes Starlette's JSONResponse would send, made by orjson."""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.responses import JSONResponse


def dump_json(content: Any) -> bytes:
    """The bytes Starlette's JSONResponse renders for `content` (compact, UTF-8, no NaN), made by
    orjson: for the str/int/bool/None/list/dict values of verdicts and problems the two agree
    byte for byte (keys in insertion order, the same escapes; verdicts hold no floats). What
    orjson would read differently or cannot encode (a subclass of str, int or dict, an integer
    beyond 64 bits, a non-str key) is left to the json module."""
    try:
        return orjson.dumps(content, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
    except orjson.JSONEncodeError:
        return json.dumps(
            content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
        ).encode("utf-8")


class RenderedJSONResponse(JSONResponse):
    """A JSONResponse (same media type and headers) given its body as bytes from dump_json."""

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else super().render(content)


__all__ = ["RenderedJSONResponse", "dump_json"]
