"""Certificates as trust-list keys (finding 6 of issue 13): `huren keys inspect` and `huren list
add-service / add-key --cert`, end to end through the real command line: a new SM2 seal-making CA
listed from its certificate (PEM), the list signed by two operators, submitted into the store, and
a document stamped with a seal it issued verifies; a P-256 issuer's certificate (DER) becomes its
bare ES256 key and the licence it signs verifies."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import pem
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from demo.world import SHENZHEN, SZ_ENTERPRISE, ZHONGSHAN, DemoWorld, build_demo_world, write_demo
from issuing import national as issue
from keys import SigningKey
from keys.certificate_keys import read_certificate
from keys.errors import KeyMaterialError
from keys.sm2 import Sm2PrivateKey
from tests.support.cli_support import run_cli as run
from trust_lists.uscc import make_uscc

NOW = datetime.now(UTC).replace(microsecond=0)


def ok(capsys: pytest.CaptureFixture[str], *argv: object) -> str:
    status, out, err = run(capsys, *argv)
    assert status == 0, (argv, out, err)
    return out


@pytest.fixture
def demo(tmp_path: Path) -> tuple[DemoWorld, Path]:
    world = build_demo_world(NOW)
    write_demo(tmp_path / "demo", world)
    return world, tmp_path / "demo"


def _seal_centre(common_name: str) -> dict[str, str]:
    """The subject of a certificate of the new Shenzhen seal-making centre."""
    return {
        "country_name": "CN",
        "organization_name": "深圳市新制章中心",
        "common_name": common_name,
    }


def _sm2_ca_and_stamped_document() -> tuple[bytes, bytes]:
    """A new SM2 seal-making CA (its certificate) and a contract stamped with a seal made under
    it by the project's national issuer."""
    ca = Sm2PrivateKey.generate()
    ca_cert = issue.make_certificate(
        issuer_key=ca,
        subject=_seal_centre("新 CA"),
        subject_point=ca.point,
        not_before=NOW - timedelta(days=400),
        not_after=NOW + timedelta(days=3650),
        serial=77,
        ca=True,
        key_usage=("key_cert_sign", "crl_sign"),
    )
    maker = Sm2PrivateKey.generate()
    maker_cert = issue.make_certificate(
        issuer_key=ca,
        issuer_certificate=ca_cert,
        subject=_seal_centre("制章"),
        subject_point=maker.point,
        not_before=NOW - timedelta(days=400),
        not_after=NOW + timedelta(days=1000),
        serial=78,
    )
    signer = Sm2PrivateKey.generate()
    signer_cert = issue.make_certificate(
        issuer_key=ca,
        issuer_certificate=ca_cert,
        subject={"country_name": "CN", "common_name": SZ_ENTERPRISE.name_zh},
        subject_point=signer.point,
        not_before=NOW - timedelta(days=100),
        not_after=NOW + timedelta(days=700),
        serial=79,
    )
    created = NOW - timedelta(days=90)
    seal = issue.make_seal(
        maker_key=maker,
        maker_certificate=maker_cert,
        es_id="44030000099999",
        seal_type=1,
        name=SZ_ENTERPRISE.name_zh,
        signer_certificates=[signer_cert],
        created=created,
        valid_start=created,
        valid_end=NOW + timedelta(days=365),
        picture=issue.SealPicture("PNG", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 20),
    )
    files = issue.stamp_ofd(
        issue.make_ofd(["第一页"], doc_id="cert-e2e"),
        seal=seal,
        signer_key=signer,
        signer_certificate=signer_cert,
        signed_at=NOW - timedelta(days=1),
    )
    return ca_cert, issue.package(files)


def _p256_certificate(*, ca: bool) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    issuer_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "深圳市市场监督管理局 P-256")])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Issuing CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(4242)
        .not_valid_before(NOW - timedelta(days=30))
        .not_valid_after(NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.DER)


def _sign_and_submit(
    capsys: pytest.CaptureFixture[str], d: Path, draft: Path, config: Path
) -> None:
    for n in (1, 2):
        key = d / "keys" / f"{SHENZHEN}-operator-{n}.pem"
        ok(capsys, "list", "sign", draft, "--key", key, "--out", d / f"op{n}.json")
    ok(capsys, "list", "combine", d / "op1.json", d / "op2.json", "--out", d / "signed.json")
    assert "accepted" in ok(capsys, "trust", "submit", d / "signed.json", "--config", config)


