"""Adversarial review of issue 13 (integrity before trust): what a party with no listed key
controls — the names in the certificates and the seal it makes itself — must not reach a
person's screen as terminal or bidi control characters, whatever the verdict."""

from __future__ import annotations

import unicodedata
from datetime import timedelta

from api.national_cli import render
from keys.sm2 import Sm2PrivateKey
from keys.x509 import Certificate
from tests.national_world import IN_2021, SZ, untrusted_world
from tests.test_national_documents import T0, make_seal
from verifier import Indication, SubIndication, Verdict
from verifier.national import issue

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
    from tests.test_verdict_integrity import digital_sign_files, judge

    files = digital_sign_files()
    name = "Doc_0/Signs/Sign_0/Signature.xml"
    path = "/Doc_0/" + "\u202e" + "A" * 200_000
    files[name] = files[name].replace(
        b'<ofd:Reference FileRef="/OFD.xml">', f'<ofd:Reference FileRef="{path}">'.encode()
    )
    v = judge(files, untrusted_world())
    assert v.indication is Indication.FAILED
    check = v.checks[-1]
    assert check.code == "ofd.reference_missing"
    for message in (check.message_zh, check.message_en):
        assert "AAAA" in message and len(message) < 1000 and controls(message) == []
