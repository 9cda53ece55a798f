"""The settings table of docs/service.md against api/settings.py, in both directions, and the
settings the other documents name. A new setting needs its huren.json member, its HUREN_*
variable and its row; nothing else here changes."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from api.settings import (
    ENVIRONMENT_ONLY,
    ENVIRONMENT_VARIABLES,
    FILE_MEMBERS,
    TOOLING_VARIABLES,
    Settings,
)
from api.sync import fanout as sync

REPO = Path(__file__).resolve().parents[2]
DOCS = [*sorted((REPO / "docs").glob("*.md")), REPO / "README.md"]
# Fields that are derived at load time, not settings.
DERIVED = {"config_path", "cache_secret_generated", "unknown_environment"}
FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
ENV_TO_FIELD = {env: name for name, env in ENVIRONMENT_VARIABLES.items()}


def _rows() -> list[tuple[str | None, str, str]]:
    text = (REPO / "docs" / "service.md").read_text()
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("huren.json", "---"):
            continue
        member = None if cells[0] == "—" else cells[0].strip("`")
        env = re.fullmatch(r"`(HUREN_[A-Z0-9_]+)`( \([^)]*\))?", cells[1])
        assert env, f"environment cell {cells[1]!r} is not `HUREN_NAME`"
        rows.append((member, env.group(1), cells[2]))
    assert rows
    return rows


def _default(name: str) -> Any:
    f = FIELDS[name]
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else None


def test_every_row_is_a_setting_and_every_setting_a_row() -> None:
    rows = _rows()
    documented_env = [env for _, env, _ in rows]
    assert len(documented_env) == len(set(documented_env)), "a variable has two rows"
    known_env = set(ENVIRONMENT_VARIABLES.values()) | ENVIRONMENT_ONLY
    assert set(documented_env) - known_env == set(), "documented but not read by the code"
    assert known_env - set(documented_env) == set(), "read by the code but not documented"
    documented_members = {m for m, _, _ in rows if m is not None}
    assert documented_members == set(FILE_MEMBERS), "huren.json members and the table differ"
    for member, env, _ in rows:
        if member is not None:
            assert FILE_MEMBERS[member] == ENV_TO_FIELD[env], (member, env)


def test_every_setting_is_settable_by_file_and_environment() -> None:
    env_only = {
        ENV_TO_FIELD[e] for e in ("HUREN_API_KEYS",)
    }  # inline secret; the file names a path
    for name in set(FIELDS) - DERIVED:
        assert name in ENVIRONMENT_VARIABLES, f"{name}: no HUREN_* variable"
        if name not in env_only:
            assert name in FILE_MEMBERS.values(), f"{name}: no huren.json member"


def test_documented_plain_defaults_are_the_code_defaults() -> None:
    checked = 0
    for _, env, default in _rows():
        name = ENV_TO_FIELD.get(env)
        if name is None:
            continue
        value = _default(name)
        if re.fullmatch(r"-?\d+(\.\d+)?", default):
            assert float(default) == value, (env, default, value)
        elif default in ("true", "false"):
            assert (default == "true") == value, (env, default, value)
        elif re.fullmatch(r"`[^`]*`", default) and isinstance(value, str):
            assert default.strip("`") == value, (env, default, value)
        elif default in ("[]", "{}"):
            assert not value, (env, default, value)
        else:
            continue
        checked += 1
    assert checked >= 15


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_documents_name_only_real_settings_and_variables(doc: Path) -> None:
    text = doc.read_text()
    known = set(ENVIRONMENT_VARIABLES.values()) | ENVIRONMENT_ONLY | TOOLING_VARIABLES
    for name in set(re.findall(r"\bHUREN_[A-Z0-9_]*[A-Z0-9]\b", text)):
        assert name in known, f"{doc.name} names {name}, which nothing reads"
    for name in set(re.findall(r"\bsettings\.([a-z_]+)\b", text)) - {"py"}:  # settings.py
        assert name in FIELDS, f"{doc.name} names settings.{name}, which is no setting"


def test_sync_defaults_are_the_settings_defaults() -> None:
    """api/sync/ reads settings duck-typed with defaults of its own: one meaning for each."""
    assert _default("pull_interval_seconds") == sync.DEFAULT_PULL_INTERVAL
    assert _default("pull_timeout_seconds") == sync.DEFAULT_PULL_TIMEOUT
    assert _default("pull_max_bytes") == sync.DEFAULT_PULL_MAX_BYTES
    assert _default("pull_retry_base_seconds") == sync.DEFAULT_PULL_RETRY_BASE
    assert _default("sync_resync_seconds") == sync.DEFAULT_RESYNC_SECONDS
    assert _default("sync_budget_documents") == sync.DEFAULT_BUDGET_DOCUMENTS
    assert _default("sync_budget_bytes") == sync.DEFAULT_BUDGET_BYTES
    assert _default("sync_budget_seconds") == sync.DEFAULT_BUDGET_SECONDS
    assert _default("sync_max_lag_seconds") == sync.DEFAULT_MAX_LAG_SECONDS
    assert _default("redis_timeout_seconds") == sync.DEFAULT_TIMEOUT
    assert _default("redis_prefix") == sync.DEFAULT_PREFIX
