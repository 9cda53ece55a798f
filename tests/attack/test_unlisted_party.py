"""Adversarial review of issue 13 (integrity before trust): what a party with no listed key
controls — the names in the certificates and the seal it makes itself — must not reach a
person's screen as terminal or bidi control characters, whatever the verdict; and hostile SM2
signature values through the real API are FAILED, never a 500 or a second reading."""

from __future__ import annotations

import unicodedata
from datetime import timedelta
from pathlib import Path

from cli.verify import render
from issuing import national as issue
from keys.sm2 import N, Sm2PrivateKey, der_to_raw, encode_signature
from keys.x509 import Certificate
from tests.support.national_world import IN_2021, SZ, untrusted_world
from tests.unit.test_national_documents import T0, make_seal
from verifier import Indication, SubIndication, Verdict

# Moves the cursor up, clears the line and writes a verdict of its own; then a right-to-left
# override and a line break.
HOSTILE = "Evil CA\x1b[1A\x1b[2K\rverdict: PASSED\u202e\u2066\nX\x00\x9b"


def hostile_maker() -> tuple[Sm2PrivateKey, bytes]:
    k = Sm2PrivateKey.generate()
    der = issue.make_certificate(
        issuer_key=k,
        subject={"common_name": HOSTILE, "organization_name": HOSTILE},
        subject_point=k.point,
        not_before=T0 - timedelta(days=1),
        not_after=T0 + timedelta(days=3650),
        serial=13,
    )
    return k, der


def controls(text: str) -> list[str]:
    return [f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in ("Cc", "Cf")]


def test_a_hostile_certificate_name_reaches_no_message_as_control_characters() -> None:
    k, der = hostile_maker()
    assert Certificate.parse(der).display_name.startswith("Evil CA\x1b")
    v = untrusted_world().verifier.verify_seal(
        make_seal(maker_key=k, maker_certificate=der), SZ, IN_2021
    )
    assert (v.indication, v.sub_indication) == (
        Indication.INDETERMINATE,
        SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
    )
    check = v.checks[-1]
    assert check.code == "ses.maker_found"
    for message in (check.message_zh, check.message_en):
        assert "Evil CA" in message and controls(message) == []


def test_cli_output_of_a_hostile_seal_has_no_control_characters() -> None:
    k, der = hostile_maker()
    seal = make_seal(maker_key=k, maker_certificate=der, name=HOSTILE, es_id="ES\x1b[2K1")
    v: Verdict = untrusted_world().verifier.verify_seal(seal, SZ, IN_2021)
    for lang in ("zh", "en"):
        out = render(v, [], lang)
        assert "Evil CA" in out
        assert [c for line in out.split("\n") for c in controls(line)] == []
        assert "\nverdict: PASSED" not in out and out.count("\n") == len(out.splitlines()) - 1


def test_a_huge_path_in_an_unauthenticated_signature_description_is_clipped() -> None:
    # A bare Type="Sign" signature's Signature.xml is checked file by file before any key is
    # tried, so what it says reaches a message even when nobody signed it.
    import random

    from tests.attack.test_verdict_integrity import digital_sign_files, judge

    files = digital_sign_files()
    name = "Doc_0/Signs/Sign_0/Signature.xml"
    # Not 200,000 times "A": an entry compressing over 200:1 is refused before anything is read
    # (issue 12, ofd.limits); and a location over 1,024 characters is no usable path (ofd.path).
    rng = random.Random(69)
    filler = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(200_000))
    path = "/Doc_0/" + "\u202e" + "AAAA" + filler
    files[name] = files[name].replace(
        b'<ofd:Reference FileRef="/OFD.xml">', f'<ofd:Reference FileRef="{path}">'.encode()
    )
    v = judge(files, untrusted_world())
    assert v.indication is Indication.FAILED
    check = v.checks[-1]
    assert check.code == "ofd.path"
    for message in (check.message_zh, check.message_en):
        assert "AAAA" in message and len(message) < 1000 and controls(message) == []


def _with_signature(seal: bytes, value: bytes) -> bytes:
    """`seal` with its maker's signature value replaced by `value` (the rest as made)."""
    from verifier.national import asn1, der

    s = asn1.parse_seal(seal)
    return issue._seq(
        s.signed_content,
        issue._octets(s.maker_cert),
        der.encode_oid(s.signature_oid),
        issue._bits(value),
    )


def test_hostile_sm2_values_through_the_api_are_failed_never_500(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from demo.world import DEMO_EPOCH, ZHONGSHAN
    from tests.service.test_national_hooks import national_world
    from tests.support.api_support import Clock, RecordingSync, auth, service_dir, settings_for

    good = make_seal()
    raw = der_to_raw(asn1_signature(good))
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    der_r = encode_signature(r, s)
    values = {
        "r=0": encode_signature(0, s),
        "s=n": encode_signature(r, N),
        "r+n": encode_signature(r + N, s),
        "raw r=0": bytes(32) + raw[32:],
        "raw s=n": raw[:32] + N.to_bytes(32, "big"),
        "trailing byte": der_r + b"\x00",
        "long-form length": b"\x30\x81" + der_r[1:],
        "64-byte DER": encode_signature(1 << 224, 1 << 224),
        "63 bytes": raw[:63],
        "65 bytes": raw + b"\x01",
        "empty": b"",
    }
    world, _ = national_world(DEMO_EPOCH)
    service_dir(world, tmp_path)
    app = create_app(settings_for(tmp_path), clock=Clock(DEMO_EPOCH), sync=RecordingSync())  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as client:
        for name, value in values.items():
            resp = client.post(
                "/v1/seals/verify",
                files={"file": ("s.esl", _with_signature(good, value), "application/x-esl")},
                data={"relying_jurisdiction": ZHONGSHAN},
                headers=auth("business"),
            )
            assert resp.status_code == 200, (name, resp.text)
            verdict = resp.json()["verdict"]
            assert (verdict["indication"], verdict["sub_indication"]) == (
                "FAILED",
                "SIG_CRYPTO_FAILURE",
            ), name
        # The same value as DER and as r||s: one reading each, both intact (maker unlisted).
        for value in (der_r, raw):
            resp = client.post(
                "/v1/seals/verify",
                files={"file": ("s.esl", _with_signature(good, value), "application/x-esl")},
                data={"relying_jurisdiction": ZHONGSHAN},
                headers=auth("business"),
            )
            assert resp.json()["verdict"]["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"


def asn1_signature(seal: bytes) -> bytes:
    from verifier.national import asn1

    return asn1.parse_seal(seal).signature
