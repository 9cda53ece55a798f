"""The national-format part of the demo world: per city an SM2 seal-making authority (a CA
certificate in the city's trust list), an SM2 certificate for the Shenzhen enterprise, its
GB/T 38540 official seal, and the demo contract as an OFD document stamped with it.

demo/world.py calls (see docs/national-formats.md, "Hooks"):
    national = national_demo.build(now, CITIES, SZ_ENTERPRISE, picture=..., text=CONTRACT_TEXT)
    tl = national_demo.add_service(tl, city, national, granted_from=long_ago)   # in _city_list
    samples.update(national_demo.samples(national))
    national_demo.write_keys(key_dir, national)                               # in write_demo"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final, Protocol

from issuing import national as issue
from keys.sm2 import Sm2PrivateKey, Sm2PublicKey
from keys.x509 import Certificate
from trust_lists import authoring
from trust_lists.model import ServiceKind, TrustList
from trust_lists.uscc import make_uscc
from verifier.formats import SEAL_TYPES

SEAL_TYPE_OFFICIAL: Final = 1  # GB/T 38540 property.type of an official seal (公章)
SAMPLE_SEAL: Final = "seal-sz-official.esl"
SAMPLE_OFD: Final = "contract-sz-stamped.ofd"
SAMPLE_SIGNATURE: Final = "contract-sz-signature.dat"
SAMPLE_SIGNED_DATA: Final = "contract-sz-signature.xml"


class CityLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def name_zh(self) -> str: ...
    @property
    def name_en(self) -> str: ...
    @property
    def short(self) -> str: ...


class EnterpriseLike(Protocol):
    @property
    def name_zh(self) -> str: ...
    @property
    def name_en(self) -> str: ...
    @property
    def credit_code(self) -> str: ...
    @property
    def jurisdiction(self) -> str: ...


@dataclass(frozen=True)
class NationalDemo:
    ca_keys: dict[str, Sm2PrivateKey]  # city code -> the seal-making authority's CA key
    ca_certificates: dict[str, bytes]
    maker_keys: dict[str, Sm2PrivateKey]  # city code -> the seal-making system's signing key
    maker_certificates: dict[str, bytes]
    enterprise_key: Sm2PrivateKey
    enterprise_certificate: bytes
    seal: bytes  # the enterprise's official seal (.esl)
    document: bytes  # the contract, stamped (.ofd)
    signed_at: datetime


def service_id(city: CityLike) -> str:
    return f"{city.short}-seal-sm2"


def build(
    now: datetime,
    cities: Iterable[CityLike],
    enterprise: EnterpriseLike,
    *,
    picture: bytes,
    text: bytes,
) -> NationalDemo:
    """Fresh SM2 keys and certificates for every city; the seal and the stamped contract of
    `enterprise` (made by its own city's authority). `picture` is a PNG."""
    cities = list(cities)
    ca_keys: dict[str, Sm2PrivateKey] = {}
    ca_certs: dict[str, bytes] = {}
    maker_keys: dict[str, Sm2PrivateKey] = {}
    maker_certs: dict[str, bytes] = {}
    start = now - timedelta(days=400)
    for i, city in enumerate(cities):
        ca = Sm2PrivateKey.generate()
        ca_keys[city.code] = ca
        ca_certs[city.code] = issue.make_certificate(
            issuer_key=ca,
            subject={
                "country_name": "CN",
                "organization_name": f"{city.name_zh}公安局",
                "common_name": f"{city.name_zh}电子印章制作 SM2 CA",
            },
            subject_point=ca.point,
            not_before=start,
            not_after=now + timedelta(days=3650),
            serial=1000 + i,
            ca=True,
            key_usage=("key_cert_sign", "crl_sign"),
        )
        maker = Sm2PrivateKey.generate()
        maker_keys[city.code] = maker
        maker_certs[city.code] = issue.make_certificate(
            issuer_key=ca,
            issuer_certificate=ca_certs[city.code],
            subject={
                "country_name": "CN",
                "organization_name": f"{city.name_zh}公安局",
                "common_name": f"{city.name_zh}电子印章制作系统",
            },
            subject_point=maker.point,
            not_before=start,
            not_after=now + timedelta(days=5 * 365),
            serial=2000 + i,
        )
    home = enterprise.jurisdiction
    ent_key = Sm2PrivateKey.generate()
    ent_cert = issue.make_certificate(
        issuer_key=ca_keys[home],
        issuer_certificate=ca_certs[home],
        subject={
            "country_name": "CN",
            "organization_name": enterprise.name_zh,
            "organization_identifier": enterprise.credit_code,
            "common_name": enterprise.name_zh,
        },
        subject_point=ent_key.point,
        not_before=now - timedelta(days=100),
        not_after=now + timedelta(days=2 * 365),
        serial=3000,
    )
    created = now - timedelta(days=90)
    seal = issue.make_seal(
        maker_key=maker_keys[home],
        maker_certificate=maker_certs[home],
        es_id=f"{home}0000012345",
        seal_type=SEAL_TYPE_OFFICIAL,
        name=enterprise.name_zh,
        signer_certificates=[ent_cert],
        created=created,
        valid_start=created,
        valid_end=now + timedelta(days=3 * 365),
        picture=issue.SealPicture("PNG", picture, 40, 40),
        vendor_id="HUREN-DEMO",
    )
    signed_at = now - timedelta(days=1)
    pages = text.decode("utf-8").strip().split("\n第二条")
    if len(pages) == 2:
        pages[1] = "第二条" + pages[1]
    files = issue.make_ofd(pages, doc_id="huren-demo-contract", title="深中两地食材供应合作协议")
    files = issue.stamp_ofd(
        files,
        seal=seal,
        signer_key=ent_key,
        signer_certificate=ent_cert,
        signed_at=signed_at,
    )
    return NationalDemo(
        ca_keys,
        ca_certs,
        maker_keys,
        maker_certs,
        ent_key,
        ent_cert,
        seal,
        issue.package(files),
        signed_at,
    )


def add_service(
    tl: TrustList, city: CityLike, national: NationalDemo, *, granted_from: datetime
) -> TrustList:
    """`tl` with the city's SM2 seal-making authority, named by its CA certificate."""
    ca = Certificate.parse(national.ca_certificates[city.code])
    return authoring.add_service(
        tl,
        service_id=service_id(city),
        kind=ServiceKind.SEAL_AUTHORITY,
        name_zh=f"{city.name_zh}公安局电子印章制作中心（SM2）",
        name_en=f"{city.name_en} Public Security Bureau e-seal centre (SM2)",
        credit_code=make_uscc(f"11{city.code}MB2E00030"),
        scope=list(SEAL_TYPES),
        keys=[Sm2PublicKey.from_certificate(ca)],
        granted_from=granted_from,
    )


def samples(national: NationalDemo) -> dict[str, bytes]:
    """The seal, the stamped contract, and its first signature taken out of the package: the
    SES_Signature value (.dat) and the Signature.xml it signs (`huren verify X.dat --data Y`)."""
    with zipfile.ZipFile(io.BytesIO(national.document)) as zf:
        value = zf.read("Doc_0/Signs/Sign_0/SignedValue.dat")
        signed = zf.read("Doc_0/Signs/Sign_0/Signature.xml")
    return {
        SAMPLE_SEAL: national.seal,
        SAMPLE_OFD: national.document,
        SAMPLE_SIGNATURE: value,
        SAMPLE_SIGNED_DATA: signed,
    }


def write_keys(key_dir: Path, national: NationalDemo) -> None:
    """The SM2 keys (PKCS#8 PEM, mode 0600) and certificates (DER) of the demo."""
    key_dir = Path(key_dir)
    items: list[tuple[str, bytes, int]] = []
    for code, k in national.ca_keys.items():
        items.append((f"{code}-seal-sm2-ca.pem", k.to_pem(), 0o600))
        items.append((f"{code}-seal-sm2-ca.cer", national.ca_certificates[code], 0o644))
    for code, k in national.maker_keys.items():
        items.append((f"{code}-seal-sm2-maker.pem", k.to_pem(), 0o600))
        items.append((f"{code}-seal-sm2-maker.cer", national.maker_certificates[code], 0o644))
    items.append(("enterprise-sm2.pem", national.enterprise_key.to_pem(), 0o600))
    items.append(("enterprise-sm2.cer", national.enterprise_certificate, 0o644))
    for name, data, mode in items:
        path = key_dir / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(path, mode)


__all__ = [
    "SAMPLE_OFD",
    "SAMPLE_SEAL",
    "SAMPLE_SIGNATURE",
    "SAMPLE_SIGNED_DATA",
    "NationalDemo",
    "add_service",
    "build",
    "samples",
    "service_id",
    "write_keys",
]
