"""Service settings: the huren.json configuration file (docs/CONTRACTS.md) overlaid by `HUREN_*`
environment variables (the environment wins). Immutable once loaded.

Paths in the file are relative to the file's own directory; paths in the environment are taken
as given (relative to the working directory)."""

from __future__ import annotations

import difflib
import json
import os
import secrets
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from api.http.auth import proxy_networks
from api.state.redis import RedisConfig, RedisConfigError, check_prefix
from verifier.national.ofd import OfdLimits

MAX_CONFIG_BYTES = 1024 * 1024
MAX_PERIOD_SECONDS = 10 * 366 * 86400  # a grace or TTL beyond this is a typing error


class SettingsError(ValueError):
    """The configuration file or an environment variable is unusable."""


def _default_instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class Settings:
    # -- trust state ----------------------------------------------------------------------
    anchors: Path | None = None
    trust_dir: Path | None = None
    grace_seconds: int = 0
    expiry_warning_seconds: int = 2 * 86400  # /readyz warns this long before lists lapse
    # -- receipts ---------------------------------------------------------------------------
    receipt_key: Path | None = None  # PKCS#8 PEM (ES256); generated in memory if absent
    # -- callers ----------------------------------------------------------------------------
    api_keys_file: Path | None = None
    api_keys_json: str | None = None  # inline JSON (env HUREN_API_KEYS), wins over the file
    anonymous_self_check: bool = False
    anonymous_rate_per_minute: int = 30
    anonymous_burst: int = 10
    forwarded_allow_ips: tuple[str, ...] = ()  # proxies whose X-Forwarded-For is believed
    audit_log: Path | None = None  # default: <trust_dir>/../audit.log
    # -- limits -----------------------------------------------------------------------------
    max_body_bytes: int = 8 * 1024 * 1024
    max_batch_items: int = 1000
    fast_lane: bool = True  # licence verify spared FastAPI's routing (api/http/fast_lane.py)
    # -- costly verifications off the event loop (api/workers.py) --------------------------
    verify_workers: int = 2
    verify_queue: int = 8
    verify_deadline_seconds: float = 10.0
    ofd_limits: OfdLimits = field(default_factory=OfdLimits)  # caps per OFD document
    # -- cache and propagation (api/state/cache.py, api/sync/; Redis: api/state/redis.py) ---
    redis_mode: str = "standalone"  # standalone (redis_url), sentinel or cluster
    redis_url: str | None = None
    redis_nodes: tuple[str, ...] = ()  # cluster: host:port seeds
    redis_sentinels: tuple[str, ...] = ()  # sentinel: host:port of the sentinels
    redis_master_name: str | None = None  # sentinel: the monitored master's name
    redis_username: str | None = None
    redis_password: str | None = field(default=None, repr=False)
    redis_sentinel_password: str | None = field(default=None, repr=False)
    redis_tls: bool = False
    redis_tls_ca_file: Path | None = None
    redis_wait_replicas: int | None = None  # replicas an upload must reach (default by mode)
    redis_wait_seconds: float = 1.0  # how long an upload waits for them before a 503
    redis_prefix: str = "huren:v1:"  # every Redis key and channel holds it; no { or }
    cache_max_entries: int = 10_000
    cache_max_ttl_seconds: int = 900
    cache_secret: bytes = field(default=b"", repr=False)
    redis_timeout_seconds: float = 0.25
    sources: Mapping[str, str] = field(default_factory=dict)
    status_sources: tuple[str, ...] = ()  # URLs of published status list tokens
    catalogue_source: str | None = None
    pull_interval_seconds: int = 300
    pull_timeout_seconds: float = 10.0  # one whole pull exchange
    pull_max_bytes: int = 8 * 1024 * 1024
    pull_retry_base_seconds: float = 1.0  # first backoff after a failed pull
    sync_resync_seconds: float = 30.0  # full catch-up from Redis even without notifications
    sync_budget_documents: int = 16  # one catch-up judges at most this many documents,
    sync_budget_bytes: int = 16 * 1024 * 1024  # this many bytes,
    sync_budget_seconds: float = 0.5  # and starts none after this long
    sync_max_lag_seconds: float = 30.0  # /readyz fails when sync is behind longer
    sync_max_broken_seconds: float = 60.0  # /readyz fails when Redis refuses sync longer
    instance_id: str = field(default_factory=_default_instance_id)
    # -- lifecycle (api/readiness.py, api/server.py) --------------------------------------
    drain_seconds: float = 5.0  # after SIGTERM: /readyz 503, requests still served this long
    workers: int = 1  # processes of `huren serve`; more than one needs a trust_dir or Redis
    # Answers held for their turn's company leave with the next answer to complete once the
    # first has waited this long (api/http/transport.py): throughput under load against
    # latency when requests arrive together. Longer than a saturated turn on two cores (~7 ms
    # for uncached licences), so a full load keeps its one send per turn (docs/performance.md).
    send_within_seconds: float = 0.01
    # -- misc -------------------------------------------------------------------------------
    log_level: str = "INFO"
    config_path: Path | None = None
    cache_secret_generated: bool = False
    unknown_environment: tuple[str, ...] = ()  # HUREN_* names that are no setting (warned)

    def __post_init__(self) -> None:
        if not self.cache_secret:
            object.__setattr__(self, "cache_secret", secrets.token_bytes(32))
            object.__setattr__(self, "cache_secret_generated", True)
        for name in (
            "max_body_bytes",
            "max_batch_items",
            "cache_max_entries",
            "anonymous_rate_per_minute",
            "anonymous_burst",
            "pull_interval_seconds",
            "pull_timeout_seconds",
            "pull_max_bytes",
            "pull_retry_base_seconds",
            "sync_resync_seconds",
            "sync_budget_documents",
            "sync_budget_bytes",
            "sync_budget_seconds",
            "sync_max_lag_seconds",
            "sync_max_broken_seconds",
            "verify_workers",
            "workers",
        ):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name} must be positive")
        for name in (
            "grace_seconds",
            "cache_max_ttl_seconds",
            "expiry_warning_seconds",
            "drain_seconds",
        ):
            if getattr(self, name) < 0:
                raise SettingsError(f"{name} must be >= 0")
        if not 0 <= self.send_within_seconds <= 1:
            raise SettingsError("send_within_seconds must be between 0 and 1")
        if max(self.grace_seconds, self.cache_max_ttl_seconds) > MAX_PERIOD_SECONDS:
            raise SettingsError("grace_seconds and cache_max_ttl_seconds must be at most 10 years")
        if self.redis_timeout_seconds <= 0:
            raise SettingsError("redis_timeout_seconds must be positive")
        object.__setattr__(self, "redis_nodes", tuple(self.redis_nodes))
        object.__setattr__(self, "redis_sentinels", tuple(self.redis_sentinels))
        try:
            RedisConfig.from_settings(self)
            check_prefix(self.redis_prefix)
        except RedisConfigError as exc:
            raise SettingsError(str(exc)) from None
        if self.verify_queue < 0 or not 0 < self.verify_deadline_seconds <= 3600:
            raise SettingsError("verify_queue must be >= 0, verify_deadline_seconds in (0, 3600]")
        object.__setattr__(self, "sources", dict(self.sources))
        object.__setattr__(self, "status_sources", tuple(self.status_sources))

    @property
    def audit_log_path(self) -> Path | None:
        if self.audit_log is not None:
            return self.audit_log
        if self.trust_dir is not None:
            return self.trust_dir.resolve().parent / "audit.log"
        return None

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def load(
        cls, config_path: Path | str | None = None, env: Mapping[str, str] | None = None
    ) -> Settings:
        """The file at config_path (or $HUREN_CONFIG), overlaid by HUREN_* variables."""
        env = os.environ if env is None else env
        if config_path is None and env.get("HUREN_CONFIG"):
            config_path = env["HUREN_CONFIG"]
        values: dict[str, Any] = {}
        if config_path is not None:
            path = Path(config_path)
            values.update(_read_config(path))
            values["config_path"] = path
        values["unknown_environment"] = _unknown_environment(env)
        for name, (env_name, convert) in _ENV.items():
            raw = env.get(env_name)
            if raw is not None and raw != "":
                try:
                    values[name] = convert(raw)
                except (ValueError, TypeError) as exc:
                    raise SettingsError(f"{env_name}: {exc}") from exc
        return cls(**values)


