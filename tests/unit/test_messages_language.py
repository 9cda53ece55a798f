"""Every message whole in its language (issue 13, finding 7): no English inside a Chinese
template, the signer named by name, and times called what they are."""

from __future__ import annotations

import re

import pytest

from verifier import messages
from verifier.national import messages as national
from verifier.verdict import Check

# Latin tokens a Chinese reason may carry: format, standard and algorithm names, and the JOSE
# header names a reason must quote exactly. Anything else is English in a Chinese message.
ALLOWED_LATIN = frozenset(
    {
        "CRL/OCSP", "DER", "ES256", "EdDSA", "GB", "GB/T", "GM/T", "HMAC", "JSON", "JWS", "OFD",
        "SHA-256", "SM2", "SM3", "Signature.xml", "X.509", "crit", "jku", "jwk", "none", "r",
        "s", "typ", "x5c", "x5u", "zip",
        # zip container terms (ofd.zip_*): a checksum, an encoding, a compression, a format
        "CRC", "UTF-8", "Unicode", "deflate", "zip64",
        # the QR form of a licence (format.qr_*, format.cbor, format.cose): its layers by name
        "HR1", "Base45", "RFC", "zlib", "CBOR", "COSE", "Sign1", "kid", "huren",
    }
)  # fmt: skip
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
_LATIN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[./\-][A-Za-z0-9]+)*")
SPECS = [*messages.SPECS.values(), *national.SPECS.values()]


def latin_words(template: str) -> set[str]:
    return set(_LATIN.findall(_PLACEHOLDER.sub("", template)))


@pytest.mark.parametrize("spec", SPECS, ids=[s.code for s in SPECS])
def test_chinese_templates_carry_no_english(spec: messages.CheckSpec) -> None:
    for template in (spec.meaning_zh, spec.passed_zh, spec.failed_zh):
        if template is not None:
            assert latin_words(template) <= ALLOWED_LATIN, (spec.code, template)
            # A parser's {detail} is English text: it may stand only in the English message.
            assert "{detail}" not in template, spec.code


def test_the_scan_finds_english() -> None:
    assert latin_words("文档不是合规的紧凑 JWS（a compact JWS has {detail}）") - ALLOWED_LATIN == {
        "a",
        "compact",
        "has",
    }


def test_a_parser_detail_reaches_the_english_message_only() -> None:
    check, _ = messages.failed("format.jws", detail="a compact JWS has three parts")
    assert check.message_zh == "文档不是合规的紧凑 JWS"
    assert "three parts" in check.message_en
    check, _ = national.failed("ses.format", what="印章", what_en="The seal", detail="bad tag 0x31")
    assert "bad tag" not in check.message_zh and "bad tag" in check.message_en


def _render(check: Check) -> str:
    return check.message_zh + " / " + check.message_en


def test_expired_names_the_end_and_the_time_judged_apart() -> None:
    end, used = "2022-04-22T00:00:00Z", "2026-08-04T00:00:00Z"
    cert, _ = national.failed(
        "cert.expired", role_zh="签章者", role_en="signer's", exp=end, at=used
    )
    assert f"valid until {end}" in cert.message_en and f"when it was used, at {used}" in (
        cert.message_en
    )
    assert f"expired at {used}" not in _render(cert)
    window, _ = messages.failed("validity.expired", exp=end, at=used)
    assert f"Valid until {end}" in window.message_en and f"expired at {used}" not in _render(window)
