"""The national formats' hooks: the demo world's SM2 seal-making authorities and stamped
contract verified end to end, `huren verify FILE --trust DIR`, and the API's upload sniffing.

The demo and CLI hooks are applied here the way docs/national-formats.md tells demo/world.py and
cli/main.py to apply them, so these tests hold before and after the hooks land."""

from __future__ import annotations

import argparse
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api.http import uploads as national
from api.verification import VerifyInput
from cli import verify as national_cli
from demo import national as national_demo
from demo.world import (
    CITIES,
    CONTRACT_TEXT,
    SZ_ENTERPRISE,
    ZHONGSHAN,
    DemoWorld,
    _png_seal,
    build_demo_world,
    write_demo,
)
from tests.support.vectors import vector_path
from trust_lists.signed import SignedTrustList
from verifier import DocumentKind, Expectations, Indication, NationalFormat, Verifier
from verifier.national.verifier import NationalVerifier
from verifier.recognise import national_format


def national_world(now: datetime) -> tuple[DemoWorld, national_demo.NationalDemo]:
    """The demo world with the national hook applied (as demo/world.py will, or does)."""
    world = build_demo_world(now)
    applied: national_demo.NationalDemo | None = getattr(world, "national", None)
    if applied is not None:  # demo/world.py already applies the hook
        return world, applied
    nd = national_demo.build(
        world.now, CITIES, SZ_ENTERPRISE, picture=_png_seal(), text=CONTRACT_TEXT
    )
    lists = {}
    signed = {}
    for city in CITIES:
        tl = national_demo.add_service(
            world.trust_lists[city.code], city, nd, granted_from=world.now - timedelta(days=400)
        )
        lists[city.code] = tl
        signed[city.code] = SignedTrustList.parse(world.sign_list(tl))
    samples = {**world.samples, **national_demo.samples(nd)}
    return dataclasses.replace(world, trust_lists=lists, signed_lists=signed, samples=samples), nd


def test_demo_stamped_contract_verifies_end_to_end() -> None:
    from demo.world import DEMO_EPOCH

    world, nd = national_world(DEMO_EPOCH)
    nv = NationalVerifier(world.store(), clock=lambda: world.now)
    for relying in (c.code for c in CITIES):
        doc = nv.verify_document(nd.document, relying)
        assert doc.overall.indication is Indication.PASSED, [
            [c.code for c in s.verdict.checks if c.result.value != "PASSED"] for s in doc.signatures
        ]
        s = doc.signatures[0].verdict.summary
        assert s is not None and s.issuer_service == "sz-seal-sm2"
        assert s.holder_id == SZ_ENTERPRISE.credit_code and s.type_code == "official"
    seal = nv.verify_seal(
        nd.seal,
        ZHONGSHAN,
        expect=Expectations(holder_id=SZ_ENTERPRISE.credit_code, seal_type="official"),
    )
    assert seal.indication is Indication.PASSED
    # The JWS world is untouched: its licence still verifies.
    assert world.verifier().verify_licence(world.licence_sz, ZHONGSHAN).passed


def _run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command", required=True)
    national_cli.add_parser(sub)
    args = p.parse_args(argv)
    status = args.func(args)
    return status, capsys.readouterr().out


def test_cli_verify_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    world, nd = national_world(now)
    write_demo(tmp_path / "demo", world)
    (tmp_path / "c.ofd").write_bytes(nd.document)
    (tmp_path / "s.esl").write_bytes(nd.seal)
    trust = str(tmp_path / "demo")

    status, out = _run_cli(["verify", str(tmp_path / "c.ofd"), "--trust", trust], capsys)
    assert status == 0 and "verdict: PASSED" in out and "signature 1:" in out

    status, out = _run_cli(
        ["verify", str(tmp_path / "s.esl"), "--trust", trust, "--relying", ZHONGSHAN, "--json"],
        capsys,
    )
    assert status == 0 and json.loads(out)["verdict"]["indication"] == "PASSED"

    # A JWS licence through the same command.
    (tmp_path / "l.jws").write_bytes(world.samples["licence-sz-business.jws"])
    status, out = _run_cli(["verify", str(tmp_path / "l.jws"), "--trust", trust], capsys)
    assert status == 0, out

    # Far in the future the seal has expired: FAILED, exit 1, the reason in Chinese.
    later = (now + timedelta(days=4 * 365)).strftime("%Y-%m-%dT%H:%M:%SZ")
    status, out = _run_cli(
        ["verify", str(tmp_path / "s.esl"), "--trust", trust, "--at", later], capsys
    )
    assert status in (1, 3) and "validity" in out

    # A third-party seal no list vouches for: intact, so INDETERMINATE (exit 3), not FAILED.
    status, out = _run_cli(
        ["verify", str(vector_path("ofdrw", "seals", "UserV4.esl")), "--trust", trust], capsys
    )
    assert status == 3 and "ses.maker_found" in out

    # Not a format huren verifies: no verdict (exit 2), the supported formats named.
    status, out = _run_cli(
        ["verify", str(tmp_path / "demo" / "huren.json"), "--trust", trust], capsys
    )
    assert status == 2 and out == ""


def test_api_sniffing() -> None:
    ofd = vector_path("ofdrw", "ofd", "v4signed.ofd").read_bytes()
    esl = vector_path("ofdrw", "seals", "UserV4.esl").read_bytes()
    assert national_format(ofd) is NationalFormat.OFD
    assert national_format(ofd, "application/ofd") is NationalFormat.OFD
    assert national_format(esl, "application/octet-stream") is NationalFormat.SEAL
    assert national_format(esl, "application/x-esl; charset=binary") is NationalFormat.SEAL
    assert national_format(esl, "application/ofd") is None  # mislabelled: not trusted
    assert national_format(b"eyJhbGciOiJFUzI1NiJ9.e30.c2ln", "text/plain") is None
    assert national.input_from_upload("licence", {"file": ofd}, {}) is None
    assert national.input_from_upload("seal", {"file": ofd}, {}) is None  # an OFD is no seal
    assert national.input_from_upload("seal", {"file": b"a.b.c"}, {}) is None