# -- conversion ------------------------------------------------------------------------------


def _bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if isinstance(raw, str) and raw.strip().lower() in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected a boolean, got {raw!r}")


def _int(raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise ValueError(f"expected an integer, got {raw!r}")
    return int(raw)


def _float(raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError(f"expected a number, got {raw!r}")
    return float(raw)


def _str(raw: object) -> str:
    if not isinstance(raw, str):
        raise ValueError(f"expected a string, got {raw!r}")
    return raw


def _secret(raw: object) -> bytes:
    text = _str(raw)
    if len(text) < 16:
        raise ValueError("the cache secret must be at least 16 characters")
    return text.encode("utf-8")


def _sources(raw: object) -> dict[str, str]:
    value = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError("sources must be an object {jurisdiction: url}")
    return dict(value)


def _proxies(raw: object) -> tuple[str, ...]:
    """Trusted proxies: a list, or a comma-separated string, of addresses or networks."""
    values = _str(raw).split(",") if isinstance(raw, str) else raw
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise ValueError("expected addresses or networks, comma-separated or as a list")
    return tuple(str(net) for net in proxy_networks(v for v in values if v.strip()))


def _ofd_limits(raw: object) -> OfdLimits:
    """{"max_signatures": 16, ...}: the OfdLimits fields to change (docs/national-formats.md)."""
    value = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(value, dict):
        raise ValueError("ofd_limits must be an object {cap: integer}")
    unknown = set(value) - set(OfdLimits.__slots__)
    if unknown:
        raise ValueError(f"ofd_limits has unknown caps {sorted(unknown)}")
    return OfdLimits(**{k: _int(v) for k, v in value.items()})


def _path(raw: object) -> Path:
    return Path(_str(raw))


def _addresses(raw: object) -> tuple[str, ...]:
    """host:port addresses: a list, or a comma-separated string."""
    values = _str(raw).split(",") if isinstance(raw, str) else raw
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise ValueError("expected host:port addresses, comma-separated or as a list")
    return tuple(v.strip() for v in values if v.strip())


def _urls(raw: object) -> tuple[str, ...]:
    value = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError('expected a list of URLs, e.g. ["https://status.example/1"]')
    return tuple(value)


# field name -> (environment variable, converter)
_ENV: dict[str, tuple[str, Callable[[str], Any]]] = {
    "anchors": ("HUREN_ANCHORS", _path),
    "trust_dir": ("HUREN_TRUST_DIR", _path),
    "grace_seconds": ("HUREN_GRACE_SECONDS", _int),
    "expiry_warning_seconds": ("HUREN_EXPIRY_WARNING_SECONDS", _int),
    "receipt_key": ("HUREN_RECEIPT_KEY", _path),
    "api_keys_file": ("HUREN_API_KEYS_FILE", _path),
    "api_keys_json": ("HUREN_API_KEYS", _str),
    "anonymous_self_check": ("HUREN_ANONYMOUS_SELF_CHECK", _bool),
    "anonymous_rate_per_minute": ("HUREN_ANONYMOUS_RATE_PER_MINUTE", _int),
    "anonymous_burst": ("HUREN_ANONYMOUS_BURST", _int),
    "forwarded_allow_ips": ("HUREN_FORWARDED_ALLOW_IPS", _proxies),
    "audit_log": ("HUREN_AUDIT_LOG", _path),
    "max_body_bytes": ("HUREN_MAX_BODY_BYTES", _int),
    "max_batch_items": ("HUREN_MAX_BATCH_ITEMS", _int),
    "fast_lane": ("HUREN_FAST_LANE", _bool),
    "verify_workers": ("HUREN_VERIFY_WORKERS", _int),
    "verify_queue": ("HUREN_VERIFY_QUEUE", _int),
    "verify_deadline_seconds": ("HUREN_VERIFY_DEADLINE_SECONDS", _float),
    "ofd_limits": ("HUREN_OFD_LIMITS", _ofd_limits),
    "redis_mode": ("HUREN_REDIS_MODE", _str),
    "redis_url": ("HUREN_REDIS_URL", _str),
    "redis_nodes": ("HUREN_REDIS_NODES", _addresses),
    "redis_sentinels": ("HUREN_REDIS_SENTINELS", _addresses),
    "redis_master_name": ("HUREN_REDIS_MASTER_NAME", _str),
    "redis_username": ("HUREN_REDIS_USERNAME", _str),
    "redis_password": ("HUREN_REDIS_PASSWORD", _str),
    "redis_sentinel_password": ("HUREN_REDIS_SENTINEL_PASSWORD", _str),
    "redis_tls": ("HUREN_REDIS_TLS", _bool),
    "redis_tls_ca_file": ("HUREN_REDIS_TLS_CA_FILE", _path),
    "redis_wait_replicas": ("HUREN_REDIS_WAIT_REPLICAS", _int),
    "redis_wait_seconds": ("HUREN_REDIS_WAIT_SECONDS", _float),
    "redis_prefix": ("HUREN_REDIS_PREFIX", _str),
    "cache_max_entries": ("HUREN_CACHE_MAX_ENTRIES", _int),
    "cache_max_ttl_seconds": ("HUREN_CACHE_MAX_TTL_SECONDS", _int),
    "cache_secret": ("HUREN_CACHE_SECRET", _secret),
    "redis_timeout_seconds": ("HUREN_REDIS_TIMEOUT_SECONDS", _float),
    "sources": ("HUREN_SOURCES", _sources),
    "status_sources": ("HUREN_STATUS_SOURCES", _urls),
    "catalogue_source": ("HUREN_CATALOGUE_SOURCE", _str),
    "pull_interval_seconds": ("HUREN_PULL_INTERVAL_SECONDS", _int),
    "pull_timeout_seconds": ("HUREN_PULL_TIMEOUT_SECONDS", _float),
    "pull_max_bytes": ("HUREN_PULL_MAX_BYTES", _int),
    "pull_retry_base_seconds": ("HUREN_PULL_RETRY_BASE_SECONDS", _float),
    "sync_resync_seconds": ("HUREN_SYNC_RESYNC_SECONDS", _float),
    "sync_budget_documents": ("HUREN_SYNC_BUDGET_DOCUMENTS", _int),
    "sync_budget_bytes": ("HUREN_SYNC_BUDGET_BYTES", _int),
    "sync_budget_seconds": ("HUREN_SYNC_BUDGET_SECONDS", _float),
    "sync_max_lag_seconds": ("HUREN_SYNC_MAX_LAG_SECONDS", _float),
    "sync_max_broken_seconds": ("HUREN_SYNC_MAX_BROKEN_SECONDS", _float),
    "drain_seconds": ("HUREN_DRAIN_SECONDS", _float),
    "send_within_seconds": ("HUREN_SEND_WITHIN_SECONDS", _float),
    "workers": ("HUREN_WORKERS", _int),
    "instance_id": ("HUREN_INSTANCE_ID", _str),
    "log_level": ("HUREN_LOG_LEVEL", _str),
}

# huren.json member -> (field name, converter); paths are resolved against the file's directory
_FILE: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "anchors": ("anchors", _path),
    "trust_dir": ("trust_dir", _path),
    "grace_seconds": ("grace_seconds", _int),
    "expiry_warning_seconds": ("expiry_warning_seconds", _int),
    "receipt_key": ("receipt_key", _path),
    "api_keys": ("api_keys_file", _path),
    "anonymous_self_check": ("anonymous_self_check", _bool),
    "anonymous_rate_per_minute": ("anonymous_rate_per_minute", _int),
    "anonymous_burst": ("anonymous_burst", _int),
    "forwarded_allow_ips": ("forwarded_allow_ips", _proxies),
    "audit_log": ("audit_log", _path),
    "max_body_bytes": ("max_body_bytes", _int),
    "max_batch_items": ("max_batch_items", _int),
    "fast_lane": ("fast_lane", _bool),
    "verify_workers": ("verify_workers", _int),
    "verify_queue": ("verify_queue", _int),
    "verify_deadline_seconds": ("verify_deadline_seconds", _float),
    "ofd_limits": ("ofd_limits", _ofd_limits),
    "redis_mode": ("redis_mode", _str),
    "redis_url": ("redis_url", _str),
    "redis_nodes": ("redis_nodes", _addresses),
    "redis_sentinels": ("redis_sentinels", _addresses),
    "redis_master_name": ("redis_master_name", _str),
    "redis_username": ("redis_username", _str),
    "redis_password": ("redis_password", _str),
    "redis_sentinel_password": ("redis_sentinel_password", _str),
    "redis_tls": ("redis_tls", _bool),
    "redis_tls_ca_file": ("redis_tls_ca_file", _path),
    "redis_wait_replicas": ("redis_wait_replicas", _int),
    "redis_wait_seconds": ("redis_wait_seconds", _float),
    "redis_prefix": ("redis_prefix", _str),
    "cache_max_entries": ("cache_max_entries", _int),
    "cache_max_ttl_seconds": ("cache_max_ttl_seconds", _int),
    "cache_secret": ("cache_secret", _secret),
    "redis_timeout_seconds": ("redis_timeout_seconds", _float),
    "sources": ("sources", _sources),
    "status_sources": ("status_sources", _urls),
    "catalogue_source": ("catalogue_source", _str),
    "pull_interval_seconds": ("pull_interval_seconds", _int),
    "pull_timeout_seconds": ("pull_timeout_seconds", _float),
    "pull_max_bytes": ("pull_max_bytes", _int),
    "pull_retry_base_seconds": ("pull_retry_base_seconds", _float),
    "sync_resync_seconds": ("sync_resync_seconds", _float),
    "sync_budget_documents": ("sync_budget_documents", _int),
    "sync_budget_bytes": ("sync_budget_bytes", _int),
    "sync_budget_seconds": ("sync_budget_seconds", _float),
    "sync_max_lag_seconds": ("sync_max_lag_seconds", _float),
    "sync_max_broken_seconds": ("sync_max_broken_seconds", _float),
    "drain_seconds": ("drain_seconds", _float),
    "send_within_seconds": ("send_within_seconds", _float),
    "workers": ("workers", _int),
    "instance_id": ("instance_id", _str),
    "log_level": ("log_level", _str),
}

_PATH_FIELDS = frozenset(
    {"anchors", "trust_dir", "receipt_key", "api_keys_file", "audit_log", "redis_tls_ca_file"}
)


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"cannot read config file {path}: {exc.strerror}") from exc
    if len(data) > MAX_CONFIG_BYTES:
        raise SettingsError(f"config file {path} is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SettingsError(f"config file {path} is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise SettingsError(f"config file {path} must hold a JSON object")
    unknown = set(doc) - set(_FILE)
    if unknown:
        raise SettingsError(f"config file {path} has unknown members {sorted(unknown)}")
    base = path.resolve().parent
    values: dict[str, Any] = {}
    for member, raw in doc.items():
        name, convert = _FILE[member]
        if raw is None:
            continue
        try:
            value = convert(raw)
        except (ValueError, TypeError) as exc:
            raise SettingsError(f"config file {path}: {member}: {exc}") from exc
        if name in _PATH_FIELDS:
            value = base / value
        values[name] = value
    return values


ENVIRONMENT_VARIABLES: Mapping[str, str] = {name: env for name, (env, _) in _ENV.items()}
# huren.json member -> field name
FILE_MEMBERS: Mapping[str, str] = {member: name for member, (name, _) in _FILE.items()}
# Read from the environment only: where the file is, and whether unknown HUREN_* names are refused.
ENVIRONMENT_ONLY = frozenset({"HUREN_CONFIG", "HUREN_STRICT_SETTINGS"})
# HUREN_* names read by the command line and the tests, not by the service: never warned about.
TOOLING_VARIABLES = frozenset(
    {"HUREN_DEBUG", "HUREN_REQUIRE_VECTORS", "HUREN_REQUIRE_REDIS", "HUREN_CHROMIUM"}
)


def _unknown_environment(env: Mapping[str, str]) -> tuple[str, ...]:
    """HUREN_* names that are no setting (a typo would otherwise be silently ignored); refused
    when HUREN_STRICT_SETTINGS is on, else returned for the service to warn about at start."""
    known = set(ENVIRONMENT_VARIABLES.values()) | ENVIRONMENT_ONLY | TOOLING_VARIABLES
    unknown = sorted(n for n in env if n.startswith("HUREN_") and n not in known)
    strict = env.get("HUREN_STRICT_SETTINGS", "")
    try:
        refuse = bool(strict) and _bool(strict)
    except ValueError as exc:
        raise SettingsError(f"HUREN_STRICT_SETTINGS: {exc}") from None
    if unknown and refuse:
        raise SettingsError(
            "unknown environment variables (HUREN_STRICT_SETTINGS is on): "
            + "; ".join(describe_unknown(n, known) for n in unknown)
        )
    return tuple(unknown)


def describe_unknown(name: str, known: set[str] | None = None) -> str:
    """`NAME`, and the setting it was probably meant to be."""
    if known is None:
        known = set(ENVIRONMENT_VARIABLES.values()) | ENVIRONMENT_ONLY
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
    return f"{name} (did you mean {close[0]}?)" if close else f"{name} (no such setting)"


__all__ = [
    "ENVIRONMENT_ONLY",
    "ENVIRONMENT_VARIABLES",
    "FILE_MEMBERS",
    "TOOLING_VARIABLES",
    "Settings",
    "SettingsError",
    "describe_unknown",
]