def test_sm2_ca_listed_with_cert_end_to_end(
    demo: tuple[DemoWorld, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    world, d = demo
    config = d / "huren.json"
    ca_der, document = _sm2_ca_and_stamped_document()
    (d / "ca.pem").write_bytes(pem.armor("CERTIFICATE", ca_der))
    (d / "doc.ofd").write_bytes(document)
    verify = ("verify", d / "doc.ofd", "--trust", d, "--relying", ZHONGSHAN)
    assert run(capsys, *verify)[0] in (1, 3)  # its maker is on no list yet

    report = ok(capsys, "keys", "inspect", d / "ca.pem")
    assert "CA certificate" in report and "新 CA" in report and "key_cert_sign" in report
    kid = read_certificate(ca_der).key.kid
    assert f"kid        {kid}" in report and '"x5c"' in report

    (d / "current.json").write_bytes(world.signed_lists[SHENZHEN].to_json())
    draft = d / "draft.json"
    ok(capsys, "list", "bump", d / "current.json", "--out", draft)
    ok(
        capsys,
        "list",
        "add-service",
        draft,
        "--id",
        "sz-seal-new",
        "--kind",
        "seal_authority",
        "--name-zh",
        "深圳市新制章中心",
        "--name-en",
        "Shenzhen new seal centre",
        "--credit-code",
        make_uscc("11440300MB2E00077"),
        "--scope",
        "official,contract",
        "--cert",
        d / "ca.pem",
        "--granted-from",
        (NOW - timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    listed = json.loads(draft.read_text())
    service = next(s for s in listed["services"] if s["id"] == "sz-seal-new")
    assert service["keys"][0]["jwk"]["x5c"] == [base64.b64encode(ca_der).decode()]
    assert "sz-seal-new" in ok(capsys, "list", "diff", d / "current.json", draft)
    _sign_and_submit(capsys, d, draft, config)

    status, out, err = run(capsys, *verify)
    assert status == 0 and out.splitlines()[-1].startswith("  signature"), (out, err)
    assert "verdict: PASSED" in out


def test_p256_certificate_becomes_the_bare_key(
    demo: tuple[DemoWorld, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    world, d = demo
    private, der = _p256_certificate(ca=False)
    (d / "issuer.cer").write_bytes(der)
    signing = SigningKey(private)
    report = ok(capsys, "keys", "inspect", d / "issuer.cer")
    assert "P-256 (alg ES256), end-entity" in report and signing.kid in report
    assert "x5c" not in report

    licence = world.issue_licence(SHENZHEN, key=signing)
    (d / "licence.jws").write_text(licence)
    verify = ("verify", d / "licence.jws", "--trust", d, "--relying", ZHONGSHAN)
    assert run(capsys, *verify)[0] in (1, 3)  # an unknown key

    (d / "current.json").write_bytes(world.signed_lists[SHENZHEN].to_json())
    draft = d / "draft.json"
    ok(capsys, "list", "bump", d / "current.json", "--out", draft)
    granted = (NOW - timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ok(capsys, "list", "add-key", draft, "--service", "sz-amr", "--cert", d / "issuer.cer",
       "--granted-from", granted)  # fmt: skip
    _sign_and_submit(capsys, d, draft, d / "huren.json")
    status, out, err = run(capsys, *verify)
    assert (status, out.splitlines()[0]) == (0, "verdict: PASSED"), (out, err)


def test_certificates_that_cannot_be_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, ca_der = _p256_certificate(ca=True)
    (tmp_path / "ca.cer").write_bytes(ca_der)
    status, _, err = run(capsys, "keys", "inspect", tmp_path / "ca.cer")
    assert status == 1 and "P-256 CA certificate" in err and "Traceback" not in err
    sm2_key = Sm2PrivateKey.generate()
    no_signing = issue.make_certificate(
        issuer_key=sm2_key,
        subject={"common_name": "encryption only"},
        subject_point=sm2_key.point,
        not_before=NOW,
        not_after=NOW + timedelta(days=1),
        serial=5,
        key_usage=("key_encipherment",),
    )
    with pytest.raises(KeyMaterialError, match="does not allow signatures"):
        read_certificate(no_signing)
    two = pem.armor("CERTIFICATE", no_signing) + pem.armor("CERTIFICATE", ca_der)
    for data, message in (
        (two, "exactly one CERTIFICATE"),
        (pem.armor("PRIVATE KEY", b"\x30\x00"), "private key"),
        (b"\x30\x03\x02\x01\x00", "not an X.509 certificate"),
        (no_signing + b"\x00", "not an X.509 certificate"),
    ):
        with pytest.raises(KeyMaterialError, match=message):
            read_certificate(data)
    # add-key takes --key or --cert, not both, not neither (usage errors, exit 2).
    base = ("list", "add-key", tmp_path / "draft.json", "--service", "x", "--granted-from", "now")
    assert run(capsys, *base)[0] == 2
    assert run(capsys, *base, "--key", "k.jwk", "--cert", tmp_path / "ca.cer")[0] == 2
