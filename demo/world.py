"""The Shenzhen-Zhongshan demo world, built fully in memory with real keys and signatures.

Both cities (440300, 442000) each have: three ES256 operator keys (two must sign), a licence
issuer (the market regulator), a seal-making authority, and a 2-bit status list per service.
Shenzhen's issuer may issue business licences, food business permits and food production
licences; Zhongshan's only the first two (so a Zhongshan food production licence is outside its
scope). Shenzhen's issuer also holds a retired key (withdrawn 30 days ago) and a compromised one
(revoked 10 days ago), for demonstrating those verdicts. The recognition catalogue, signed by both
cities' operators, lets each city accept both cities' business licences, food business permits
and all five seal types; food production licences are recognised in Shenzhen only. It also lists
a handful of service items per city (SERVICE_ITEMS), among them the filing of collective-meal
suppliers, which accepts food business permits of central kitchens from both cities.

Tests use `build_demo_world(DEMO_EPOCH)` as their shared fixture; `huren demo init` calls
`write_demo(directory, build_demo_world(now))`; `huren demo renew` (run by `make run`) calls
`renew_demo`, which keeps the world and renews its lapsing lists as operators would."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import struct
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from demo import national as national_demo
from issuing.licences import issue_licence, make_seal, sign_sealed_document
from issuing.qr import qr_from_jws, qr_image
from keys import ES256, KeyMaterialError, SigningKey
from trust_lists.anchors import anchors_to_json, load_anchors
from trust_lists.authoring import add_service, change_key_status, new_trust_list, next_version
from trust_lists.catalogue import Catalogue, DocumentType, Recognition, SignedCatalogue
from trust_lists.items import HOLDER_ENTERPRISE, DataIncludes, ItemRule, ServiceItem
from trust_lists.model import KeyStatus, ServiceKind, TrustList
from trust_lists.signed import Anchor, SignedTrustList
from trust_lists.status_authoring import StatusListDraft, renew
from trust_lists.status_list import sign_status_list
from trust_lists.storage import TrustDirectory
from trust_lists.store import TrustStore
from trust_lists.timeutil import format_time
from trust_lists.uscc import make_uscc
from verifier import VerificationPolicy, Verifier
from verifier.formats import SEAL_TYPES

DEMO_EPOCH: Final = datetime(2026, 11, 26, tzinfo=UTC)

SHENZHEN: Final = "440300"
ZHONGSHAN: Final = "442000"

BUSINESS_LICENCE: Final = "business_licence"
FOOD_BUSINESS_PERMIT: Final = "food_business_permit"
FOOD_PRODUCTION_LICENCE: Final = "food_production_licence"

LICENCE_TYPES: Final = (
    DocumentType(BUSINESS_LICENCE, "营业执照", "Business licence"),
    DocumentType(FOOD_BUSINESS_PERMIT, "食品经营许可证", "Food business permit"),
    DocumentType(FOOD_PRODUCTION_LICENCE, "食品生产许可证", "Food production licence"),
)

# Service items (政务服务事项) of the demo catalogue. The food business permit of a central kitchen
# or a collective-meal distributor counts, from either city, for the supplier filings; a
# Zhongshan permit counts for nothing that needs a Shenzhen food production licence.
CENTRAL_KITCHEN: Final = DataIncludes("主体业态", ("中央厨房", "集体用餐配送单位", "餐饮管理企业"))
BOTH: Final = frozenset({SHENZHEN, ZHONGSHAN})
_NO: Final[frozenset[str]] = frozenset()
ITEM_SZ_MEAL_SUPPLIER: Final = "440300-SCJG-0012"
ITEM_SZ_FOOD_PRODUCTION: Final = "440300-SCJG-0045"


def _supplier_rules() -> tuple[ItemRule, ...]:
    return (
        ItemRule(
            BOTH,
            frozenset({FOOD_BUSINESS_PERMIT}),
            _NO,
            HOLDER_ENTERPRISE,
            CENTRAL_KITCHEN,
        ),
        ItemRule(BOTH, frozenset({BUSINESS_LICENCE}), _NO, HOLDER_ENTERPRISE),
        ItemRule(BOTH, _NO, frozenset({"official", "contract"})),
    )


def _construction_rules() -> tuple[ItemRule, ...]:
    return (ItemRule(BOTH, frozenset({BUSINESS_LICENCE}), frozenset({"official", "contract"})),)


SERVICE_ITEMS: Final = (
    ServiceItem(
        SHENZHEN,
        ITEM_SZ_MEAL_SUPPLIER,
        "集体用餐配送供应商备案",
        "Filing of collective-meal suppliers",
        "深圳市市场监督管理局",
        "Shenzhen Administration for Market Regulation",
        _supplier_rules(),
    ),
    ServiceItem(
        SHENZHEN,
        "440300-JYJ-0031",
        "学校食堂承包经营单位登记",
        "Registration of school-canteen catering operators",
        "深圳市教育局",
        "Shenzhen Education Bureau",
        _supplier_rules()[:2],
    ),
    ServiceItem(
        SHENZHEN,
        ITEM_SZ_FOOD_PRODUCTION,
        "食品生产许可证变更",
        "Change of a food production licence",
        "深圳市市场监督管理局",
        "Shenzhen Administration for Market Regulation",
        (ItemRule(frozenset({SHENZHEN}), frozenset({FOOD_PRODUCTION_LICENCE}), _NO),),
    ),
    ServiceItem(
        SHENZHEN,
        "440300-ZJJ-0210",
        "建设工程施工合同备案",
        "Filing of construction contracts",
        "深圳市住房和建设局",
        "Shenzhen Housing and Construction Bureau",
        _construction_rules(),
    ),
    ServiceItem(
        SHENZHEN,
        "440300-SW-0102",
        "增值税发票领用",
        "Collection of VAT invoices",
        "国家税务总局深圳市税务局",
        "Shenzhen Tax Service, STA",
    ),
    ServiceItem(
        ZHONGSHAN,
        "442000-SCJG-0008",
        "集体用餐配送供应商备案",
        "Filing of collective-meal suppliers",
        "中山市市场监督管理局",
        "Zhongshan Administration for Market Regulation",
        _supplier_rules(),
    ),
    ServiceItem(
        ZHONGSHAN,
        "442000-SCJG-0020",
        "食品经营许可证延续",
        "Renewal of a food business permit",
        "中山市市场监督管理局",
        "Zhongshan Administration for Market Regulation",
        (ItemRule(frozenset({ZHONGSHAN}), frozenset({FOOD_BUSINESS_PERMIT}), _NO),),
    ),
    ServiceItem(
        ZHONGSHAN,
        "442000-ZJJ-0033",
        "建设工程施工合同备案",
        "Filing of construction contracts",
        "中山市住房和城乡建设局",
        "Zhongshan Housing and Urban-Rural Development Bureau",
        _construction_rules(),
    ),
    ServiceItem(
        ZHONGSHAN,
        "442000-SW-0015",
        "增值税发票领用",
        "Collection of VAT invoices",
        "国家税务总局中山市税务局",
        "Zhongshan Tax Service, STA",
    ),
)

LIST_VALIDITY: Final = timedelta(days=30)
STATUS_VALIDITY: Final = timedelta(days=7)
STATUS_ENTRIES: Final = 1024
STATUS_BITS: Final = 2
# Slots with a fixed meaning in every demo status list.
IDX_VALID: Final = 0
IDX_REVOKED: Final = 1
IDX_SUSPENDED: Final = 2


@dataclass(frozen=True, slots=True)
class City:
    code: str
    name_zh: str
    name_en: str
    short: str  # used in service ids and URIs
    issuer_credit_code: str
    seal_authority_credit_code: str
    licence_scope: tuple[str, ...]

    @property
    def issuer_id(self) -> str:
        return f"{self.short}-amr"

    @property
    def seal_authority_id(self) -> str:
        return f"{self.short}-psb-seal"

    @property
    def issuer_status_uri(self) -> str:
        return f"https://status.{self.short}.huren.example/{self.issuer_id}/1"

    @property
    def seal_status_uri(self) -> str:
        return f"https://status.{self.short}.huren.example/{self.seal_authority_id}/1"


CITIES: Final = (
    City(
        SHENZHEN,
        "深圳市",
        "Shenzhen",
        "sz",
        make_uscc("11440300MB2C00017"),
        make_uscc("11440300MB2C00025"),
        (BUSINESS_LICENCE, FOOD_BUSINESS_PERMIT, FOOD_PRODUCTION_LICENCE),
    ),
    City(
        ZHONGSHAN,
        "中山市",
        "Zhongshan",
        "zs",
        make_uscc("11442000MB2D00035"),
        make_uscc("11442000MB2D00043"),
        (BUSINESS_LICENCE, FOOD_BUSINESS_PERMIT),
    ),
)
CITY: Final = {c.code: c for c in CITIES}


@dataclass(frozen=True, slots=True)
class Enterprise:
    key_name: str
    name_zh: str
    name_en: str
    credit_code: str
    jurisdiction: str


SZ_ENTERPRISE: Final = Enterprise(
    "enterprise-sz-qianhai",
    "深圳市前海互认科技有限公司",
    "Shenzhen Qianhai Huren Technology Co., Ltd.",
    make_uscc("91440300MA5G2U8T1"),
    SHENZHEN,
)
ZS_ENTERPRISE: Final = Enterprise(
    "enterprise-zs-cuiheng",
    "中山市翠亨中央厨房有限公司",
    "Zhongshan Cuiheng Central Kitchen Co., Ltd.",
    make_uscc("91442000MA4X7PQ2N"),
    ZHONGSHAN,
)

CONTRACT_TEXT: Final = (
    "深中两地食材供应合作协议\n"
    "甲方：深圳市前海互认科技有限公司\n"
    "乙方：中山市翠亨中央厨房有限公司\n"
    "第一条 乙方按甲方订单供应中央厨房成品菜，甲方按月结算。\n"
    "第二条 本协议自双方盖章之日起生效，有效期一年。\n"
).encode()


def operator_key_name(code: str, i: int) -> str:
    return f"{code}-operator-{i}"


def _png_seal(size: int = 48) -> bytes:
    """A tiny valid PNG (red ring on transparent ground), written with zlib only."""
    centre, outer, inner = (size - 1) / 2, size / 2 - 1, size / 2 - 5
    rows = bytearray()
    for y in range(size):
        rows.append(0)  # filter type: none
        for x in range(size):
            d = ((x - centre) ** 2 + (y - centre) ** 2) ** 0.5
            star = abs(x - centre) + abs(y - centre) < size / 6
            rows += b"\xd0\x10\x10\xff" if inner <= d <= outer or star else b"\x00\x00\x00\x00"

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


@dataclass(frozen=True)
class DemoWorld:
    """Everything of the demo, in memory. Treat as read-only: tests share one instance."""

    now: datetime
    keys: dict[str, SigningKey]
    anchors: list[Anchor]
    trust_lists: dict[str, TrustList]  # unsigned, for building the next versions
    signed_lists: dict[str, SignedTrustList]
    catalogue: Catalogue
    signed_catalogue: SignedCatalogue
    status_lists: dict[str, str]  # uri -> signed token
    licence_sz: str  # Shenzhen business licence of SZ_ENTERPRISE
    licence_zs: str  # Zhongshan food business permit of ZS_ENTERPRISE
    seal_sz: str  # official seal of SZ_ENTERPRISE
    seal_image: bytes
    sealed_document: bytes
    sealed_signature: str
    receipt_key: SigningKey
    samples: dict[str, bytes] = field(default_factory=dict)  # file name -> content
    national: national_demo.NationalDemo | None = None  # SM2 seal authorities, stamped OFD

    # -- keys ------------------------------------------------------------------------------

    def operators(self, code: str) -> list[SigningKey]:
        return [self.keys[operator_key_name(code, i)] for i in (1, 2, 3)]

    def issuer_key(self, code: str) -> SigningKey:
        return self.keys[f"{code}-issuer"]

    def seal_authority_key(self, code: str) -> SigningKey:
        return self.keys[f"{code}-seal-authority"]

    # -- signing on behalf of the demo authorities -------------------------------------------

    def sign_list(self, tl: TrustList) -> bytes:
        """`tl` signed by a threshold (two of three) of its jurisdiction's current operators."""
        return SignedTrustList.create(tl, self.operators(tl.jurisdiction)[:2]).to_json()

    def sign_status_list(
        self,
        uri: str,
        statuses: list[int] | None = None,
        *,
        issued_at: datetime | None = None,
        expires_at: datetime | None = None,
        key: SigningKey | None = None,
    ) -> str:
        """A status list for `uri`, signed by the service that publishes it (default content:
        the demo's, with IDX_REVOKED revoked and IDX_SUSPENDED suspended)."""
        issued = issued_at or self.now - timedelta(hours=1)
        signer = key or self._status_signer(uri)
        return sign_status_list(
            signer,
            uri=uri,
            statuses=statuses if statuses is not None else default_statuses(),
            bits=STATUS_BITS,
            issued_at=issued,
            expires_at=expires_at or issued + STATUS_VALIDITY,
        )

    def _status_signer(self, uri: str) -> SigningKey:
        for city in CITIES:
            if uri == city.issuer_status_uri:
                return self.issuer_key(city.code)
            if uri == city.seal_status_uri:
                return self.seal_authority_key(city.code)
        raise KeyError(f"no demo service publishes {uri}")

    def licence_fields(self, code: str = SHENZHEN, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for `issuing.licences.issue_licence` / `licence_claims`: a business
        licence of the city's demo enterprise from `code`'s issuer, with `overrides` applied."""
        city = CITY[code]
        holder = SZ_ENTERPRISE if code == SHENZHEN else ZS_ENTERPRISE
        fields: dict[str, Any] = {
            "jurisdiction": code,
            "issuer": city.issuer_id,
            "number": f"{code}-BL-000123",
            "licence_type": BUSINESS_LICENCE,
            "holder_name": holder.name_zh,
            "holder_uscc": holder.credit_code,
            "issued_at": self.now - timedelta(days=30),
            "status": (IDX_VALID, city.issuer_status_uri),
        }
        fields.update(overrides)
        return fields

    def issue_licence(
        self, code: str = SHENZHEN, *, key: SigningKey | None = None, **overrides: Any
    ) -> str:
        """A licence signed by `code`'s issuer (or `key`); see `licence_fields`."""
        return issue_licence(key or self.issuer_key(code), **self.licence_fields(code, **overrides))

    def seal_fields(
        self, code: str = SHENZHEN, *, enterprise_key: SigningKey | None = None, **overrides: Any
    ) -> dict[str, Any]:
        """Keyword arguments for `make_seal` / `seal_claims`: an official seal of SZ_ENTERPRISE
        (bound to its demo key) from `code`'s seal-making authority, with `overrides` applied."""
        city = CITY[code]
        ent = enterprise_key or self.keys[SZ_ENTERPRISE.key_name]
        fields: dict[str, Any] = {
            "jurisdiction": code,
            "issuer": city.seal_authority_id,
            "seal_id": f"{code}0000012345",
            "seal_type": "official",
            "enterprise_name": SZ_ENTERPRISE.name_zh,
            "enterprise_uscc": SZ_ENTERPRISE.credit_code,
            "enterprise_key": ent.public_key,
            "image": self.seal_image,
            "issued_at": self.now - timedelta(days=90),
            "valid_to": self.now + timedelta(days=3 * 365),
            "name": SZ_ENTERPRISE.name_zh,
            "status": (IDX_VALID, city.seal_status_uri),
        }
        fields.update(overrides)
        return fields

    def make_seal(
        self,
        code: str = SHENZHEN,
        *,
        key: SigningKey | None = None,
        enterprise_key: SigningKey | None = None,
        **overrides: Any,
    ) -> str:
        """A seal made by `code`'s seal-making authority (or `key`); see `seal_fields`."""
        fields = self.seal_fields(code, enterprise_key=enterprise_key, **overrides)
        return make_seal(key or self.seal_authority_key(code), **fields)

    # -- stores ----------------------------------------------------------------------------

    def store(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        now: datetime | None = None,
        grace: timedelta = timedelta(0),
    ) -> TrustStore:
        """A TrustStore with both lists, every status list and the catalogue submitted, judged
        at `now` (default: the world's own time, so the result never depends on the clock)."""
        when = now or self.now
        store = TrustStore(
            self.anchors, TrustDirectory(directory) if directory is not None else None, grace=grace
        )
        for code in sorted(self.signed_lists):
            store.submit_trust_list(self.signed_lists[code].to_json(), now=when)
        for uri in sorted(self.status_lists):
            store.submit_status_list(self.status_lists[uri], now=when)
        store.submit_catalogue(self.signed_catalogue.to_json(), now=when)
        return store

    def verifier(
        self,
        store: TrustStore | None = None,
        *,
        now: datetime | None = None,
        policy: VerificationPolicy | None = None,
    ) -> Verifier:
        """A Verifier over `store` (default: a fresh `self.store()`) whose clock is fixed at
        `now` (default: the world's time)."""
        when = now or self.now
        return Verifier(store or self.store(), policy, clock=lambda: when)


def default_statuses() -> list[int]:
    statuses = [0] * STATUS_ENTRIES
    statuses[IDX_REVOKED] = 1
    statuses[IDX_SUSPENDED] = 2
    return statuses


def _city_list(
    city: City,
    now: datetime,
    keys: dict[str, SigningKey],
    ops: list[SigningKey],
    national: national_demo.NationalDemo | None = None,
) -> TrustList:
    long_ago = now - timedelta(days=400)
    tl = new_trust_list(
        jurisdiction=city.code,
        name_zh=city.name_zh,
        name_en=city.name_en,
        operators=[k.public_key for k in ops],
        threshold=2,
        issued_at=now - timedelta(hours=1),
        validity=LIST_VALIDITY,
    )
    issuer_keys = [keys[f"{city.code}-issuer"]]
    if city.code == SHENZHEN:
        issuer_keys += [
            keys[f"{city.code}-issuer-retired"],
            keys[f"{city.code}-issuer-compromised"],
        ]
    tl = add_service(
        tl,
        service_id=city.issuer_id,
        kind=ServiceKind.LICENCE_ISSUER,
        name_zh=f"{city.name_zh}市场监督管理局",
        name_en=f"{city.name_en} Administration for Market Regulation",
        credit_code=city.issuer_credit_code,
        scope=city.licence_scope,
        keys=[k.public_key for k in issuer_keys],
        granted_from=long_ago,
        status_lists=[city.issuer_status_uri],
    )
    if city.code == SHENZHEN:
        tl = change_key_status(
            tl,
            keys[f"{city.code}-issuer-retired"].kid,
            KeyStatus.WITHDRAWN,
            effective=now - timedelta(days=30),
        )
        tl = change_key_status(
            tl,
            keys[f"{city.code}-issuer-compromised"].kid,
            KeyStatus.REVOKED,
            effective=now - timedelta(days=10),
        )
    tl = add_service(
        tl,
        service_id=city.seal_authority_id,
        kind=ServiceKind.SEAL_AUTHORITY,
        name_zh=f"{city.name_zh}公安局印章管理办公室",
        name_en=f"{city.name_en} Public Security Bureau Seal Office",
        credit_code=city.seal_authority_credit_code,
        scope=list(SEAL_TYPES),
        keys=[keys[f"{city.code}-seal-authority"].public_key],
        granted_from=long_ago,
        status_lists=[city.seal_status_uri],
    )
    if national is not None:  # the SM2 seal-making authority (GB/T 38540 seals)
        tl = national_demo.add_service(tl, city, national, granted_from=long_ago)
    return tl


def _catalogue(now: datetime) -> Catalogue:
    seal_types = tuple(DocumentType(code, zh, en) for code, (zh, en) in SEAL_TYPES.items())
    recognitions = []
    for relying in CITIES:
        for issuing in CITIES:
            licences = {BUSINESS_LICENCE, FOOD_BUSINESS_PERMIT}
            if relying.code == issuing.code == SHENZHEN:
                licences.add(FOOD_PRODUCTION_LICENCE)
            recognitions.append(
                Recognition(
                    relying.code,
                    issuing.code,
                    frozenset(licences),
                    frozenset(SEAL_TYPES),
                )
            )
    return Catalogue(
        1,
        now - timedelta(hours=1),
        {t.code: t for t in LICENCE_TYPES},
        {t.code: t for t in seal_types},
        tuple(recognitions),
        SERVICE_ITEMS,
    )


def build_demo_world(now: datetime) -> DemoWorld:
    """The whole demo world at time `now` (aware). Fresh keys every call."""
    if now.tzinfo is None:
        raise ValueError("naive datetimes are not accepted; pass an aware UTC time")
    now = now.astimezone(UTC).replace(microsecond=0)
    keys: dict[str, SigningKey] = {}
    for city in CITIES:
        for i in (1, 2, 3):
            keys[operator_key_name(city.code, i)] = SigningKey.generate(ES256)
        keys[f"{city.code}-issuer"] = SigningKey.generate(ES256)
        keys[f"{city.code}-seal-authority"] = SigningKey.generate(ES256)
    keys[f"{SHENZHEN}-issuer-retired"] = SigningKey.generate(ES256)
    keys[f"{SHENZHEN}-issuer-compromised"] = SigningKey.generate(ES256)
    for ent in (SZ_ENTERPRISE, ZS_ENTERPRISE):
        keys[ent.key_name] = SigningKey.generate(ES256)
    receipt_key = SigningKey.generate(ES256)
    keys["receipt"] = receipt_key

    national = national_demo.build(
        now, CITIES, SZ_ENTERPRISE, picture=_png_seal(), text=CONTRACT_TEXT
    )
    anchors: list[Anchor] = []
    lists: dict[str, TrustList] = {}
    signed: dict[str, SignedTrustList] = {}
    for city in CITIES:
        ops = [keys[operator_key_name(city.code, i)] for i in (1, 2, 3)]
        anchors.append(
            Anchor(city.code, 2, frozenset(k.kid for k in ops), tuple(k.public_key for k in ops))
        )
        lists[city.code] = _city_list(city, now, keys, ops, national)
        signed[city.code] = SignedTrustList.create(lists[city.code], ops[:2])

    catalogue = _catalogue(now)
    signers = [keys[operator_key_name(c.code, i)] for c in CITIES for i in (1, 2)]
    signed_catalogue = SignedCatalogue.create(catalogue, signers)

    world = DemoWorld(
        now=now,
        keys=keys,
        anchors=anchors,
        trust_lists=lists,
        signed_lists=signed,
        catalogue=catalogue,
        signed_catalogue=signed_catalogue,
        status_lists={},
        licence_sz="",
        licence_zs="",
        seal_sz="",
        seal_image=_png_seal(),
        sealed_document=CONTRACT_TEXT,
        sealed_signature="",
        receipt_key=receipt_key,
    )
    for city in CITIES:
        for uri in (city.issuer_status_uri, city.seal_status_uri):
            world.status_lists[uri] = world.sign_status_list(uri)

    licence_sz = world.issue_licence(
        SHENZHEN,
        number="91440300MA5G2U8T1P",  # business licences are numbered by the credit code
        data={
            "法定代表人": "李明",
            "注册资本": "1000万元人民币",
            "住所": "深圳市前海深港合作区南山街道桂湾五路128号",
            "经营范围": "软件开发；信息技术咨询服务",
        },
    )
    licence_zs = world.issue_licence(
        ZHONGSHAN,
        number="JY24420000012345",
        licence_type=FOOD_BUSINESS_PERMIT,
        holder_name=ZS_ENTERPRISE.name_zh,
        holder_uscc=ZS_ENTERPRISE.credit_code,
        issued_at=now - timedelta(days=60),
        valid_to=now - timedelta(days=60) + timedelta(days=5 * 365),
        data={"经营场所": "中山市南朗街道翠亨新区马安岛1号", "主体业态": "中央厨房"},
    )
    seal_sz = world.make_seal(SHENZHEN)
    sealed_signature = sign_sealed_document(
        keys[SZ_ENTERPRISE.key_name],
        CONTRACT_TEXT,
        seal_sz,
        signed_at=now - timedelta(days=1),
        document_name="深中两地食材供应合作协议",
        document_type="text/plain; charset=utf-8",
    )
    samples = {
        "licence-sz-business.jws": licence_sz.encode("ascii") + b"\n",
        "licence-zs-food.jws": licence_zs.encode("ascii") + b"\n",
        "seal-sz-official.jws": seal_sz.encode("ascii") + b"\n",
        "seal-sz-official.png": world.seal_image,
        "contract.txt": CONTRACT_TEXT,
        "contract.sig.jws": sealed_signature.encode("ascii") + b"\n",
        **national_demo.samples(national),
        **_qr_samples(
            {
                "licence-sz-business": (licence_sz, world.issuer_key(SHENZHEN)),
                "licence-zs-food": (licence_zs, world.issuer_key(ZHONGSHAN)),
            }
        ),
    }
    # Frozen dataclass: the documents are known only now, so build the final instance here.
    return DemoWorld(
        now=now,
        keys=keys,
        anchors=anchors,
        trust_lists=lists,
        signed_lists=signed,
        catalogue=catalogue,
        signed_catalogue=signed_catalogue,
        status_lists=world.status_lists,
        licence_sz=licence_sz,
        licence_zs=licence_zs,
        seal_sz=seal_sz,
        seal_image=world.seal_image,
        sealed_document=CONTRACT_TEXT,
        sealed_signature=sealed_signature,
        receipt_key=receipt_key,
        samples=samples,
        national=national,
    )


def _qr_samples(licences: dict[str, tuple[str, SigningKey]]) -> dict[str, bytes]:
    """Each sample licence in its QR form (docs/formats.md): the HR1 string, and the QR code as
    PNG (to show on a phone or print) and SVG."""
    out: dict[str, bytes] = {}
    for name, (token, key) in licences.items():
        text = qr_from_jws(token, key)
        out[f"{name}.hr1.txt"] = text.encode("ascii") + b"\n"
        out[f"{name}.qr.png"] = qr_image(text, "png").data
        out[f"{name}.qr.svg"] = qr_image(text, "svg").data
    return out


DEMO_API_KEYS: Final = (
    ("counter-demo", "counter"),
    ("business-demo", "business"),
    ("admin-demo", "admin"),
)


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, mode)  # O_CREAT's mode is filtered by the umask; say exactly what we mean


