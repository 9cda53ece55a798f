"""National uploads beyond .ofd and .esl: SES_Signature values (.dat) with the optional `data` part,
cached apart from each other (the in-process cache and a real shared Redis), and uploads of formats
huren does not verify refused with 415/422 `unsupported_format` naming the supported ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from demo.national import SAMPLE_SIGNATURE, SAMPLE_SIGNED_DATA
from demo.world import DEMO_EPOCH, ZHONGSHAN, DemoWorld, build_demo_world
from tests.support.api_support import Clock, RecordingSync, auth, service_dir, settings_for
from tests.support.vectors import vector_path
from verifier.national.ofd import OfdLimits
from verifier.recognise import SUPPORTED_FORMATS, UNSUPPORTED_FORMATS

SEALS = "/v1/seals/verify"
DOCS = "/v1/sealed-documents/verify"
FORM = {"relying_jurisdiction": ZHONGSHAN}
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"


@pytest.fixture(scope="module")
def world() -> DemoWorld:
    return build_demo_world(DEMO_EPOCH)


def _client(world: DemoWorld, root: Path, **settings: Any) -> TestClient:
    service_dir(world, root)
    app = create_app(
        settings_for(root, **settings),
        clock=Clock(DEMO_EPOCH),  # type: ignore[arg-type]
        sync=RecordingSync(),  # type: ignore[arg-type]
    )
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(world: DemoWorld, tmp_path: Path) -> Iterator[TestClient]:
    with _client(world, tmp_path) as c:
        yield c


def post(
    client: TestClient, path: str, files: dict[str, Any], role: str = "business"
) -> dict[str, Any]:
    r = client.post(path, files=files, data=FORM, headers=auth(role))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _indication(body: dict[str, Any]) -> tuple[str, str | None, bool]:
    v = body["verdict"]
    return v["indication"], v["sub_indication"], body["cached"]


def _dat_cases(client: TestClient, world: DemoWorld) -> None:
    dat = ("sig.dat", world.samples[SAMPLE_SIGNATURE], "application/octet-stream")
    xml = ("Signature.xml", world.samples[SAMPLE_SIGNED_DATA], "application/xml")
    other = ("contract.txt", world.samples["contract.txt"], "text/plain")
    # Without the data first: judged and cached as INDETERMINATE SIGNED_DATA_NOT_FOUND ...
    alone = post(client, SEALS + "?report=detailed", {"file": dat})  # every check
    assert _indication(alone) == ("INDETERMINATE", "SIGNED_DATA_NOT_FOUND", False)
    checks = {c["code"]: c["result"] for c in alone["verdict"]["checks"]}
    assert checks["signature.valid"] == "PASSED" and checks["seal:signature.valid"] == "PASSED"
    # ... which never answers the request that brings the data, nor the other way round.
    assert _indication(post(client, SEALS, {"file": dat, "data": xml})) == ("PASSED", None, False)
    assert _indication(post(client, SEALS, {"file": dat, "data": xml}))[2] is True
    assert _indication(post(client, SEALS, {"file": dat, "data": other})) == (
        "FAILED",
        "HASH_FAILURE",
        False,
    )
    again = post(client, SEALS, {"file": dat})
    assert _indication(again) == ("INDETERMINATE", "SIGNED_DATA_NOT_FOUND", True)
    # The sealed-document endpoint takes the same parts (a counter may not verify bare seals).
    both = post(client, DOCS, {"file": dat, "data": xml}, role="counter")
    assert both["verdict"]["indication"] == "PASSED"
    assert both["verdict"]["document_sha256"] != alone["verdict"]["document_sha256"]


def test_ses_signature_value_with_and_without_its_data(
    client: TestClient, world: DemoWorld
) -> None:
    _dat_cases(client, world)
    # ofdrw's SignedValueV4.dat: its dataHash matches nothing, integrity is judged first.
    v4 = vector_path("ofdrw", "seals", "SignedValueV4.dat").read_bytes()
    xml = vector_path("ofdrw", "seals", "Signature.xml").read_bytes()
    body = post(client, SEALS, {"file": ("v4.dat", v4), "data": ("Signature.xml", xml)})
    assert _indication(body)[:2] == ("FAILED", "HASH_FAILURE")


def test_ses_signature_values_are_cached_apart_in_redis(
    world: DemoWorld, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    """The same through a real shared Redis (the key includes the data's digest)."""
    from tests.support import redis_support

    try:
        with _client(world, tmp_path, redis_url=redis_url, redis_prefix=redis_prefix) as c:
            assert c.get("/readyz").json()["checks"]["cache"] == "ok"
            _dat_cases(c, world)
    finally:
        redis_support.delete_prefix(redis_url, redis_prefix)


def test_data_part_only_with_a_signature_value(client: TestClient, world: DemoWorld) -> None:
    xml = ("Signature.xml", world.samples[SAMPLE_SIGNED_DATA])
    for path, file in (
        (SEALS, ("seal.esl", world.samples["seal-sz-official.esl"])),
        (SEALS, ("seal.jws", world.samples["seal-sz-official.jws"])),
        (DOCS, ("c.ofd", world.samples["contract-sz-stamped.ofd"])),
    ):
        r = client.post(path, files={"file": file, "data": xml}, data=FORM, headers=auth("admin"))
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["loc"] == ["body", "data"]
    # The whole OFD as the data of its own signature value: told what to send instead.
    r = client.post(
        SEALS,
        files={
            "file": ("s.dat", world.samples[SAMPLE_SIGNATURE]),
            "data": ("c.ofd", world.samples["contract-sz-stamped.ofd"]),
        },
        data=FORM,
        headers=auth("business"),
    )
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "data"]
    assert "verify the .ofd itself" in r.json()["errors"][0]["msg"]
    # JWS parts do not go with a signature value.
    r = client.post(
        DOCS,
        files={"file": ("s.dat", world.samples[SAMPLE_SIGNATURE]), "signature": ("s", b"a.b.c")},
        data=FORM,
        headers=auth("counter"),
    )
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "signature"]


