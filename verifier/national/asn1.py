"""SES_Seal and SES_Signature, both generations, read strictly from DER (docs/national-formats.md).

GM/T 0031-2014 (header version 1; 2 is read the same way):
    SESeal        ::= SEQUENCE { esealInfo SES_SealInfo, signInfo SES_SignInfo }
    SES_SignInfo  ::= SEQUENCE { cert OCTET STRING, signatureAlgorithm OID, signData BIT STRING }
    SES_ESPropertyInfo ::= SEQUENCE { type INTEGER, name UTF8String,
                      certList SEQUENCE OF OCTET STRING, createDate, validStart, validEnd UTCTime }
    SES_Signature ::= SEQUENCE { toSign TBS_Sign, signature BIT STRING }
    TBS_Sign      ::= SEQUENCE { version INTEGER, eseal SESeal, timeInfo BIT STRING,
                      dataHash BIT STRING, propertyInfo IA5String, cert OCTET STRING,
                      signatureAlgorithm OID }
GB/T 38540-2020 (header version 4; 5 adds a time stamp on the seal):
    SES_Seal      ::= SEQUENCE { eSealInfo SES_SealInfo, cert OCTET STRING, signAlgID OID,
                      signedValue BIT STRING, timeStamp [0] EXPLICIT BIT STRING OPTIONAL (v5) }
    SES_ESPropertyInfo ::= SEQUENCE { type INTEGER, name UTF8String, certListType INTEGER,
                      certList SES_CertList, createDate, validStart, validEnd GeneralizedTime }
    SES_CertList  ::= CHOICE { certs SEQUENCE OF Cert, certDigestList SEQUENCE OF CertDigestObj }
    CertDigestObj ::= SEQUENCE { type PrintableString, value OCTET STRING }
    SES_Signature ::= SEQUENCE { toSign TBS_Sign, cert OCTET STRING, signatureAlgID OID,
                      signature BIT STRING, timeStamp [0] EXPLICIT BIT STRING OPTIONAL }
    TBS_Sign      ::= SEQUENCE { version INTEGER, eseal SES_Seal, timeInfo GeneralizedTime,
                      dataHash BIT STRING, propertyInfo IA5String,
                      extDatas [0] EXPLICIT ExtensionDatas OPTIONAL }
Common:
    SES_SealInfo  ::= SEQUENCE { header SES_Header, esID IA5String, property SES_ESPropertyInfo,
                      picture SES_ESPictrueInfo, extDatas ExtensionDatas OPTIONAL }
    SES_Header    ::= SEQUENCE { ID IA5String ("ES"), version INTEGER, Vid IA5String }
    SES_ESPictrueInfo ::= SEQUENCE { type IA5String, data OCTET STRING, width, height INTEGER }
    ExtData       ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE,
                      extnValue OCTET STRING }

Tolerances, each seen in real files: UTCTime and GeneralizedTime are both accepted where either
generation uses one; certList may be a SET; a DEFAULT FALSE critical flag may be written out; the
GM/T 0031 timeInfo and dataHash may be OCTET STRINGs. What each signer signs (observed, checked):
v4/v5 seal: DER(eSealInfo); v1/v2 seal: SEQUENCE { eSealInfo, cert, signatureAlgorithm };
signatures: DER(TBS_Sign). Those byte ranges are kept as read, never re-encoded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from verifier.national import der
from verifier.national.der import DerError, Tlv

Layout = Literal["GM/T 0031", "GB/T 38540"]
GMT0031: Final[Layout] = "GM/T 0031"
GBT38540: Final[Layout] = "GB/T 38540"

MAX_SEAL_BYTES: Final = 4 * 1024 * 1024
MAX_PICTURE_BYTES: Final = 2 * 1024 * 1024
MAX_CERT_BYTES: Final = 16 * 1024
MAX_CERTS: Final = 32
MAX_EXTENSIONS: Final = 32
MAX_EXT_VALUE: Final = 64 * 1024
MAX_SIGNATURE_BYTES: Final = 128
MAX_HASH_BYTES: Final = 64
MAX_TIMESTAMP_BYTES: Final = 64 * 1024
MAX_TEXT: Final = 1024


@dataclass(frozen=True, slots=True)
class Extension:
    oid: str
    critical: bool
    value: bytes


@dataclass(frozen=True, slots=True)
class Picture:
    type: str  # as written: "PNG", "JPG", "GIF", "BMP", "SVG", "OFD", ...
    data: bytes
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class CertDigest:
    type: str  # as written, e.g. "SM3"
    value: bytes


@dataclass(frozen=True, slots=True)
class SesSeal:
    layout: Layout
    version: int  # the header version: 1, 2, 4 or 5
    vendor_id: str
    es_id: str
    seal_type: int
    name: str
    cert_list_type: int  # 1: certificates, 2: certificate digests (always 1 for GM/T 0031)
    certs: tuple[bytes, ...]
    cert_digests: tuple[CertDigest, ...]
    created: datetime
    valid_start: datetime
    valid_end: datetime
    picture: Picture
    extensions: tuple[Extension, ...]
    maker_cert: bytes
    signature_oid: str
    signature: bytes
    signed_content: bytes  # the bytes the seal maker signed
    timestamp: bytes | None
    raw: bytes

    @property
    def format_name(self) -> str:
        return f"{self.layout} v{self.version}"


@dataclass(frozen=True, slots=True)
class SesSignature:
    layout: Layout
    version: int
    seal: SesSeal
    time_text: str  # timeInfo as written
    signed_at: datetime
    data_hash: bytes
    property_info: str
    signer_cert: bytes
    signature_oid: str
    signature: bytes
    tbs: bytes  # the bytes the signer signed: DER(TBS_Sign)
    timestamp: bytes | None
    extensions: tuple[Extension, ...]
    raw: bytes


# -- common parts -------------------------------------------------------------------------


def _extensions(tlv: Tlv, what: str) -> tuple[Extension, ...]:
    out: list[Extension] = []
    for i, item in enumerate(der.sequence(tlv, what, max_len=MAX_EXTENSIONS)):
        w = f"{what}[{i}]"
        parts = der.sequence(item, w, min_len=2, max_len=3)
        ext_oid = der.oid(parts[0], f"{w}.extnID")
        critical = False
        if len(parts) == 3:
            critical = der.boolean(parts[1], f"{w}.critical")
        value = der.octets(parts[-1], f"{w}.extnValue", max_len=MAX_EXT_VALUE)
        out.append(Extension(ext_oid, critical, value))
    return tuple(out)


def _picture(tlv: Tlv) -> Picture:
    what = "picture"
    parts = der.sequence(tlv, what, min_len=4, max_len=4)
    image_format = der.text(parts[0], f"{what}.type", (der.IA5_STRING,), max_len=16)
    data = der.octets(parts[1], f"{what}.data", max_len=MAX_PICTURE_BYTES)
    width = der.small_int(parts[2], f"{what}.width", 0, 100_000)
    height = der.small_int(parts[3], f"{what}.height", 0, 100_000)
    return Picture(image_format, data, width, height)


def _header(tlv: Tlv) -> tuple[int, str]:
    parts = der.sequence(tlv, "header", min_len=3, max_len=3)
    ident = der.text(parts[0], "header.ID", (der.IA5_STRING,), max_len=8)
    if ident != "ES":
        raise DerError(f"header.ID is {ident!r}, not 'ES'")
    version = der.small_int(parts[1], "header.version", 0, 255)
    vendor = der.text(parts[2], "header.Vid", (der.IA5_STRING, der.UTF8_STRING), max_len=MAX_TEXT)
    return version, vendor


_TIME_TAGS: Final = (der.UTC_TIME, der.GENERALIZED_TIME)


@dataclass(frozen=True, slots=True)
class _SealInfo:
    version: int
    vendor_id: str
    es_id: str
    seal_type: int
    name: str
    cert_list_type: int
    certs: tuple[bytes, ...]
    cert_digests: tuple[CertDigest, ...]
    created: datetime
    valid_start: datetime
    valid_end: datetime
    picture: Picture
    extensions: tuple[Extension, ...]


def _seal_info(tlv: Tlv, layout: Layout) -> _SealInfo:
    parts = der.sequence(tlv, "eSealInfo", min_len=4, max_len=5)
    version, vendor = _header(parts[0])
    es_id = der.text(
        parts[1], "esID", (der.IA5_STRING, der.PRINTABLE_STRING, der.UTF8_STRING), max_len=256
    )
    prop = der.sequence(parts[2], "property", min_len=6, max_len=7)
    seal_type = der.small_int(prop[0], "property.type", 0, 2**31 - 1)
    name = der.text(prop[1], "property.name", (der.UTF8_STRING,), max_len=MAX_TEXT)
    certs: list[bytes] = []
    digests: list[CertDigest] = []
    if layout == GMT0031:
        if len(prop) != 6:
            raise DerError("property: a GM/T 0031 seal property has 6 fields")
        cert_list_type = 1
        list_tlv = prop[2]
        times = prop[3:6]
    else:
        if len(prop) != 7:
            raise DerError("property: a GB/T 38540 seal property has 7 fields")
        cert_list_type = der.small_int(prop[2], "property.certListType", 1, 2)
        list_tlv = prop[3]
        times = prop[4:7]
    items = der.children(
        der.expect(list_tlv, (der.SEQUENCE, der.SET), "property.certList"),
        "property.certList",
        max_count=MAX_CERTS,
    )
    if not items:
        raise DerError("property.certList is empty: the seal names no signer")
    for i, item in enumerate(items):
        w = f"property.certList[{i}]"
        if cert_list_type == 1:
            certs.append(der.octets(item, w, max_len=MAX_CERT_BYTES))
        else:
            pair = der.sequence(item, w, min_len=2, max_len=2)
            algorithm = der.text(
                pair[0], f"{w}.type", (der.PRINTABLE_STRING, der.IA5_STRING), max_len=32
            )
            digests.append(
                CertDigest(algorithm, der.octets(pair[1], f"{w}.value", max_len=MAX_HASH_BYTES))
            )
    for t, name_ in zip(times, ("createDate", "validStart", "validEnd"), strict=True):
        der.expect(t, _TIME_TAGS, f"property.{name_}")
    created = der.time(times[0], "property.createDate")
    valid_start = der.time(times[1], "property.validStart")
    valid_end = der.time(times[2], "property.validEnd")
    if valid_end <= valid_start:
        raise DerError("property: validEnd is not after validStart")
    picture = _picture(parts[3])
    extensions = _extensions(parts[4], "extDatas") if len(parts) == 5 else ()
    return _SealInfo(
        version,
        vendor,
        es_id,
        seal_type,
        name,
        cert_list_type,
        tuple(certs),
        tuple(digests),
        created,
        valid_start,
        valid_end,
        picture,
        extensions,
    )


def _timestamp(tlv: Tlv, what: str) -> bytes:
    if not tlv.is_context(0) or not tlv.constructed:
        raise DerError(f"{what}: [0] EXPLICIT expected, found {der.tag_name(tlv.tag)}")
    inner = der.children(tlv, what, max_count=1)
    if len(inner) != 1:
        raise DerError(f"{what}: empty")
    return der.bits(inner[0], what, max_len=MAX_TIMESTAMP_BYTES)


# -- seals ---------------------------------------------------------------------------------


def _seal_from_tlv(top: Tlv) -> SesSeal:
    parts = der.sequence(top, "SES_Seal", min_len=2, max_len=5)
    if len(parts) == 2:
        layout: Layout = GMT0031
        info = _seal_info(parts[0], layout)
        if info.version not in (1, 2):
            raise DerError(f"header.version {info.version} in a GM/T 0031 layout (1 or 2 expected)")
        sign = der.sequence(parts[1], "signInfo", min_len=3, max_len=3)
        cert = der.octets(sign[0], "signInfo.cert", max_len=MAX_CERT_BYTES)
        sig_oid = der.oid(sign[1], "signInfo.signatureAlgorithm")
        signature = der.bits(sign[2], "signInfo.signData", max_len=MAX_SIGNATURE_BYTES)
        body = parts[0].raw + sign[0].raw + sign[1].raw
        signed = der.tlv_bytes(der.SEQUENCE, body)
        timestamp = None
    elif len(parts) in (4, 5):
        layout = GBT38540
        info = _seal_info(parts[0], layout)
        if info.version not in (4, 5):
            raise DerError(
                f"header.version {info.version} in a GB/T 38540 layout (4 or 5 expected)"
            )
        cert = der.octets(parts[1], "cert", max_len=MAX_CERT_BYTES)
        sig_oid = der.oid(parts[2], "signAlgID")
        signature = der.bits(parts[3], "signedValue", max_len=MAX_SIGNATURE_BYTES)
        signed = parts[0].raw
        timestamp = _timestamp(parts[4], "timeStamp") if len(parts) == 5 else None
        if timestamp is not None and info.version != 5:
            raise DerError("timeStamp: only a version 5 seal carries a time stamp")
    else:
        raise DerError(f"SES_Seal: {len(parts)} elements; 2 (GM/T 0031) or 4-5 (GB/T 38540)")
    return SesSeal(
        layout,
        info.version,
        info.vendor_id,
        info.es_id,
        info.seal_type,
        info.name,
        info.cert_list_type,
        info.certs,
        info.cert_digests,
        info.created,
        info.valid_start,
        info.valid_end,
        info.picture,
        info.extensions,
        cert,
        sig_oid,
        signature,
        signed,
        timestamp,
        top.raw,
    )


def parse_seal(data: bytes) -> SesSeal:
    """A DER SES_Seal of either generation, or DerError."""
    if len(data) > MAX_SEAL_BYTES:
        raise DerError(f"SES_Seal larger than {MAX_SEAL_BYTES} bytes")
    return _seal_from_tlv(der.parse(data, "SES_Seal"))


# -- signatures -----------------------------------------------------------------------------


def _bits_or_octets(tlv: Tlv, what: str, max_len: int) -> bytes:
    if tlv.tag == der.OCTET_STRING:
        return der.octets(tlv, what, max_len=max_len)
    return der.bits(tlv, what, max_len=max_len)


def _time_info_v1(raw: bytes) -> tuple[str, datetime]:
    """GM/T 0031 timeInfo: a BIT STRING holding a time as text (UTCTime, GeneralizedTime or ISO
    forms are all seen) or a DER UTCTime/GeneralizedTime."""
    if raw[:1] in (bytes([der.UTC_TIME]), bytes([der.GENERALIZED_TIME])):
        try:
            tlv = der.parse(raw, "timeInfo")
            return tlv.value.decode("ascii", "replace"), der.time(tlv, "timeInfo")
        except DerError:
            pass
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise DerError(
            "timeInfo: not a readable time (an RFC 3161 time stamp is not supported)"
        ) from exc
    return text, der.loose_time(text, "timeInfo")


def parse_signature(data: bytes) -> SesSignature:
    """A DER SES_Signature of either generation, or DerError."""
    if len(data) > MAX_SEAL_BYTES + 64 * 1024:
        raise DerError("SES_Signature too large")
    top = der.parse(data, "SES_Signature")
    parts = der.sequence(top, "SES_Signature", min_len=2, max_len=5)
    if len(parts) == 2:
        layout: Layout = GMT0031
        tbs_tlv = parts[0]
        tbs = der.sequence(tbs_tlv, "toSign", min_len=7, max_len=7)
        version = der.small_int(tbs[0], "toSign.version", 0, 255)
        seal = _seal_from_tlv(tbs[1])
        if seal.layout != GMT0031:
            raise DerError("toSign.eseal: a GM/T 0031 signature must carry a GM/T 0031 seal")
        time_raw = _bits_or_octets(tbs[2], "toSign.timeInfo", 4096)
        time_text, signed_at = _time_info_v1(time_raw)
        data_hash = _bits_or_octets(tbs[3], "toSign.dataHash", MAX_HASH_BYTES)
        prop = der.text(
            tbs[4], "toSign.propertyInfo", (der.IA5_STRING, der.UTF8_STRING), max_len=MAX_TEXT
        )
        cert = der.octets(tbs[5], "toSign.cert", max_len=MAX_CERT_BYTES)
        sig_oid = der.oid(tbs[6], "toSign.signatureAlgorithm")
        signature = der.bits(parts[1], "signature", max_len=MAX_SIGNATURE_BYTES)
        timestamp = None
        extensions: tuple[Extension, ...] = ()
    elif len(parts) in (4, 5):
        layout = GBT38540
        tbs_tlv = parts[0]
        tbs = der.sequence(tbs_tlv, "toSign", min_len=5, max_len=6)
        version = der.small_int(tbs[0], "toSign.version", 0, 255)
        seal = _seal_from_tlv(tbs[1])
        if seal.layout != GBT38540:
            raise DerError("toSign.eseal: a GB/T 38540 signature must carry a GB/T 38540 seal")
        der.expect(tbs[2], der.GENERALIZED_TIME, "toSign.timeInfo")
        signed_at = der.time(tbs[2], "toSign.timeInfo")
        time_text = tbs[2].value.decode("ascii")
        data_hash = der.bits(tbs[3], "toSign.dataHash", max_len=MAX_HASH_BYTES)
        prop = der.text(
            tbs[4], "toSign.propertyInfo", (der.IA5_STRING, der.UTF8_STRING), max_len=MAX_TEXT
        )
        extensions = ()
        if len(tbs) == 6:
            ext = tbs[5]
            if ext.is_context(0) and ext.constructed:
                inner = der.children(ext, "toSign.extDatas", max_count=1)
                if len(inner) != 1:
                    raise DerError("toSign.extDatas: empty [0]")
                extensions = _extensions(inner[0], "toSign.extDatas")
            else:
                extensions = _extensions(ext, "toSign.extDatas")
        cert = der.octets(parts[1], "cert", max_len=MAX_CERT_BYTES)
        sig_oid = der.oid(parts[2], "signatureAlgID")
        signature = der.bits(parts[3], "signature", max_len=MAX_SIGNATURE_BYTES)
        timestamp = _timestamp(parts[4], "timeStamp") if len(parts) == 5 else None
    else:
        raise DerError(f"SES_Signature: {len(parts)} elements; 2 (GM/T 0031) or 4-5 (GB/T 38540)")
    if not data_hash:
        raise DerError("toSign.dataHash is empty")
    return SesSignature(
        layout,
        version,
        seal,
        time_text,
        signed_at,
        data_hash,
        prop,
        cert,
        sig_oid,
        signature,
        tbs_tlv.raw,
        timestamp,
        extensions,
        top.raw,
    )


def sniff(data: bytes) -> Literal["seal", "signature"] | None:
    """Whether `data` looks like a DER SES_Seal or SES_Signature (by shape only, cheaply)."""
    try:
        top = der.parse(data[: MAX_SEAL_BYTES + 64 * 1024], "data")
        parts = der.sequence(top, "data", min_len=2, max_len=5)
        first = der.sequence(parts[0], "first", min_len=2, max_len=7)
    except DerError:
        return None
    if first[0].tag == der.INTEGER:
        return "signature"
    if first[0].tag == der.SEQUENCE:
        return "seal"
    return None


# -- GB/T 35275 signed messages ------------------------------------------------------------

SIGNED_DATA_OIDS: Final = frozenset({"1.2.156.10197.6.1.4.2.2", "1.2.840.113549.1.7.2"})
DATA_OIDS: Final = frozenset({"1.2.156.10197.6.1.4.2.1", "1.2.840.113549.1.7.1"})
MESSAGE_DIGEST_OID: Final = "1.2.840.113549.1.9.4"
CONTENT_TYPE_OID: Final = "1.2.840.113549.1.9.3"
MAX_SIGNED_DATA_CERTS: Final = 8


@dataclass(frozen=True, slots=True)
class SignedData:
    """A GB/T 35275 (PKCS #7 with SM2/SM3 identifiers) SignedData with one signer.

    SignedData ::= SEQUENCE { version, digestAlgorithms SET, contentInfo SEQUENCE { contentType,
        content [0] EXPLICIT OCTET STRING OPTIONAL }, certificates [0] IMPLICIT OPTIONAL,
        crls [1] IMPLICIT OPTIONAL, signerInfos SET OF SignerInfo }
    SignerInfo ::= SEQUENCE { version, issuerAndSerialNumber SEQUENCE { issuer Name, serial },
        digestAlgorithm, authenticatedAttributes [0] IMPLICIT OPTIONAL,
        digestEncryptionAlgorithm, encryptedDigest OCTET STRING, unauthenticatedAttributes [1]}"""

    content: bytes | None  # the encapsulated content, None when detached
    certificates: tuple[bytes, ...]
    issuer_der: bytes
    serial: int
    digest_oid: str
    signature_oid: str
    signature: bytes
    signed_attributes: bytes | None  # DER SET OF Attribute (as signed), when present
    message_digest: bytes | None


def _alg_oid(tlv: Tlv, what: str) -> str:
    parts = der.sequence(tlv, what, min_len=1, max_len=2)
    return der.oid(parts[0], f"{what}.algorithm")


def parse_signed_data(data: bytes) -> SignedData:
    """A DER ContentInfo holding a GB/T 35275 SignedData, or DerError."""
    if len(data) > 256 * 1024:
        raise DerError("SignedData larger than 256 KiB")
    top = der.sequence(der.parse(data, "ContentInfo"), "ContentInfo", min_len=2, max_len=2)
    if der.oid(top[0], "ContentInfo.contentType") not in SIGNED_DATA_OIDS:
        raise DerError("ContentInfo: not a SignedData")
    if not top[1].is_context(0) or not top[1].constructed:
        raise DerError("ContentInfo.content: [0] EXPLICIT expected")
    inner = der.children(top[1], "ContentInfo.content", max_count=1)
    sd = der.sequence(inner[0], "SignedData", min_len=4, max_len=6)
    der.small_int(sd[0], "SignedData.version", 0, 5)
    der.children(der.expect(sd[1], der.SET, "SignedData.digestAlgorithms"), "digestAlgorithms")
    ci = der.sequence(sd[2], "SignedData.contentInfo", min_len=1, max_len=2)
    if der.oid(ci[0], "contentInfo.contentType") not in DATA_OIDS:
        raise DerError("SignedData.contentInfo: the content type is not data")
    content = None
    if len(ci) == 2:
        if not ci[1].is_context(0) or not ci[1].constructed:
            raise DerError("contentInfo.content: [0] EXPLICIT expected")
        wrapped = der.children(ci[1], "contentInfo.content", max_count=1)
        content = der.octets(wrapped[0], "contentInfo.content", max_len=4 * 1024 * 1024)
    certs: list[bytes] = []
    rest = sd[3:]
    if rest and rest[0].is_context(0):
        for c in der.children(rest[0], "certificates", max_count=MAX_SIGNED_DATA_CERTS):
            der.expect(c, der.SEQUENCE, "certificates[]")
            if len(c.raw) > MAX_CERT_BYTES:
                raise DerError("certificates[]: too large")
            certs.append(c.raw)
        rest = rest[1:]
    if rest and rest[0].is_context(1):
        rest = rest[1:]  # CRLs are not used
    if len(rest) != 1:
        raise DerError("SignedData: signerInfos expected last")
    signers = der.children(der.expect(rest[0], der.SET, "signerInfos"), "signerInfos", max_count=2)
    if len(signers) != 1:
        raise DerError(f"SignedData: {len(signers)} signers; exactly one is supported")
    si = der.sequence(signers[0], "SignerInfo", min_len=5, max_len=7)
    der.small_int(si[0], "SignerInfo.version", 0, 5)
    ias = der.sequence(si[1], "SignerInfo.issuerAndSerialNumber", min_len=2, max_len=2)
    issuer_der = der.expect(ias[0], der.SEQUENCE, "issuer").raw
    serial = der.integer(ias[1], "serialNumber", max_bytes=32)
    digest_oid = _alg_oid(si[2], "SignerInfo.digestAlgorithm")
    pos = 3
    signed_attrs = None
    message_digest = None
    if si[pos].is_context(0):
        attrs = si[pos]
        if not attrs.constructed:
            raise DerError("authenticatedAttributes: constructed [0] expected")
        signed_attrs = der.tlv_bytes(der.SET, attrs.value)  # signed as a SET OF
        for i, attr in enumerate(der.children(attrs, "authenticatedAttributes", max_count=32)):
            a = der.sequence(attr, f"authenticatedAttributes[{i}]", min_len=2, max_len=2)
            if der.oid(a[0], "attrType") == MESSAGE_DIGEST_OID:
                values = der.children(
                    der.expect(a[1], der.SET, "attrValues"), "attrValues", max_count=1
                )
                if message_digest is not None or len(values) != 1:
                    raise DerError("authenticatedAttributes: one messageDigest expected")
                message_digest = der.octets(values[0], "messageDigest", max_len=MAX_HASH_BYTES)
        if message_digest is None:
            raise DerError("authenticatedAttributes without a messageDigest")
        pos += 1
    if len(si) < pos + 2:
        raise DerError("SignerInfo: truncated")
    signature_oid = _alg_oid(si[pos], "SignerInfo.digestEncryptionAlgorithm")
    signature = der.octets(si[pos + 1], "SignerInfo.encryptedDigest", max_len=MAX_SIGNATURE_BYTES)
    if len(si) > pos + 3 or (len(si) == pos + 3 and not si[pos + 2].is_context(1)):
        raise DerError("SignerInfo: unexpected trailing fields")
    return SignedData(
        content,
        tuple(certs),
        issuer_der,
        serial,
        digest_oid,
        signature_oid,
        signature,
        signed_attrs,
        message_digest,
    )


def is_signed_data(data: bytes) -> bool:
    """Cheaply: does `data` start like a ContentInfo with a SignedData content type? (The
    outer length is not checked here, so a truncated one is still routed to the strict parser.)"""
    if len(data) < 4 or data[0] != der.SEQUENCE:
        return False
    first = data[1]
    start = 2 + (first & 0x7F if first & 0x80 else 0)
    try:
        oid_tlv, _ = der.read(data[: start + 16], start, "contentType")
        return oid_tlv.tag == der.OID and der.oid(oid_tlv, "contentType") in SIGNED_DATA_OIDS
    except DerError:
        return False


__all__ = [
    "GBT38540",
    "GMT0031",
    "CertDigest",
    "DerError",
    "Extension",
    "Layout",
    "Picture",
    "SesSeal",
    "SesSignature",
    "SignedData",
    "is_signed_data",
    "parse_seal",
    "parse_signature",
    "parse_signed_data",
    "sniff",
]
