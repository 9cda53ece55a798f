"""Settings that cannot be mistyped: an unknown HUREN_* variable is warned about at start (refused
with HUREN_STRICT_SETTINGS=1), a missing or empty trust_dir stops the start naming the path, a
busy port is said first with the PORT= to use, and the settings the docs once named but the file
refused (status_sources, catalogue_source, pull_*, sync_resync_seconds) are settable."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from api.app import create_app
from api.settings import Settings, SettingsError
from api.sync.fanout import TrustSync
from demo.world import DemoWorld
from tests.support.api_support import RecordingSync, service_dir, settings_for

HUREN = Path(sys.executable).parent / "huren"


def test_a_misspelt_variable_is_warned_at_start_with_the_likely_name(
    demo_world: DemoWorld, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = {"HUREN_ANONYMOUS_SELFCHECK": "false", "HUREN_DEBUG": "1"}
    settings = Settings.load(None, env=env)
    assert settings.unknown_environment == ("HUREN_ANONYMOUS_SELFCHECK",)  # tooling names pass
    service_dir(demo_world, tmp_path)
    with caplog.at_level(logging.WARNING, logger="huren.app"):
        create_app(
            settings_for(tmp_path, unknown_environment=settings.unknown_environment),
            sync=RecordingSync(),  # type: ignore[arg-type]
        )
    [warning] = [r.getMessage() for r in caplog.records if "ignored environment" in r.getMessage()]
    assert "HUREN_ANONYMOUS_SELFCHECK (did you mean HUREN_ANONYMOUS_SELF_CHECK?)" in warning
    assert "HUREN_STRICT_SETTINGS=1" in warning


def test_strict_settings_refuse_unknown_variables() -> None:
    env = {"HUREN_STRICT_SETTINGS": "1", "HUREN_ANONYMOUS_SELFCHECK": "false", "HUREN_NOPE": "x"}
    with pytest.raises(SettingsError) as err:
        Settings.load(None, env=env)
    text = str(err.value)
    assert "HUREN_ANONYMOUS_SELFCHECK (did you mean HUREN_ANONYMOUS_SELF_CHECK?)" in text
    assert "HUREN_NOPE (no such setting)" in text
    assert Settings.load(None, env={"HUREN_STRICT_SETTINGS": "1", "HUREN_DEBUG": "1"})
    with pytest.raises(SettingsError, match="HUREN_STRICT_SETTINGS: expected a boolean"):
        Settings.load(None, env={"HUREN_STRICT_SETTINGS": "sure"})


def test_a_missing_or_empty_trust_dir_is_an_error_naming_the_path(
    demo_world: DemoWorld, tmp_path: Path
) -> None:
    service_dir(demo_world, tmp_path)
    typo = tmp_path / "trsut"
    with pytest.raises(SettingsError, match=f"trust_dir {typo} does not exist"):
        create_app(settings_for(tmp_path, trust_dir=typo), sync=RecordingSync())  # type: ignore[arg-type]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SettingsError, match=f"trust_dir {empty} holds no trust list") as err:
        create_app(settings_for(tmp_path, trust_dir=empty), sync=RecordingSync())  # type: ignore[arg-type]
    assert "huren trust submit" in str(err.value)
    # With sources to pull from, an empty directory is how a new instance starts.
    create_app(
        settings_for(tmp_path, trust_dir=empty, sources={"440300": "https://127.0.0.1:9/x"}),
        sync=RecordingSync(),  # type: ignore[arg-type]
    )


def test_pull_and_resync_settings_from_file_and_environment(tmp_path: Path) -> None:
    config = tmp_path / "huren.json"
    config.write_text(
        json.dumps(
            {
                "status_sources": ["https://status.example/1"],
                "catalogue_source": "https://example/catalogue",
                "pull_timeout_seconds": 3,
                "pull_max_bytes": 4096,
                "pull_retry_base_seconds": 0.5,
                "sync_resync_seconds": 12,
            }
        )
    )
    settings = Settings.load(config, env={"HUREN_PULL_MAX_BYTES": "8192"})
    assert settings.status_sources == ("https://status.example/1",)
    assert settings.pull_max_bytes == 8192  # the environment wins
    sync = TrustSync(settings, None, lambda kind: None)  # type: ignore[arg-type]
    assert (sync.puller.timeout, sync.puller.max_bytes, sync.puller.retry_base) == (3.0, 8192, 0.5)
    assert sync.resync_seconds == 12.0
    assert [s.name for s in sync.puller.sources] == [
        "status_list:https://status.example/1",
        "catalogue",
    ]
    with pytest.raises(SettingsError, match="list of URLs"):
        Settings.load(None, env={"HUREN_STATUS_SOURCES": '"https://one"'})
    with pytest.raises(SettingsError, match="pull_timeout_seconds must be positive"):
        Settings.load(None, env={"HUREN_PULL_TIMEOUT_SECONDS": "0"})


def test_a_busy_port_is_said_first_with_the_port_to_use(tmp_path: Path) -> None:
    """`huren serve` on a taken port: one line before any start-up output, exit 1, the PORT= to
    use; the config is not even read (it does not exist here)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUREN_")}
        done = subprocess.run(
            [HUREN, "serve", "--config", tmp_path / "nothing.json", "--port", str(port)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1 and done.stdout == "", done
    assert done.stderr.splitlines() == [
        f"huren: error [port_busy]: port {port} on 127.0.0.1 is already in use (another huren "
        f"still running?); stop it or choose another port: `make run PORT={port + 1}` or "
        f"`huren serve --port {port + 1}`"
    ]
