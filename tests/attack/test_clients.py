"""Hostile and careless clients (GitHub issue 7).

- schemathesis against the service's own OpenAPI document, every operation, without a key
  (tests/service/test_schema.py does the same with an admin key): no 5xx, every documented status,
  every error a problem+json body;
- every endpoint that takes a body, fed oversized (declared and streamed), wrongly typed,
  truncated, deeply nested, invalid UTF-8 and empty bodies: a 4xx problem, trust state untouched;
- truncated multipart at every cut, huge batches;
- bounded memory: a real service process fed the worst of the above keeps its resident size;
- authentication on every protected operation: no key, unknown key, revoked key, wrong role,
  malformed headers; and the key comparison is constant-time by construction (a code-level test:
  hmac.compare_digest over fixed-length digests, every stored key compared, no early exit)."""

from __future__ import annotations

import ast
import asyncio
import hashlib
import inspect
import json
import socket
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
)

from api.app import create_app
from api.http import auth as auth_module
from api.http.auth import ApiKey, KeyRing, Role, hash_secret
from api.http.problems import PROBLEM_MEDIA_TYPE
from demo.world import DEMO_EPOCH, DemoWorld, build_demo_world
from tests.support import server_support
from tests.support.api_support import (
    SECRETS,
    SZ,
    ZS,
    Clock,
    RecordingSync,
    auth,
    service_dir,
    settings_for,
)
from tests.support.endpoints import BATCH, LICENCE, SEAL, SEALED

TRUST = f"/v1/trust-lists/{SZ}"
STATUS = "/v1/status-lists"
CATALOGUE = "/v1/catalogue"
MAX_BODY = 256 * 1024

# -- schemathesis without a key and with the wrong role ---------------------------------------

_root = service_dir(build_demo_world(DEMO_EPOCH), Path(tempfile.mkdtemp(prefix="huren-abuse-")))
_app = create_app(
    settings_for(_root, max_body_bytes=MAX_BODY, anonymous_burst=1_000_000),
    clock=Clock(DEMO_EPOCH),
    sync=RecordingSync(),  # type: ignore[arg-type]
)
schema = schemathesis.openapi.from_asgi("/openapi.json", _app)
# Examples and fuzzing only: the systematic "coverage" phase (every boundary value, every wrong
# method) already runs with an admin key in tests/service/test_schema.py, and costs ~20 s per run.
schema.config.phases.coverage.enabled = False
schemathesis.serializer.alias("application/statuslist+jwt", "text/plain")
schemathesis.serializer.alias("application/jose", "text/plain")


def _needs_key(case: schemathesis.Case) -> bool:
    security = case.operation.definition.raw.get("security", [{}])
    return bool(security) and {} not in security


@schema.parametrize()
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
def test_schema_conformance_without_a_key(case: schemathesis.Case) -> None:
    """No key at all (tests/service/test_schema.py runs with an admin key; a key of the wrong role
    is tested on every operation by test_roles_on_every_protected_operation below)."""
    excluded = [positive_data_acceptance]  # valid data is rightly refused: 401
    if case.media_type == "multipart/form-data":
        excluded.append(negative_data_rejection)  # see tests/service/test_schema.py
    response = case.call_and_validate(excluded_checks=excluded)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == [PROBLEM_MEDIA_TYPE]
    same_method = case.method.upper() == case.operation.method.upper()
    if _needs_key(case) and same_method:
        assert response.status_code == 401, (case.method, case.path, response.text)


