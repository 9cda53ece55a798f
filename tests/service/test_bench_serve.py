"""The bench serves huren on the protocol `huren serve` serves it on, the baselines on uvicorn's."""

from __future__ import annotations

import inspect

from uvicorn.importer import import_from_string

import api.server
from api.http.transport import HttpProtocol
from api.settings import Settings
from bench.serve import SERVICE_PROTOCOL, UVICORN_SETTINGS


def test_bench_runs_huren_on_the_protocol_huren_serve_uses() -> None:
    assert import_from_string(SERVICE_PROTOCOL) is HttpProtocol
    assert "http=HttpProtocol" in inspect.getsource(api.server._serve_one)
    # ... with the setting's default bound, which is what huren serve runs unless told
    assert HttpProtocol.send_within == Settings().send_within_seconds


def test_baselines_run_on_uvicorns_own_protocol() -> None:
    assert UVICORN_SETTINGS["http"] == "httptools"
