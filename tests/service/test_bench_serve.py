"""The bench serves huren on the protocol `huren serve` serves it on, the baselines on uvicorn's."""

from __future__ import annotations

import inspect

import pytest
from uvicorn.importer import import_from_string

import api.server
from api.http.transport import HttpProtocol
from api.settings import Settings
from bench.serve import SERVICE_PROTOCOL, UVICORN_SETTINGS


def test_bench_runs_huren_on_the_protocol_huren_serve_uses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HUREN_CONFIG", raising=False)
    monkeypatch.delenv("HUREN_SEND_WITHIN_SECONDS", raising=False)
    assert "http=protocol_for(settings)" in inspect.getsource(api.server._serve_one)
    protocol = import_from_string(SERVICE_PROTOCOL)()
    assert issubclass(protocol, HttpProtocol)
    # ... with the setting's default bound, which is what huren serve runs unless told
    assert protocol.send_within == Settings().send_within_seconds == HttpProtocol.send_within


def test_bench_serves_huren_with_the_bound_its_settings_give(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A run measuring another bound sets it as an operator would, and the bench must honour it
    monkeypatch.delenv("HUREN_CONFIG", raising=False)
    monkeypatch.setenv("HUREN_SEND_WITHIN_SECONDS", "0.25")
    assert import_from_string(SERVICE_PROTOCOL)().send_within == 0.25
    assert api.server.protocol_for(Settings(send_within_seconds=0.0)).send_within == 0.0


def test_baselines_run_on_uvicorns_own_protocol() -> None:
    assert UVICORN_SETTINGS["http"] == "httptools"