@pytest.mark.parametrize(
    ("name", "data", "what"),
    [
        ("form.pdf", PDF, "pdf"),
        ("seal.png", None, "png"),
        ("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "jpeg"),
        ("archive.zip", None, "zip"),
    ],
)
def test_unsupported_formats_are_named(
    client: TestClient, world: DemoWorld, name: str, data: bytes | None, what: str
) -> None:
    if name == "seal.png":
        data = world.samples["seal-sz-official.png"]
    if name == "archive.zip":
        import io
        import zipfile

        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("word/document.xml", "<w:document/>")
        data = buf.getvalue()
    assert data is not None
    declared = {"form.pdf": "application/pdf", "seal.png": "image/png"}.get(name, "")
    for path, role in ((SEALS, "business"), (DOCS, "counter"), ("/v1/licences/verify", "counter")):
        for media, status in ((declared, 415), ("application/octet-stream", 422)):
            if not media:
                continue
            r = client.post(
                path, files={"file": (name, data, media)}, data=FORM, headers=auth(role)
            )
            assert r.status_code == status, (path, media, r.text)
            problem = r.json()
            assert r.headers["content-type"].startswith("application/problem+json")
            assert problem["code"] == "unsupported_format"
            assert problem["format"] == what, problem
            assert UNSUPPORTED_FORMATS[what] in problem["detail"]
            assert problem["supported"] == list(SUPPORTED_FORMATS)
            assert ".ofd" in problem["detail"] and ".dat" in problem["detail"]
    # A PDF sent with its JWS seal signature is a sealed document: the verifier judges it.
    r = client.post(
        DOCS,
        files={"file": (name, data), "signature": ("c.sig.jws", world.samples["contract.sig.jws"])},
        data=FORM,
        headers=auth("counter"),
    )
    assert r.status_code == 200 and r.json()["verdict"]["indication"] == "FAILED", r.text


def test_caps_set_in_the_service_settings_reach_the_verifier(tmp_path: Path) -> None:
    from tests.service.test_national_hooks import ZHONGSHAN, national_world

    world, nd = national_world(DEMO_EPOCH)
    service_dir(world, tmp_path)
    settings = settings_for(tmp_path, ofd_limits=OfdLimits(max_hashed_bytes=100))
    app = create_app(settings, clock=Clock(DEMO_EPOCH), sync=RecordingSync())  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post(
            "/v1/sealed-documents/verify",
            files={"file": ("contract.ofd", nd.document, "application/ofd")},
            data={"relying_jurisdiction": ZHONGSHAN},
            headers=auth("counter"),
        )
    assert r.status_code == 200, r.text
    first = r.json()["verdict"]["summary"]["extra"]["signatures"][0]
    assert first["indication"] == "FAILED"
    assert [c["code"] for c in first["checks"] if c["result"] != "PASSED"] == ["ofd.limits"]
