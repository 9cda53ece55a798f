"""Service settings (huren.json + HUREN_* environment), API keys, rate limiting, audit log."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from api.http.auth import (
    ApiKeysError,
    Authoriser,
    KeyRing,
    Permission,
    Role,
    TokenBucket,
    hash_secret,
)
from api.http.problems import ProblemError
from api.obs.audit import AuditLog
from api.settings import ENVIRONMENT_VARIABLES, Settings, SettingsError


def write_config(directory: Path, **doc: object) -> Path:
    path = directory / "huren.json"
    path.write_text(json.dumps(doc))
    return path


def test_config_file_paths_are_relative_to_the_file(tmp_path: Path):
    path = write_config(
        tmp_path,
        anchors="anchors.json",
        trust_dir="trust",
        receipt_key="keys/receipt.pem",
        api_keys="api-keys.json",
        grace_seconds=60,
        anonymous_self_check=True,
    )
    s = Settings.load(path, env={})
    base = tmp_path.resolve()
    assert s.anchors == base / "anchors.json"
    assert s.trust_dir == base / "trust"
    assert s.receipt_key == base / "keys/receipt.pem"
    assert s.api_keys_file == base / "api-keys.json"
    assert s.grace_seconds == 60 and s.anonymous_self_check is True
    assert s.config_path == path
    assert s.audit_log_path == base / "audit.log"
    assert s.redis_url is None and s.cache_max_ttl_seconds == 900


def test_environment_wins(tmp_path: Path):
    path = write_config(tmp_path, anchors="anchors.json", grace_seconds=60, redis_url="redis://a")
    env = {
        "HUREN_GRACE_SECONDS": "5",
        "HUREN_REDIS_URL": "redis://b:6379/0",
        "HUREN_ANONYMOUS_SELF_CHECK": "off",
        "HUREN_SOURCES": '{"440300": "https://sz.example/list.json"}',
        "HUREN_CACHE_SECRET": "0123456789abcdef0123",
        "HUREN_API_KEYS": '{"keys": []}',
        "HUREN_ANCHORS": "/etc/huren/anchors.json",
        "HUREN_REDIS_TIMEOUT_SECONDS": "0.5",
        "HUREN_MAX_BODY_BYTES": "1024",
        "HUREN_INSTANCE_ID": "replica-1",
    }
    s = Settings.load(path, env=env)
    assert s.grace_seconds == 5
    assert s.redis_url == "redis://b:6379/0"
    assert s.anonymous_self_check is False
    assert s.sources == {"440300": "https://sz.example/list.json"}
    assert s.cache_secret == b"0123456789abcdef0123" and not s.cache_secret_generated
    assert s.api_keys_json == '{"keys": []}'
    assert s.anchors == Path("/etc/huren/anchors.json")
    assert s.redis_timeout_seconds == 0.5 and s.max_body_bytes == 1024
    assert s.instance_id == "replica-1"


def test_config_from_huren_config_variable(tmp_path: Path):
    path = write_config(tmp_path, grace_seconds=7)
    assert Settings.load(env={"HUREN_CONFIG": str(path)}).grace_seconds == 7
    assert Settings.load(env={}).config_path is None


def test_cache_secret_is_generated_when_absent():
    a, b = Settings(), Settings()
    assert a.cache_secret_generated and len(a.cache_secret) == 32
    assert a.cache_secret != b.cache_secret
    assert a.cache_secret.hex() not in repr(a) and "cache_secret=" not in repr(a)


@pytest.mark.parametrize(
    ("doc", "env"),
    [
        ({"unknown": 1}, {}),
        ({"grace_seconds": "x"}, {}),
        ({"grace_seconds": True}, {}),
        ({"anonymous_self_check": "maybe"}, {}),
        ({"sources": ["a"]}, {}),
        ({"cache_secret": "short"}, {}),
        ({}, {"HUREN_GRACE_SECONDS": "soon"}),
        ({}, {"HUREN_MAX_BATCH_ITEMS": "0"}),
        ({}, {"HUREN_SOURCES": "{"}),
        ({"grace_seconds": -1}, {}),
        ({"ofd_limits": {"max_signaturez": 4}}, {}),
        ({"ofd_limits": {"max_signatures": 0}}, {}),
        ({}, {"HUREN_OFD_LIMITS": "[1]"}),
        ({"send_within_seconds": -0.001}, {}),
        ({}, {"HUREN_SEND_WITHIN_SECONDS": "2"}),
        ({}, {"HUREN_SEND_WITHIN_SECONDS": "nan"}),
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, doc: dict[str, object], env: dict[str, str]):
    with pytest.raises(SettingsError):
        Settings.load(write_config(tmp_path, **doc), env=env)


def test_ofd_caps_from_the_file_and_the_environment(tmp_path: Path):
    from verifier.national.ofd import OfdLimits

    cfg = write_config(tmp_path, ofd_limits={"max_signatures": 8, "max_ratio": 50})
    s = Settings.load(cfg, env={"HUREN_OFD_LIMITS": '{"max_hashed_bytes": 1048576}'})
    assert s.ofd_limits == OfdLimits(max_hashed_bytes=1048576)  # the environment wins whole
    s = Settings.load(cfg, env={})
    assert s.ofd_limits == OfdLimits(max_signatures=8, max_ratio=50)
    assert Settings().ofd_limits == OfdLimits()


def test_unreadable_or_malformed_config(tmp_path: Path):
    with pytest.raises(SettingsError):
        Settings.load(tmp_path / "missing.json", env={})
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(SettingsError):
        Settings.load(tmp_path / "bad.json", env={})
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(SettingsError):
        Settings.load(tmp_path / "list.json", env={})


def test_every_field_but_internals_has_an_environment_variable():
    internal = {"config_path", "cache_secret_generated", "unknown_environment"}
    fields = set(Settings.__dataclass_fields__) - internal
    assert fields == set(ENVIRONMENT_VARIABLES)
    assert all(v.startswith("HUREN_") for v in ENVIRONMENT_VARIABLES.values())


# -- API keys ---------------------------------------------------------------------------------


def ring(*entries: dict[str, object]) -> KeyRing:
    return KeyRing.parse(json.dumps({"keys": list(entries)}))


def test_keys_are_matched_by_hash():
    secret = "s3cret-value-1234567890"
    assert hash_secret(secret) == hashlib.sha256(secret.encode()).hexdigest()
    keys = ring(
        {"id": "c1", "role": "counter", "sha256": hash_secret(secret)},
        {"id": "a1", "role": "admin", "sha256": hash_secret("other"), "revoked": True},
    )
    found = keys.authenticate(secret)
    assert found is not None and found.id == "c1" and found.role is Role.COUNTER
    assert keys.authenticate("wrong") is None
    revoked = keys.authenticate("other")
    assert revoked is not None and revoked.revoked
    assert secret not in repr(found) and hash_secret(secret) not in repr(found)


@pytest.mark.parametrize(
    "doc",
    [
        "[]",
        '{"keys": {}}',
        '{"keys": [{"id": "x", "role": "root", "sha256": "' + "0" * 64 + '"}]}',
        '{"keys": [{"id": "x", "role": "admin", "sha256": "abc"}]}',
        '{"keys": [{"id": "x y", "role": "admin", "sha256": "' + "0" * 64 + '"}]}',
        '{"keys": [{"id": "x", "role": "admin", "sha256": "' + "0" * 64 + '", "revoked": 1}]}',
        '{"keys": [{"id": "x", "role": "admin", "sha256": "' + "0" * 64 + '", "secret": "s"}]}',
        '{"keys": [{"id": "x", "role": "admin", "sha256": "'
        + "0" * 64
        + '"}, {"id": "x", "role": "counter", "sha256": "'
        + "1" * 64
        + '"}]}',
        "{",
    ],
)
def test_malformed_key_files_are_refused(doc: str):
    with pytest.raises(ApiKeysError):
        KeyRing.parse(doc)


def test_inline_keys_win_over_the_file(tmp_path: Path):
    path = tmp_path / "api-keys.json"
    path.write_text(json.dumps({"keys": [{"id": "f", "role": "admin", "sha256": "0" * 64}]}))
    assert len(KeyRing.load(inline_json=None, path=path)) == 1
    assert len(KeyRing.load(inline_json='{"keys": []}', path=path)) == 0
    assert len(KeyRing.load(inline_json=None, path=None)) == 0
    with pytest.raises(ApiKeysError):
        KeyRing.load(inline_json=None, path=tmp_path / "missing.json")


def authoriser(anonymous: bool = True, burst: int = 2) -> Authoriser:
    keys = ring(
        {"id": "c", "role": "counter", "sha256": hash_secret("counter-key")},
        {"id": "b", "role": "business", "sha256": hash_secret("business-key")},
        {"id": "a", "role": "admin", "sha256": hash_secret("admin-key")},
    )
    t = [0.0]
    return Authoriser(
        keys, anonymous_self_check=anonymous, limiter=TokenBucket(60, burst, clock=lambda: t[0])
    )


@pytest.mark.parametrize(
    ("secret", "permission", "allowed"),
    [
        ("counter-key", Permission.VERIFY_LICENCE, True),
        ("counter-key", Permission.VERIFY_SEALED_DOCUMENT, True),
        ("counter-key", Permission.VERIFY_SEAL, False),
        ("counter-key", Permission.ADMIN, False),
        ("business-key", Permission.VERIFY_SEAL, True),
        ("business-key", Permission.VERIFY_SEALED_DOCUMENT, True),
        ("business-key", Permission.VERIFY_LICENCE, False),
        ("business-key", Permission.ADMIN, False),
        ("admin-key", Permission.ADMIN, True),
        ("admin-key", Permission.VERIFY_LICENCE, True),
        ("admin-key", Permission.VERIFY_SEAL, True),
    ],
)
def test_role_permissions(secret: str, permission: Permission, allowed: bool):
    a = authoriser()
    if allowed:
        p = a.authorise(permission, authorization=f"Bearer {secret}", x_api_key=None, client="c")
        assert p.key_id is not None
        p = a.authorise(permission, authorization=None, x_api_key=secret, client="c")
        assert not p.anonymous
    else:
        with pytest.raises(ProblemError) as info:
            a.authorise(permission, authorization=f"Bearer {secret}", x_api_key=None, client="c")
        assert info.value.status == 403


def test_anonymous_callers_and_the_token_bucket():
    a = authoriser(burst=2)
    kw = {"authorization": None, "x_api_key": None, "anonymous_allowed": True}
    assert a.authorise(Permission.VERIFY_SEAL, client="1.2.3.4", **kw).anonymous  # type: ignore[arg-type]
    assert a.authorise(Permission.VERIFY_SEAL, client="1.2.3.4", **kw).anonymous  # type: ignore[arg-type]
    with pytest.raises(ProblemError) as info:
        a.authorise(Permission.VERIFY_SEAL, client="1.2.3.4", **kw)  # type: ignore[arg-type]
    assert info.value.status == 429 and info.value.headers["Retry-After"] == "1"
    # Another address has its own bucket.
    assert a.authorise(Permission.VERIFY_SEAL, client="5.6.7.8", **kw).anonymous  # type: ignore[arg-type]
    # Anonymous is only for endpoints that allow it, and only when configured.
    with pytest.raises(ProblemError) as info:
        a.authorise(Permission.VERIFY_LICENCE, authorization=None, x_api_key=None, client="x")
    assert info.value.status == 401
    off = authoriser(anonymous=False)
    with pytest.raises(ProblemError) as info:
        off.authorise(Permission.VERIFY_SEAL, client="1.2.3.4", **kw)  # type: ignore[arg-type]
    assert info.value.status == 401


def test_token_bucket_refills():
    t = [0.0]
    bucket = TokenBucket(per_minute=60, burst=1, clock=lambda: t[0], max_clients=2)
    assert bucket.take("a") == 0.0
    assert bucket.take("a") == pytest.approx(1.0)
    t[0] = 0.5
    assert bucket.take("a") == pytest.approx(0.5)
    t[0] = 2.0
    assert bucket.take("a") == 0.0
    bucket.take("b")
    bucket.take("c")  # the table is bounded: "a" is forgotten (and starts full again)
    assert bucket.take("a") == 0.0


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token abc", "bearer " + "x" * 600]
)
def test_malformed_authorization_headers(header: str):
    with pytest.raises(ProblemError) as info:
        authoriser().authorise(
            Permission.VERIFY_LICENCE, authorization=header, x_api_key=None, client="c"
        )
    assert info.value.status == 401
    assert info.value.headers["WWW-Authenticate"].startswith("Bearer")


# -- audit log --------------------------------------------------------------------------------


def test_audit_log_appends_json_lines(tmp_path: Path):
    log = AuditLog(tmp_path / "sub" / "audit.log")
    log.append({"action": "trust_list", "detail": "line\nbreak", "名": "深圳"})
    log.append({"action": "catalogue"})
    lines = (tmp_path / "sub" / "audit.log").read_text("utf-8").splitlines()
    assert [json.loads(x)["action"] for x in lines] == ["trust_list", "catalogue"]
    assert json.loads(lines[0])["名"] == "深圳"
    mode = stat.S_IMODE(os.stat(tmp_path / "sub" / "audit.log").st_mode)
    assert mode & 0o007 == 0
    AuditLog(None).append({"action": "nowhere"})  # no path: nothing, no error