# -- hostile bodies on every endpoint that takes one -------------------------------------------


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory, demo_world: DemoWorld) -> Iterator[TestClient]:
    root = service_dir(demo_world, tmp_path_factory.mktemp("abuse") / "svc")
    app = create_app(
        settings_for(root, max_body_bytes=MAX_BODY, max_batch_items=50),
        clock=Clock(DEMO_EPOCH),
        sync=RecordingSync(),  # type: ignore[arg-type]
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


BODY_ENDPOINTS = [
    ("POST", LICENCE, "application/json"),
    ("POST", SEAL, "application/json"),
    ("POST", SEALED, "application/json"),
    ("POST", BATCH, "application/json"),
    ("PUT", TRUST, "application/json"),
    ("POST", TRUST, "application/json"),
    ("POST", STATUS, "application/statuslist+jwt"),
    ("PUT", CATALOGUE, "application/json"),
]
IDS = [f"{m} {p}" for m, p, _ in BODY_ENDPOINTS]


def problem(r: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert r.status_code in statuses, (r.status_code, r.text[:300])
    assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE, r.headers
    body: dict[str, Any] = r.json()
    assert body["status"] == r.status_code and body["code"] and body["request_id"]
    assert "Traceback" not in r.text
    return body


def trust_state(client: TestClient) -> tuple[str, bytes]:
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    return ctx.store.state.version, client.get("/v1/trust-lists").content


def _deep(n: int) -> bytes:
    return b'{"token":"x","relying_jurisdiction":"442000","items":' + b"[" * n + b"]" * n + b"}"


HOSTILE_BODIES: dict[str, tuple[bytes, tuple[int, ...]]] = {
    "deep-array": (_deep(100_000), (400, 422)),
    "deep-object": (
        b'{"payload":' + b'{"a":' * 40_000 + b"1" + b"}" * 40_000 + b"}",
        (400, 422),
    ),
    "invalid-utf8": (b'{"token":"\xff\xfe\xfd","relying_jurisdiction":"442000"}', (400, 422)),
    "overlong-utf8-nul": (b'{"token":"\xc0\x80","relying_jurisdiction":"442000"}', (400, 422)),
    "utf16-json": (
        json.dumps({"token": "x", "relying_jurisdiction": ZS}).encode("utf-16"),
        (400, 422),
    ),
    "lone-surrogate-escape": (b'{"token":"\\ud800","relying_jurisdiction":"442000"}', (400, 422)),
    "truncated-json": (b'{"token": "eyJhbGciOiJFUzI1NiJ9.e', (400, 422)),
    "json-null": (b"null", (400, 422)),
    "json-array": (b"[]", (400, 422)),
    "json-number": (b"1e999999", (400, 422)),
    "huge-integer": (b'{"token":"x","relying_jurisdiction":' + b"9" * 5000 + b"}", (400, 422)),
    "nul-bytes": (b"\x00" * 1000, (400, 422)),
    "empty": (b"", (400, 422)),
}


@pytest.mark.parametrize("kind", list(HOSTILE_BODIES))
@pytest.mark.parametrize(("method", "path", "media"), BODY_ENDPOINTS, ids=IDS)
def test_hostile_bodies_are_4xx_problems(
    svc: TestClient, method: str, path: str, media: str, kind: str
) -> None:
    body, allowed = HOSTILE_BODIES[kind]
    before = trust_state(svc)
    r = svc.request(method, path, content=body, headers={**auth("admin"), "content-type": media})
    if r.status_code == 200:
        # Only a verification may answer 200 (a verdict on a lone-surrogate "token" string).
        assert 200 in allowed and path in (LICENCE, SEAL, SEALED), r.text[:300]
        assert r.json()["verdict"]["indication"] == "FAILED"
    else:
        statuses = tuple(s for s in allowed if s != 200) + ((413,) if path == TRUST else ())
        problem(r, *statuses)
    assert trust_state(svc) == before


@pytest.mark.parametrize(("method", "path", "media"), BODY_ENDPOINTS, ids=IDS)
def test_oversized_bodies_declared_and_streamed(
    svc: TestClient, method: str, path: str, media: str
) -> None:
    before = trust_state(svc)
    headers = {**auth("admin"), "content-type": media}
    r = svc.request(method, path, content=b"{" + b" " * MAX_BODY + b"}", headers=headers)
    assert problem(r, 413)["max_bytes"] == MAX_BODY

    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_BODY // 4096 + 10):
            yield b" " * 4096

    assert problem(svc.request(method, path, content=chunks(), headers=headers), 413)["code"] == (
        "payload_too_large"
    )
    # A Content-Length that is a lie or not a number.
    for length in ("abc", "-1", "1" * 30, "1e3"):
        r = svc.request(method, path, content=b"{}", headers={**headers, "content-length": length})
        problem(r, 400)
    assert trust_state(svc) == before


WRONG_TYPES = [
    "text/plain",
    "application/xml",
    "application/x-www-form-urlencoded",
    "multipart/mixed; boundary=x",
    "image/png",
    "*/*",
    "application/json\x00",
    "",
]


@pytest.mark.parametrize(("method", "path", "ok_media"), BODY_ENDPOINTS, ids=IDS)
def test_wrong_content_types_are_415(
    svc: TestClient, method: str, path: str, ok_media: str
) -> None:
    for media in WRONG_TYPES:
        if path == STATUS and media == "text/plain":
            continue  # text/plain is an accepted form of a status list token
        headers = {**auth("admin"), "content-type": media}
        if not media:
            headers.pop("content-type")
        r = svc.request(method, path, content=b'{"token":"x"}', headers=headers)
        assert problem(r, 415)["code"] == "unsupported_media_type", media


@pytest.mark.parametrize("path", [LICENCE, SEAL, SEALED])
def test_truncated_multipart_at_every_cut(
    svc: TestClient, demo_world: DemoWorld, path: str
) -> None:
    boundary = "huren-boundary-7d3f"
    parts = [("relying_jurisdiction", None, ZS.encode())]
    if path == SEALED:
        parts += [
            ("file", "contract.txt", demo_world.sealed_document),
            ("signature", "contract.sig.jws", demo_world.sealed_signature.encode()),
        ]
    else:
        token = demo_world.licence_sz if path == LICENCE else demo_world.seal_sz
        parts.append(("file", "token.jws", token.encode()))
    full = b""
    for name, filename, value in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        full += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        full += value + b"\r\n"
    full += f"--{boundary}--\r\n".encode()
    headers = {**auth("admin"), "content-type": f"multipart/form-data; boundary={boundary}"}
    r = svc.post(path, content=full, headers=headers)
    assert r.status_code == 200 and r.json()["verdict"]["indication"] == "PASSED", r.text[:300]
    step = max(1, len(full) // 60)
    cuts = sorted({*range(0, len(full) - 2, step), *range(len(full) - 40, len(full) - 2)})
    for cut in cuts:
        r = svc.post(path, content=full[:cut], headers=headers)
        if r.status_code == 200:
            # Every part arrived; only the closing delimiter is missing.
            assert cut >= len(full) - len(f"--{boundary}--\r\n"), cut
        else:
            problem(r, 400, 422)


def test_huge_batches(svc: TestClient, demo_world: DemoWorld) -> None:
    item = {"kind": "licence", "token": demo_world.licence_sz, "relying_jurisdiction": ZS}
    r = svc.post(BATCH, json={"items": [item] * 51}, headers=auth("admin"))
    assert problem(r, 422)["code"] == "batch_too_large"
    # As many tiny items as the body limit admits: refused, and quickly.
    tiny = json.dumps({"kind": "licence", "token": "x", "relying_jurisdiction": ZS})
    body = ('{"items":[' + ",".join([tiny] * (MAX_BODY // (len(tiny) + 1) - 5)) + "]}").encode()
    assert len(body) <= MAX_BODY
    started = time.monotonic()
    r = svc.post(BATCH, content=body, headers={**auth("admin"), "content-type": "application/json"})
    assert problem(r, 422)["code"] == "batch_too_large"
    assert time.monotonic() - started < 5
    r = svc.post(BATCH, json={"items": [item] * 50}, headers=auth("counter"))
    assert r.status_code == 200 and len(r.json()["results"]) == 50


# -- bounded memory, in a real service process ----------------------------------------------------


def _raw_request(port: int, head: bytes, body: bytes = b"", read: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + body)
        if not read:
            return b""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_memory_stays_bounded_under_abusive_bodies(tmp_path: Path) -> None:
    """A real uvicorn process (1 MiB body limit) receives, 8 at a time: bodies declaring 1 GB,
    8 MiB streamed without a length, batches of tiny items up to the limit, deeply nested JSON
    and invalid UTF-8. Every answer is a 4xx problem and the resident set stays bounded."""
    directory = tmp_path / "demo"
    world = server_support.demo_directory(directory)
    limit = 1024 * 1024
    server = server_support.start(directory, env={"HUREN_MAX_BODY_BYTES": str(limit)})
    try:
        warm = {"token": world.licence_sz, "relying_jurisdiction": ZS}
        with httpx.Client(base_url=server.url, timeout=30) as c:
            for _ in range(20):
                assert c.post(LICENCE, json=warm, headers=auth("counter")).status_code == 200
        before = server.memory_kib()

        head = (
            f"POST {BATCH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {SECRETS['admin']}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n"
        ).encode()
        for _ in range(10):
            answer = _raw_request(server.port, head)
            assert answer.startswith(b"HTTP/1.1 413"), answer[:200]

        tiny = json.dumps({"kind": "licence", "token": "x", "relying_jurisdiction": ZS})
        batch = ('{"items":[' + ",".join([tiny] * (limit // (len(tiny) + 1) - 5)) + "]}").encode()
        assert len(batch) <= limit

        async def abuse() -> list[int]:
            statuses: list[int] = []
            sem = asyncio.Semaphore(8)
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as c:

                async def streamed() -> httpx.Response:
                    async def gen() -> Any:
                        for _ in range(8 * 16):
                            yield b" " * 65536

                    return await c.post(BATCH, content=gen(), headers=headers)

                async def one(kind: int) -> None:
                    async with sem:
                        if kind == 0:
                            try:
                                r = await streamed()
                            except (httpx.RemoteProtocolError, httpx.WriteError):
                                # The server answered 413 and closed while we were sending.
                                statuses.append(413)
                                return
                        elif kind == 1:
                            r = await c.post(BATCH, content=batch, headers=headers)
                        elif kind == 2:
                            r = await c.post(
                                LICENCE, content=_deep(limit // 2 - 100), headers=headers
                            )
                        else:
                            r = await c.post(LICENCE, content=b"\xff" * limit, headers=headers)
                        assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE, r.text[:200]
                        statuses.append(r.status_code)

                headers = {**auth("admin"), "content-type": "application/json"}
                await asyncio.gather(*(one(i % 4) for i in range(24)))
            return statuses

        statuses = asyncio.run(abuse())
        assert len(statuses) == 24 and all(400 <= s < 500 for s in statuses), statuses
        after = server.memory_kib()
        grown_mib = (after["VmRSS"] - before["VmRSS"]) / 1024
        peak_mib = (after["VmHWM"] - before["VmRSS"]) / 1024
        # Measured: about +16 MiB resident, +18 MiB peak (the 1 MiB batches being parsed).
        assert grown_mib < 64, (before, after)
        assert peak_mib < 128, (before, after)
        with httpx.Client(base_url=server.url, timeout=30) as c:
            r = c.post(LICENCE, json=warm, headers=auth("counter"))
            assert r.json()["verdict"]["indication"] == "PASSED"
    finally:
        server.stop()


# -- authentication on every protected operation --------------------------------------------------

# Operations and the roles that may NOT use them (403); the others pass authentication.
FORBIDDEN_ROLES: dict[tuple[str, str], set[str]] = {
    ("POST", LICENCE): {"business"},
    ("POST", SEAL): {"counter"},
    ("POST", SEALED): set(),
    ("POST", BATCH): set(),
    ("PUT", "/v1/trust-lists/{jurisdiction}"): {"counter", "business"},
    ("POST", "/v1/trust-lists/{jurisdiction}"): {"counter", "business"},
    ("POST", STATUS): {"counter", "business"},
    ("POST", CATALOGUE): {"counter", "business"},
    ("PUT", CATALOGUE): {"counter", "business"},
}


def _protected(client: TestClient) -> list[tuple[str, str, bool]]:
    """(method, path template, anonymous allowed) of every operation that names a key."""
    out = []
    for path, item in client.get("/openapi.json").json()["paths"].items():
        for method, op in item.items():
            security = op.get("security", [{}]) if isinstance(op, dict) else [{}]
            if security:
                out.append((method.upper(), path, {} in security))
    return out


def test_every_protected_operation_is_in_the_role_table(svc: TestClient) -> None:
    # Operations added later are covered by the authentication test below (it reads the
    # OpenAPI document); this table says which roles each known one refuses.
    assert set(FORBIDDEN_ROLES) <= {(m, p) for m, p, _ in _protected(svc)}


@pytest.mark.parametrize(
    "presented",
    [
        "no-key",
        "unknown-key",
        "revoked-key",
        "basic-scheme",
        "empty-bearer",
        "key-too-long",
        "key-latin1",
        "admin-key-with-one-char-changed",
        "admin-key-prefix",
        "admin-key-hash-instead-of-key",
        "wrong-authorization-beats-right-x-api-key",
    ],
)
def test_authentication_on_every_protected_operation(svc: TestClient, presented: str) -> None:
    admin = SECRETS["admin"]
    headers: dict[str, str] = {
        "no-key": {},
        "unknown-key": {"Authorization": "Bearer hk_admin_guess_0123456789abcdefghijkl"},
        "revoked-key": auth("revoked"),
        "basic-scheme": {"Authorization": f"Basic {admin}"},
        "empty-bearer": {"Authorization": "Bearer "},
        "key-too-long": {"X-API-Key": admin * 20},
        "key-latin1": {"X-API-Key": admin + "\xe9"},
        "admin-key-with-one-char-changed": {"X-API-Key": admin[:-1] + chr(ord(admin[-1]) ^ 1)},
        "admin-key-prefix": {"X-API-Key": admin[:-1]},
        "admin-key-hash-instead-of-key": {"X-API-Key": hash_secret(admin)},
        "wrong-authorization-beats-right-x-api-key": {
            "Authorization": "Bearer nope",
            "X-API-Key": admin,
        },
    }[presented]
    before = trust_state(svc)
    for method, template, anonymous in _protected(svc):
        if presented == "no-key" and anonymous:
            continue  # the seal self-checks: rate limited instead (test_api_app)
        path = template.replace("{jurisdiction}", SZ)
        encoded = {k: v.encode("latin-1") for k, v in headers.items()}
        r = svc.request(
            method,
            path,
            content=b"{}",
            headers={"content-type": "application/json", **encoded},  # type: ignore[dict-item]
        )
        body = problem(r, 401)
        assert body["code"] == "unauthorized", (method, path)
        assert r.headers["www-authenticate"].startswith("Bearer"), (method, path)
        assert SECRETS["admin"] not in r.text
    assert trust_state(svc) == before


@pytest.mark.parametrize("role", ["counter", "business", "admin"])
def test_roles_on_every_protected_operation(svc: TestClient, role: str) -> None:
    before = trust_state(svc)
    for (method, template), forbidden in FORBIDDEN_ROLES.items():
        path = template.replace("{jurisdiction}", SZ)
        r = svc.request(
            method, path, content=b"{}", headers={**auth(role), "content-type": "application/json"}
        )
        if role in forbidden:
            assert problem(r, 403)["code"] == "forbidden", (role, method, path)
        else:
            assert r.status_code not in (401, 403), (role, method, path, r.text)
    assert trust_state(svc) == before


# -- constant-time key comparison (code level) ---------------------------------------------------


def test_key_comparison_is_constant_time_by_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a timing measurement (too noisy to mean anything in CI) but the properties that make
    the comparison constant-time: the presented secret is hashed first (so every comparison is
    between two 32-byte digests, whatever the secret's length), hmac.compare_digest does the
    comparison, every stored key is compared on every attempt (no early exit on a match, none
    on a mismatch), and no other comparison touches the secret or its digest."""
    calls: list[tuple[int, int]] = []
    real = auth_module.hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        assert isinstance(a, bytes) and isinstance(b, bytes)
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(auth_module.hmac, "compare_digest", recording)
    secrets = [f"hk_test_{i}_0123456789abcdefghijklmnop" for i in range(5)]
    ring = KeyRing(
        ApiKey(f"k{i}", Role.ADMIN, hashlib.sha256(s.encode()).digest())
        for i, s in enumerate(secrets)
    )
    for presented, found in [
        (secrets[0], "k0"),  # a match on the first key must not stop the loop
        (secrets[4], "k4"),
        ("x", None),  # short
        ("y" * 512, None),  # long
        (secrets[0][:-1] + "?", None),  # one character off
    ]:
        calls.clear()
        key = ring.authenticate(presented)
        assert (key.id if key else None) == found
        assert calls == [(32, 32)] * 5, presented

    source = textwrap.dedent(inspect.getsource(KeyRing.authenticate))
    tree = ast.parse(source)
    loop = next(n for n in ast.walk(tree) if isinstance(n, ast.For))
    for node in ast.walk(loop):
        assert not isinstance(node, ast.Break | ast.Return), "early exit in the comparison loop"
        assert not isinstance(node, ast.Compare), f"plain comparison in the loop: {ast.dump(node)}"
    assert "compare_digest" in source
    # The digests are stored raw (bytes of 32), never as hex strings compared as text.
    assert ApiKey.__dataclass_fields__["sha256"].type in ("bytes", bytes)
