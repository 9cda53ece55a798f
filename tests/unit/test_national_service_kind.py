"""A seal made by a key that a trust list holds only as a licence issuer's: FAILED
key.service_kind, in the same words as for a JWS seal (one rule in verifier/_job.py)."""

from __future__ import annotations

from keys.sm2 import Sm2PrivateKey, Sm2PublicKey
from keys.x509 import Certificate
from tests.support.national_world import IN_2021, SZ, _service, self_signed, trust_lists, world
from tests.unit.test_national_documents import make_seal
from trust_lists.model import ServiceKind
from verifier import Indication, SubIndication


def test_a_licence_issuers_key_makes_no_seal() -> None:
    maker_key = Sm2PrivateKey.generate()
    der = self_signed(maker_key, "licence issuer, not a seal maker", 7, days=365)
    lists = trust_lists()
    key = Sm2PublicKey.from_certificate(Certificate.parse(der))
    lists[SZ] = _service(lists[SZ], "sz-issuer-2", ServiceKind.LICENCE_ISSUER, 6, [key])
    seal = make_seal(maker_key=maker_key, maker_certificate=der, seal_type=1)
    v = world(lists=lists).verifier.verify_seal(seal, SZ, IN_2021)
    assert (v.indication, v.sub_indication) == (
        Indication.FAILED,
        SubIndication.CHAIN_CONSTRAINTS_FAILURE,
    )
    failing = [c for c in v.checks if c.result.value != "PASSED"]
    assert [c.code for c in failing] == ["key.service_kind"]
    assert v.trust.issuing_jurisdiction == SZ
    text = failing[0].to_dict()
    assert "测试服务6" in str(text) and "enterprise e-seals" in str(text), text
