"""A trust world for the national-format tests: the ofdrw test PKI and the third-party seal
makers of ../shared/vectors put in signed trust lists, and a national verifier over them.

tests/data/national/ holds the ofdrw test keys (ROOT, USER, SealBuilder) exported from the
PKCS#12 files of ../shared/vectors/ofdrw/keys (ofdrw/ofdrw, Apache-2.0; public test keys, never
trusted in production): NAME.cer is the DER certificate, NAME.key.pem the PKCS#8 SM2 key."""

from __future__ import annotations

import functools
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

from issuing import national as national_issuing
from keys import ES256, SigningKey
from keys.sm2 import Sm2PrivateKey, Sm2PublicKey
from keys.x509 import Certificate
from tests.support.vectors import vector_path
from trust_lists import authoring
from trust_lists.catalogue import Catalogue, DocumentType, Recognition, SignedCatalogue
from trust_lists.model import ServiceKind, TrustList
from trust_lists.signed import Anchor, SignedTrustList
from trust_lists.store import TrustStore
from trust_lists.uscc import make_uscc
from verifier.formats import SEAL_TYPES
from verifier.national import asn1
from verifier.national.verifier import NationalVerifier

DATA = Path(__file__).resolve().parents[1] / "data" / "national"
SZ, ZS = "440300", "442000"
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
ISSUED = NOW - timedelta(hours=1)
GRANTED = datetime(2019, 1, 1, tzinfo=UTC)
# Inside the validity of the ofdrw seals and certificates (2020-04-22 .. 2022-04-21).
IN_2021 = datetime(2021, 6, 1, tzinfo=UTC)


def data(name: str) -> bytes:
    return (DATA / name).read_bytes()


def vector(*parts: str) -> bytes:
    return vector_path("ofdrw", *parts).read_bytes()


def cert(name: str) -> Certificate:
    return Certificate.parse(data(f"{name}.cer"))


def key(name: str) -> Sm2PrivateKey:
    return Sm2PrivateKey.from_pem(data(f"{name}.key.pem"))


def self_signed(key: Sm2PrivateKey, name: str, serial: int, *, days: int = 3650) -> bytes:
    """A DER certificate of `key`, signed by itself, valid from 2021 for `days`: a signing key
    that no trust list names unless a test lists it."""
    start = datetime(2021, 1, 1, tzinfo=UTC)
    return national_issuing.make_certificate(
        issuer_key=key,
        subject={"common_name": name},
        subject_point=key.point,
        not_before=start,
        not_after=start + timedelta(days=days),
        serial=serial,
    )


def ofd_member(name: str, member: str) -> bytes:
    with zipfile.ZipFile(BytesIO(vector("ofd", name))) as zf:
        return zf.read(member)


@functools.cache
def third_party_makers() -> dict[str, Certificate]:
    """The seal makers' certificates of the third-party vectors."""
    v4 = asn1.parse_signature(ofd_member("v4signed.ofd", "Doc_0/Signs/Sign_0/SignedValue.dat"))
    hebei = asn1.parse_seal(vector("seals", "SESealData.DER"))
    return {
        "tax": Certificate.parse(v4.seal.maker_cert),
        "hebei": Certificate.parse(hebei.maker_cert),
    }


@functools.cache
def operators() -> dict[str, list[SigningKey]]:
    return {code: [SigningKey.generate(ES256) for _ in range(2)] for code in (SZ, ZS)}


def _service(
    tl: TrustList, sid: str, kind: ServiceKind, n: int, keys: list[Sm2PublicKey]
) -> TrustList:
    return authoring.add_service(
        tl,
        service_id=sid,
        kind=kind,
        name_zh=f"测试服务{n}",
        name_en=f"Test service {n}",
        credit_code=make_uscc(f"1144030000000{n:04d}"),
        scope=list(SEAL_TYPES) if kind is ServiceKind.SEAL_AUTHORITY else ["business_licence"],
        keys=keys,
        granted_from=GRANTED,
    )


def empty_lists() -> dict[str, TrustList]:
    """Both cities' lists, fresh and signed, naming no service at all."""
    ops = operators()
    lists = {}
    for code, name in ((SZ, ("深圳市", "Shenzhen")), (ZS, ("中山市", "Zhongshan"))):
        lists[code] = authoring.new_trust_list(
            jurisdiction=code,
            name_zh=name[0],
            name_en=name[1],
            operators=[k.public_key for k in ops[code]],
            threshold=1,
            issued_at=ISSUED,
            validity=timedelta(days=30),
        )
    return lists


def trust_lists(extra_sz: list[Sm2PublicKey] | None = None) -> dict[str, TrustList]:
    lists = empty_lists()
    makers = third_party_makers()
    # Shenzhen: ofdrw's ROOT as the CA of a seal-making authority; USER as a licence issuer.
    root = Sm2PublicKey.from_certificate(cert("ROOT"))
    lists[SZ] = _service(lists[SZ], "sz-seal", ServiceKind.SEAL_AUTHORITY, 1, [root])
    user = Sm2PublicKey.from_certificate(cert("USER"))
    lists[SZ] = _service(lists[SZ], "sz-amr", ServiceKind.LICENCE_ISSUER, 2, [user])
    if extra_sz:
        lists[SZ] = _service(lists[SZ], "sz-extra", ServiceKind.SEAL_AUTHORITY, 3, extra_sz)
    # Zhongshan: two third-party seal makers named by their own certificates.
    tax = Sm2PublicKey.from_certificate(makers["tax"])
    hebei = Sm2PublicKey.from_certificate(makers["hebei"])
    lists[ZS] = _service(lists[ZS], "zs-seal-tax", ServiceKind.SEAL_AUTHORITY, 4, [tax])
    lists[ZS] = _service(lists[ZS], "zs-seal-hebei", ServiceKind.SEAL_AUTHORITY, 5, [hebei])
    return lists


def catalogue() -> Catalogue:
    seal_types = {c: DocumentType(c, zh, en) for c, (zh, en) in SEAL_TYPES.items()}
    lic = {"business_licence": DocumentType("business_licence", "营业执照", "Business licence")}
    recs = tuple(
        Recognition(r, i, frozenset(lic), frozenset(seal_types)) for r in (SZ, ZS) for i in (SZ, ZS)
    )
    return Catalogue(1, ISSUED, lic, seal_types, recs)


@dataclass
class World:
    store: TrustStore
    verifier: NationalVerifier


def world(
    *,
    extra_sz: list[Sm2PublicKey] | None = None,
    lists: dict[str, TrustList] | None = None,
    with_catalogue: bool = True,
    only: tuple[str, ...] = (SZ, ZS),
    cat: Catalogue | None = None,
) -> World:
    ops = operators()
    anchors = [
        Anchor(code, 1, frozenset(k.kid for k in ops[code]), tuple(k.public_key for k in ops[code]))
        for code in (SZ, ZS)
    ]
    store = TrustStore(anchors)
    tls = lists or trust_lists(extra_sz)
    for code in only:
        signed = SignedTrustList.create(tls[code], ops[code][:1])
        store.submit_trust_list(signed.to_json(), now=NOW)
    if with_catalogue:
        signers = [ops[SZ][0], ops[ZS][0]]
        signed_cat = SignedCatalogue.create(cat or catalogue(), signers)
        store.submit_catalogue(signed_cat.to_json(), now=NOW)
    return World(store, NationalVerifier(store, clock=lambda: NOW))


@functools.cache
def default_world() -> World:
    return world()


@functools.cache
def untrusted_world() -> World:
    """Every list held and fresh, a catalogue, but no seal maker or licence issuer listed."""
    return world(lists=empty_lists())