def _has_national_field() -> bool:
    from api.verification import VerifyInput

    return "national" in {f.name for f in dataclasses.fields(VerifyInput)}


@pytest.mark.skipif(not _has_national_field(), reason="api/verification.py hook not applied yet")
def test_api_upload_becomes_national_input() -> None:
    from fastapi.exceptions import RequestValidationError

    ofd = vector_path("ofdrw", "ofd", "v4signed.ofd").read_bytes()
    common: dict[str, Any] = {"relying": ZHONGSHAN, "at": None, "image": None}
    inp = national.input_from_upload("sealed_document", {"file": ofd}, common)
    assert inp is not None and inp.national is NationalFormat.OFD and inp.token == ofd
    with pytest.raises(RequestValidationError):
        national.input_from_upload("sealed_document", {"file": ofd, "signature": b"x"}, common)


def test_api_verify_dispatch() -> None:
    from demo.world import DEMO_EPOCH

    world, nd = national_world(DEMO_EPOCH)
    verifier = Verifier(world.store(), clock=lambda: world.now)
    document = VerifyInput(
        DocumentKind.SEALED_DOCUMENT, nd.document, ZHONGSHAN, None, national=NationalFormat.OFD
    )
    doc = verifier.verify(document.request())
    assert doc.passed and doc.summary is not None
    assert doc.summary.extra["signatures"][0]["indication"] == "PASSED"
    contract = VerifyInput(
        DocumentKind.SEAL,
        nd.seal,
        ZHONGSHAN,
        None,
        type_code="contract",
        national=NationalFormat.SEAL,
    )
    seal = verifier.verify(contract.request())
    assert seal.indication is Indication.FAILED  # expected a contract seal, it is official


@pytest.mark.skipif(not _has_national_field(), reason="api/verification.py hook not applied yet")
def test_api_accepts_ofd_and_esl_uploads(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from demo.world import DEMO_EPOCH
    from tests.support.api_support import Clock, RecordingSync, auth, service_dir, settings_for

    world, nd = national_world(DEMO_EPOCH)
    service_dir(world, tmp_path)
    app = create_app(settings_for(tmp_path), clock=Clock(DEMO_EPOCH), sync=RecordingSync())  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as client:
        form = {"relying_jurisdiction": ZHONGSHAN}
        r = client.post(
            "/v1/sealed-documents/verify",
            files={"file": ("contract.ofd", nd.document, "application/ofd")},
            data=form,
            headers=auth("counter"),
        )
        assert r.status_code == 200, r.text
        verdict = r.json()["verdict"]
        assert verdict["indication"] == "PASSED"
        assert verdict["summary"]["extra"]["signatures"][0]["indication"] == "PASSED"
        assert r.json()["cached"] is False
        again = client.post(
            "/v1/sealed-documents/verify",
            files={"file": ("x.bin", nd.document, "application/octet-stream")},  # sniffed
            data=form,
            headers=auth("counter"),
        )
        assert again.json()["cached"] is True
        r = client.post(
            "/v1/seals/verify",
            files={"file": ("seal.esl", nd.seal)},
            data={**form, "expect_type_code": "official"},
            headers=auth("business"),
        )
        assert r.status_code == 200, r.text
        assert r.json()["verdict"]["indication"] == "PASSED"
        # JWS parts do not go with a national file.
        r = client.post(
            "/v1/sealed-documents/verify",
            files={"file": ("c.ofd", nd.document), "signature": ("s.jws", b"a.b.c")},
            data=form,
            headers=auth("counter"),
        )
        assert r.status_code == 422
        # An unsigned document sent without a signature is still the JWS path's 422.
        r = client.post(
            "/v1/sealed-documents/verify",
            files={"file": ("c.txt", b"plain text")},
            data=form,
            headers=auth("counter"),
        )
        assert r.status_code == 422


def test_the_same_bytes_as_a_jws_and_as_a_national_seal_are_cached_apart(tmp_path: Path) -> None:
    """Whether an upload is judged as a GB/T 38540 seal or as a JWS depends on its content type,
    so one upload must never answer the other from the cache (anonymous cache poisoning)."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from demo.world import DEMO_EPOCH
    from tests.support.api_support import Clock, RecordingSync, auth, service_dir, settings_for

    world, nd = national_world(DEMO_EPOCH)
    service_dir(world, tmp_path)
    app = create_app(settings_for(tmp_path), clock=Clock(DEMO_EPOCH), sync=RecordingSync())  # type: ignore[arg-type]
    form = {"relying_jurisdiction": ZHONGSHAN}

    def post(client: TestClient, content_type: str) -> tuple[str, bool]:
        r = client.post(
            "/v1/seals/verify",
            files={"file": ("seal.esl", nd.seal, content_type)},
            data=form,
            headers=auth("business"),
        )
        assert r.status_code == 200, r.text
        return r.json()["verdict"]["indication"], r.json()["cached"]

    with TestClient(app, raise_server_exceptions=False) as client:
        # Mislabelled: not trusted as a national file, so judged (and refused) as a JWS first.
        assert post(client, "application/ofd") == ("FAILED", False)
        assert post(client, "application/octet-stream") == ("PASSED", False)
        assert post(client, "application/octet-stream") == ("PASSED", True)
        assert post(client, "application/ofd") == ("FAILED", True)
