"""Per-process caches stay within their caps, and a cap never changes a verdict: the national
verifier's certificate-signature cache judged with room for one entry gives the same verdicts,
byte for byte, as with the default room, while never holding more than one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from issuing import national as issue
from keys.x509 import SIGNATURE_CACHE_SIZE, SignatureCache
from tests.support.national_world import IN_2021, NOW, SZ, ZS, cert, default_world, key, vector
from tests.unit.test_national_documents import T0, make_seal, stamped_files
from verifier.national.verifier import NationalVerifier


def test_least_recently_used_goes_first() -> None:
    cache = SignatureCache(2)
    cache.put(("a", "ca"), True)
    cache.put(("b", "ca"), False)
    assert cache.get(("a", "ca")) is True  # now the most recently used
    cache.put(("c", "ca"), True)
    assert len(cache) == 2
    assert cache.get(("b", "ca")) is None  # evicted
    assert cache.get(("a", "ca")) is True and cache.get(("c", "ca")) is True
    assert cache.get(("x", "y")) is None


def test_the_cap_is_at_least_one_and_documented() -> None:
    assert SignatureCache().size == SIGNATURE_CACHE_SIZE == 4096
    with pytest.raises(ValueError):
        SignatureCache(0)


def _seal(maker: str) -> bytes:
    return make_seal(maker_key=key(maker), maker_certificate=cert(maker).der)


def _inputs() -> list[tuple[str, bytes]]:
    """Documents whose chains need different (certificate, issuer) signatures: seals made by
    SealBuilder and by USER (both under the Shenzhen seal authority's CA ROOT), a stamped
    document, and the third-party vectors of Zhongshan's listed makers."""
    return [
        ("seal", _seal("SealBuilder")),
        ("seal", _seal("USER")),
        ("ofd", issue.package(stamped_files())),
        ("ofd", vector("ofd", "v4signed.ofd")),
        ("seal", vector("seals", "SESealData.DER")),
    ]


def _judge(nv: NationalVerifier, kind: str, data: bytes, relying: str) -> dict[str, Any]:
    if kind == "seal":
        return nv.verify_seal(data, relying, IN_2021).to_dict()
    return nv.verify_document(data, relying, IN_2021).to_dict()


def test_a_full_cache_evicts_and_changes_no_verdict() -> None:
    store = default_world().store
    roomy = NationalVerifier(store, clock=lambda: NOW)
    tight = NationalVerifier(store, clock=lambda: NOW, chain_cache_size=1)
    inputs = _inputs()
    for _ in range(3):  # again and again, so entries are evicted and judged anew
        for kind, data in inputs:
            for relying in (SZ, ZS):
                assert _judge(tight, kind, data, relying) == _judge(roomy, kind, data, relying)
                assert len(tight._chain_cache) <= 1
    # The inputs did need more than one entry: the cap was what held the tight one to one.
    assert len(roomy._chain_cache) > 1
    assert len(tight._chain_cache) == 1


def test_the_memo_caches_stay_within_their_caps() -> None:
    """The other per-process memories of verifier/ and trust_lists/ that a stream of new inputs
    fills: formatted instants and validated JWS headers, each emptied when full."""
    from keys.encoding import b64url_encode
    from trust_lists import timeutil
    from verifier import verifier as jws_verifier

    peak = 0
    for i in range(timeutil._FORMATTED_MAX + 10):
        timeutil.format_time(T0 + timedelta(seconds=i))
        peak = max(peak, len(timeutil._FORMATTED))
    assert peak == timeutil._FORMATTED_MAX  # filled to the cap, never past it
    peak = 0
    for i in range(jws_verifier._HEADER_CACHE_MAX + 10):
        header = b64url_encode(f'{{"alg":"EdDSA","kid":"k{i}"}}'.encode())
        jws_verifier._parse_compact(header.encode() + b".e30.c2ln", 4096)
        peak = max(peak, len(jws_verifier._HEADER_CACHE))
    assert peak == jws_verifier._HEADER_CACHE_MAX