def write_demo(directory: Path, world: DemoWorld) -> None:
    """Write the demo layout of docs/CONTRACTS.md into `directory` (which must not already hold
    a huren.json). The trust store directory is filled through a real TrustStore."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / "huren.json").exists():
        raise FileExistsError(f"{directory / 'huren.json'} exists; refusing to overwrite")

    _write(directory / "anchors.json", anchors_to_json(world.anchors))
    world.store(directory / "trust")

    key_dir = directory / "keys"
    key_dir.mkdir(mode=0o700, exist_ok=True)
    for name, key in sorted(world.keys.items()):
        path = key_dir / f"{name}.pem"
        if path.exists():
            path.unlink()
        key.save(path)
    if world.national is not None:
        national_demo.write_keys(key_dir, world.national)

    api_keys = []
    credentials = ["# huren demo API keys (plaintext; only their SHA-256 is in api-keys.json)"]
    for key_id, role in DEMO_API_KEYS:
        secret = f"hk_{key_id.split('-')[0]}_{secrets.token_urlsafe(24)}"
        api_keys.append(
            {
                "id": key_id,
                "role": role,
                "sha256": hashlib.sha256(secret.encode("ascii")).hexdigest(),
                "revoked": False,
            }
        )
        credentials.append(f"{key_id}\t{role}\t{secret}")
    _write(
        directory / "api-keys.json",
        json.dumps({"keys": api_keys}, indent=2).encode() + b"\n",
        0o600,
    )
    _write(directory / "demo-credentials.txt", ("\n".join(credentials) + "\n").encode(), 0o600)

    samples = directory / "samples"
    samples.mkdir(exist_ok=True)
    for name, content in sorted(world.samples.items()):
        _write(samples / name, content)

    config = {
        "anchors": "anchors.json",
        "trust_dir": "trust",
        "receipt_key": "keys/receipt.pem",
        "api_keys": "api-keys.json",
        "grace_seconds": 0,
        "anonymous_self_check": True,
    }
    # Written last: its presence means the world is complete.
    _write(directory / "huren.json", json.dumps(config, indent=2).encode() + b"\n")


RENEW_WITHIN: Final = timedelta(days=3)


class DemoRenewalError(ValueError):
    """The demo cannot be renewed as it is (keys missing, store unreadable)."""


def _demo_signing_keys(directory: Path) -> dict[str, SigningKey]:
    """Every unencrypted ES256/EdDSA private key of the demo by kid: keys/ and the demo folder
    itself (where the README's tour leaves a rotated issuer key)."""
    found: dict[str, SigningKey] = {}
    for path in [*sorted((directory / "keys").glob("*.pem")), *sorted(directory.glob("*.pem"))]:
        try:
            key = SigningKey.load(path)
        except KeyMaterialError:
            continue  # SM2 keys, encrypted keys
        found[key.kid] = key
    return found


def renew_demo(directory: Path, now: datetime, *, within: timedelta = RENEW_WITHIN) -> list[str]:
    """Renew the demo's trust lists and status lists that lapse within `within` of `now`, through
    the normal path: the next version signed by a threshold of the list's operators (status
    lists: by a key of their service in force now), submitted to the demo's trust store, which
    checks it as it checks any upload. Keys, API keys, samples and the audit log stay. Returns
    what was done."""
    directory = Path(directory)
    now = now.astimezone(UTC).replace(microsecond=0)
    store = TrustStore(
        load_anchors(directory / "anchors.json"), TrustDirectory(directory / "trust")
    )
    problems = store.load()
    if problems:
        raise DemoRenewalError(f"the demo's trust store in {directory / 'trust'}: {problems[0]}")
    keys = _demo_signing_keys(directory)
    done: list[str] = []
    for code in store.jurisdictions:
        tl = store.state.trust_list(code)
        if tl is None or tl.next_update - now > within:
            continue
        signers = [keys[k.kid] for k in tl.operators.keys if k.kid in keys]
        if len(signers) < tl.operators.threshold:
            raise DemoRenewalError(
                f"trust list {code}: {len(signers)} of the {tl.operators.threshold} operator keys "
                f"needed to sign its next version are in {directory / 'keys'}"
            )
        new = next_version(tl, issued_at=now, validity=LIST_VALIDITY)
        signed = SignedTrustList.create(new, signers[: tl.operators.threshold])
        store.submit_trust_list(signed.to_json(), now=now)
        done.append(
            f"trust list {code}: sequence {tl.sequence} -> {new.sequence}, next update "
            f"{format_time(new.next_update)} (was {format_time(tl.next_update)})"
        )
    for uri, issued in sorted(store.state.status_lists.items()):
        sl = issued.status_list
        if sl.expires_at - now > within:
            continue
        held = store.state.trust_list(issued.jurisdiction)
        service = held.service(issued.service_id) if held is not None else None
        key = next(
            (
                keys[k.kid]
                for k in (service.keys if service is not None else ())
                if k.kid in keys
                and k.revoked_since is None
                and k.state_at(now).status is KeyStatus.GRANTED
            ),
            None,
        )
        if key is None:
            raise DemoRenewalError(
                f"status list {uri}: no private key of service {issued.service_id} in force now "
                f"is in {directory / 'keys'} or {directory}"
            )
        draft = renew(
            StatusListDraft.from_status_list(sl),
            issued_at=max(now, sl.issued_at + timedelta(seconds=1)),
            validity=STATUS_VALIDITY,
        )
        store.submit_status_list(draft.sign(key), now=now)
        done.append(
            f"status list {uri}: expires {format_time(draft.expires_at)} "
            f"(was {format_time(sl.expires_at)})"
        )
    return done


__all__ = [
    "BUSINESS_LICENCE",
    "CITIES",
    "DEMO_EPOCH",
    "FOOD_BUSINESS_PERMIT",
    "FOOD_PRODUCTION_LICENCE",
    "IDX_REVOKED",
    "IDX_SUSPENDED",
    "IDX_VALID",
    "SHENZHEN",
    "SZ_ENTERPRISE",
    "ZHONGSHAN",
    "ZS_ENTERPRISE",
    "City",
    "DemoWorld",
    "Enterprise",
    "build_demo_world",
    "renew_demo",
    "write_demo",
]
