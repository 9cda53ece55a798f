"""Making national-format material: SM2 certificates, GB/T 38540 seals and signatures, and
stamped OFD documents. For the demo world and for tests (huren verifies; in production these are
made by seal-making systems and signing clients, never by huren)."""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from xml.sax.saxutils import escape, quoteattr

from asn1crypto import keys as a_keys
from asn1crypto import x509 as a_x509

from keys.sm2 import Sm2PrivateKey, der_to_raw, sm3
from trust_lists.timeutil import require_aware
from verifier.national import der
from verifier.national.der import tlv_bytes

SM2_WITH_SM3: Final = "1.2.156.10197.1.501"
SM2_CURVE: Final = "1.2.156.10197.1.301"
OFD_NS: Final = "http://www.ofdspec.org/2016"


def make_certificate(
    *,
    issuer_key: Sm2PrivateKey,
    subject: Mapping[str, str],
    subject_point: bytes,
    not_before: datetime,
    not_after: datetime,
    serial: int,
    issuer_certificate: bytes | None = None,
    ca: bool = False,
    key_usage: Iterable[str] = ("digital_signature", "non_repudiation"),
) -> bytes:
    """A DER X.509 v3 certificate for an SM2 key, signed SM2-with-SM3 by `issuer_key` (self-signed
    when `issuer_certificate` is None). `subject` uses asn1crypto attribute names
    (common_name, organization_name, country_name, organization_identifier, ...)."""
    name = a_x509.Name.build(dict(subject), use_printable=False)
    issuer = (
        a_x509.Certificate.load(issuer_certificate)["tbs_certificate"]["subject"]
        if issuer_certificate is not None
        else name
    )
    extensions = [
        a_x509.Extension(
            {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": ca}}
        ),
        a_x509.Extension({"extn_id": "key_usage", "critical": True, "extn_value": set(key_usage)}),
    ]
    tbs = a_x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": {"algorithm": SM2_WITH_SM3},
            "issuer": issuer,
            "validity": {
                "not_before": _x509_time(not_before),
                "not_after": _x509_time(not_after),
            },
            "subject": name,
            "subject_public_key_info": a_keys.PublicKeyInfo(
                {
                    "algorithm": {
                        "algorithm": "ec",
                        "parameters": a_keys.ECDomainParameters(name="named", value=SM2_CURVE),
                    },
                    "public_key": subject_point,
                }
            ),
            "extensions": extensions,
        }
    )
    signature = issuer_key.sign(tbs.dump())
    cert = a_x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": {"algorithm": SM2_WITH_SM3},
            "signature_value": signature,
        }
    )
    data: bytes = cert.dump()
    return data


def certificate_chain(
    common_names: Iterable[str], *, not_before: datetime, not_after: datetime
) -> list[tuple[Sm2PrivateKey, bytes]]:
    """Fresh SM2 keys and their certificates from a self-signed root to a leaf, one per name:
    each certificate is issued by the one before it, every one but the leaf a CA (serials 1,
    2, ...)."""
    chain: list[tuple[Sm2PrivateKey, bytes]] = []
    names = list(common_names)
    for serial, name in enumerate(names, start=1):
        key = Sm2PrivateKey.generate()
        issuer_key, issuer_certificate = chain[-1] if chain else (key, None)
        is_ca = serial < len(names)
        chain.append(
            (
                key,
                make_certificate(
                    issuer_key=issuer_key,
                    issuer_certificate=issuer_certificate,
                    subject={"common_name": name},
                    subject_point=key.point,
                    not_before=not_before,
                    not_after=not_after,
                    serial=serial,
                    ca=is_ca,
                    **({"key_usage": ("key_cert_sign",)} if is_ca else {}),
                ),
            )
        )
    return chain


def _x509_time(when: datetime) -> a_x509.Time:
    when = require_aware(when).astimezone(UTC)
    kind = "utc_time" if 1950 <= when.year < 2050 else "general_time"
    return a_x509.Time(name=kind, value=when)


def _gtime(when: datetime) -> bytes:
    text = require_aware(when).astimezone(UTC).strftime("%Y%m%d%H%M%SZ")
    return tlv_bytes(der.GENERALIZED_TIME, text.encode("ascii"))


def _int(value: int) -> bytes:
    body = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True)
    return tlv_bytes(der.INTEGER, body)


def _seq(*parts: bytes) -> bytes:
    return tlv_bytes(der.SEQUENCE, b"".join(parts))


def _bits(data: bytes) -> bytes:
    return tlv_bytes(der.BIT_STRING, b"\x00" + data)


def _ia5(text: str) -> bytes:
    return tlv_bytes(der.IA5_STRING, text.encode("ascii"))


def _utf8(text: str) -> bytes:
    return tlv_bytes(der.UTF8_STRING, text.encode("utf-8"))


def _octets(data: bytes) -> bytes:
    return tlv_bytes(der.OCTET_STRING, data)


@dataclass(frozen=True, slots=True)
class SealPicture:
    type: str
    data: bytes
    width: int = 40
    height: int = 40


def _sm2_sign(key: Sm2PrivateKey, data: bytes, raw: bool) -> bytes:
    """An SM2 signature value as DER, or as 64-byte r||s (`raw`, as some vendors write it)."""
    value = key.sign(data)
    return der_to_raw(value) if raw else value


def make_seal(
    *,
    maker_key: Sm2PrivateKey,
    maker_certificate: bytes,
    es_id: str,
    seal_type: int,
    name: str,
    signer_certificates: Iterable[bytes],
    created: datetime,
    valid_start: datetime,
    valid_end: datetime,
    picture: SealPicture,
    vendor_id: str = "HUREN",
    version: int = 4,
    timestamp: bytes | None = None,
    signer_digests: Iterable[tuple[str, bytes]] | None = None,
    signed_content_override: bytes | None = None,
    raw_signature: bool = False,
) -> bytes:
    """A GB/T 38540 SES_Seal (header version 4, or 5 with a time stamp), signed by the seal
    maker over DER(eSealInfo). `timestamp` is carried as given (huren does not verify it);
    `raw_signature` writes the maker's signature as r||s instead of DER."""
    header = _seq(_ia5("ES"), _int(version), _ia5(vendor_id))
    if signer_digests is not None:  # certListType 2: CertDigestObj { type, value }
        list_type = 2
        cert_list = _seq(
            *(
                _seq(tlv_bytes(der.PRINTABLE_STRING, t.encode()), _octets(v))
                for t, v in signer_digests
            )
        )
    else:
        list_type = 1
        cert_list = _seq(*(_octets(c) for c in signer_certificates))
    prop = _seq(
        _int(seal_type),
        _utf8(name),
        _int(list_type),
        cert_list,
        _gtime(created),
        _gtime(valid_start),
        _gtime(valid_end),
    )
    pic = _seq(_ia5(picture.type), _octets(picture.data), _int(picture.width), _int(picture.height))
    info = _seq(header, _ia5(es_id), prop, pic)
    signature = _sm2_sign(maker_key, signed_content_override or info, raw_signature)
    tail = tlv_bytes(0xA0, _bits(timestamp)) if timestamp is not None else b""
    return _seq(
        info, _octets(maker_certificate), der.encode_oid(SM2_WITH_SM3), _bits(signature), tail
    )


def sign_seal(
    *,
    signer_key: Sm2PrivateKey,
    signer_certificate: bytes,
    seal: bytes,
    signed_at: datetime,
    data_hash: bytes,
    property_info: str,
    raw_signature: bool = False,
) -> bytes:
    """A GB/T 38540 SES_Signature (version 4) over DER(TBS_Sign); `raw_signature` writes the
    signature value as r||s instead of DER."""
    tbs = _seq(_int(4), seal, _gtime(signed_at), _bits(data_hash), _ia5(property_info))
    signature = _sm2_sign(signer_key, tbs, raw_signature)
    return _seq(tbs, _octets(signer_certificate), der.encode_oid(SM2_WITH_SM3), _bits(signature))


def sign_signed_data(
    *,
    signer_key: Sm2PrivateKey,
    signer_certificate: bytes,
    content: bytes,
    attributes: bool = True,
    extra_certificates: Iterable[bytes] = (),
    message_digest: bytes | None = None,
    raw_signature: bool = False,
) -> bytes:
    """A GB/T 35275 SignedData (detached) over `content`: SM3 digest, SM2-1 signature, with
    signed attributes (content type, message digest) unless `attributes` is False."""
    cert = a_x509.Certificate.load(signer_certificate)
    issuer = cert["tbs_certificate"]["issuer"].dump()
    serial = _int(cert["tbs_certificate"]["serial_number"].native)
    sm3_alg = _seq(der.encode_oid("1.2.156.10197.1.401"))
    sm2_alg = _seq(der.encode_oid("1.2.156.10197.1.301.1"))
    data_oid = der.encode_oid("1.2.156.10197.6.1.4.2.1")
    signed_attrs = b""
    if attributes:
        digest = message_digest if message_digest is not None else sm3(content)
        attrs = _seq(der.encode_oid("1.2.840.113549.1.9.3"), tlv_bytes(der.SET, data_oid)) + _seq(
            der.encode_oid("1.2.840.113549.1.9.4"), tlv_bytes(der.SET, _octets(digest))
        )
        signature = _sm2_sign(signer_key, tlv_bytes(der.SET, attrs), raw_signature)
        signed_attrs = tlv_bytes(0xA0, attrs)
    else:
        signature = _sm2_sign(signer_key, content, raw_signature)
    signer_info = _seq(
        _int(1), _seq(issuer, serial), sm3_alg, signed_attrs, sm2_alg, _octets(signature)
    )
    certs = tlv_bytes(0xA0, signer_certificate + b"".join(extra_certificates))
    signed_data = _seq(
        _int(1),
        tlv_bytes(der.SET, sm3_alg),
        _seq(data_oid),
        certs,
        tlv_bytes(der.SET, signer_info),
    )
    return _seq(der.encode_oid("1.2.156.10197.6.1.4.2.2"), tlv_bytes(0xA0, signed_data))


# -- OFD --------------------------------------------------------------------------------------


def _xml(body: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode("utf-8")


def make_ofd(
    pages: Iterable[str], *, doc_id: str = "huren-demo", title: str = ""
) -> dict[str, bytes]:
    """The files of a minimal OFD document (A4, one text object per line of each page)."""
    files: dict[str, bytes] = {}
    page_refs = []
    for i, text in enumerate(pages):
        objs = []
        for j, line in enumerate(text.splitlines()):
            objs.append(
                f'<ofd:TextObject ID="{100 * (i + 1) + j}" Boundary="20 {20 + 8 * j} 170 8" '
                f'Font="1" Size="4.2"><ofd:TextCode X="0" Y="5">{escape(line)}</ofd:TextCode>'
                "</ofd:TextObject>"
            )
        files[f"Doc_0/Pages/Page_{i}/Content.xml"] = _xml(
            f'<ofd:Page xmlns:ofd="{OFD_NS}"><ofd:Content><ofd:Layer ID="{10 + i}">'
            + "".join(objs)
            + "</ofd:Layer></ofd:Content></ofd:Page>"
        )
        page_refs.append(f'<ofd:Page ID="{i + 2}" BaseLoc="Pages/Page_{i}/Content.xml"/>')
    files["Doc_0/PublicRes.xml"] = _xml(
        f'<ofd:Res xmlns:ofd="{OFD_NS}" BaseLoc="Res"><ofd:Fonts>'
        '<ofd:Font ID="1" FontName="SimSun" FamilyName="SimSun"/></ofd:Fonts></ofd:Res>'
    )
    files["Doc_0/Document.xml"] = _xml(
        f'<ofd:Document xmlns:ofd="{OFD_NS}"><ofd:CommonData><ofd:MaxUnitID>999</ofd:MaxUnitID>'
        "<ofd:PageArea><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:PageArea>"
        "<ofd:PublicRes>PublicRes.xml</ofd:PublicRes></ofd:CommonData><ofd:Pages>"
        + "".join(page_refs)
        + "</ofd:Pages></ofd:Document>"
    )
    title_el = f"<ofd:Title>{escape(title)}</ofd:Title>" if title else ""
    files["OFD.xml"] = _xml(
        f'<ofd:OFD xmlns:ofd="{OFD_NS}" Version="1.1" DocType="OFD"><ofd:DocBody><ofd:DocInfo>'
        f"<ofd:DocID>{escape(doc_id)}</ofd:DocID>{title_el}</ofd:DocInfo>"
        "<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"
    )
    return files


def _signatures_xml(entries: list[tuple[str, str, str]]) -> bytes:
    items = "".join(
        f'<ofd:Signature ID={quoteattr(sid)} Type="{kind}" BaseLoc={quoteattr(loc)}/>'
        for sid, kind, loc in entries
    )
    return _xml(
        f'<ofd:Signatures xmlns:ofd="{OFD_NS}"><ofd:MaxSignId>{len(entries)}</ofd:MaxSignId>'
        f"{items}</ofd:Signatures>"
    )


def _existing_signatures(files: Mapping[str, bytes]) -> list[tuple[str, str, str]]:
    from verifier.national.ofd import parse_xml

    data = files.get("Doc_0/Signs/Signatures.xml")
    if data is None:
        return []
    out = []
    for el in parse_xml(data, "Signatures.xml"):
        if isinstance(el.tag, str) and el.tag.endswith("Signature"):
            out.append((el.get("ID") or "", el.get("Type") or "Seal", el.get("BaseLoc") or ""))
    return out


def _absolute(path: str) -> str:
    return "/" + path


def _signature_xml(
    refs: Mapping[str, bytes],
    *,
    signed_at: datetime,
    seal_loc: str | None,
    value_loc: str,
    page: int,
    file_ref: Callable[[str], str],
) -> bytes:
    ref_xml = "".join(
        f"<ofd:Reference FileRef={quoteattr(file_ref(path))}><ofd:CheckValue>"
        f"{base64.b64encode(sm3(data)).decode('ascii')}</ofd:CheckValue></ofd:Reference>"
        for path, data in refs.items()
    )
    seal_xml = f"<ofd:Seal><ofd:BaseLoc>{seal_loc}</ofd:BaseLoc></ofd:Seal>" if seal_loc else ""
    when = require_aware(signed_at).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _xml(
        f'<ofd:Signature xmlns:ofd="{OFD_NS}"><ofd:SignedInfo>'
        '<ofd:Provider ProviderName="huren" Company="huren" Version="1.0"/>'
        f"<ofd:SignatureMethod>{SM2_WITH_SM3}</ofd:SignatureMethod>"
        f"<ofd:SignatureDateTime>{when}</ofd:SignatureDateTime>"
        f'<ofd:References CheckMethod="{"1.2.156.10197.1.401"}">{ref_xml}</ofd:References>'
        f'<ofd:StampAnnot ID="{900 + page}" PageRef="2" Boundary="120 200 40 40"/>'
        f"{seal_xml}</ofd:SignedInfo><ofd:SignedValue>{value_loc}</ofd:SignedValue>"
        "</ofd:Signature>"
    )


def stamp_ofd(
    files: Mapping[str, bytes],
    *,
    seal: bytes | None,
    signer_key: Sm2PrivateKey,
    signer_certificate: bytes | None,
    signed_at: datetime,
    signature_id: str | None = None,
    signed_data: bool = False,
    raw_signature: bool = False,
    file_ref: Callable[[str], str] | None = None,
    unprotected: Collection[str] = (),
) -> dict[str, bytes]:
    """The files with one more signature: a seal (GB/T 38540 SES_Signature) when `seal` is given,
    else a plain Type="Sign" signature over Signature.xml: a GB/T 35275 SignedData when
    `signed_data`, else a bare SM2 signature. Every file present before is protected (as is the
    seal file) but `unprotected`; earlier signatures stay valid. `raw_signature`: the signature
    value is written as r||s instead of DER (the seal's own signature is the seal maker's: see
    make_seal). FileRefs are `file_ref(entry name)`; by default "/" + the name, as ofdrw writes
    them."""
    out = dict(files)
    entries = _existing_signatures(out)
    n = len(entries)
    sid = signature_id or str(n + 1)
    base = f"Doc_0/Signs/Sign_{n}"
    if n == 0:  # OFD.xml gains its Signatures entry before anything is protected
        root = out["OFD.xml"].decode("utf-8")
        entry = "<ofd:Signatures>Doc_0/Signs/Signatures.xml</ofd:Signatures></ofd:DocBody>"
        out["OFD.xml"] = root.replace("</ofd:DocBody>", entry, 1).encode("utf-8")
    skip = {"Doc_0/Signs/Signatures.xml", *unprotected}
    refs = {p: d for p, d in sorted(out.items()) if p not in skip}
    seal_loc = None
    if seal is not None:
        out[f"{base}/Seal.esl"] = seal
        if f"{base}/Seal.esl" not in skip:
            refs[f"{base}/Seal.esl"] = seal
        seal_loc = f"/{base}/Seal.esl"
    value_loc = f"/{base}/SignedValue.dat"
    sig_xml = _signature_xml(
        refs,
        signed_at=signed_at,
        seal_loc=seal_loc,
        value_loc=value_loc,
        page=n,
        file_ref=file_ref or _absolute,
    )
    out[f"{base}/Signature.xml"] = sig_xml
    if seal is not None:
        assert signer_certificate is not None
        value = sign_seal(
            signer_key=signer_key,
            signer_certificate=signer_certificate,
            seal=seal,
            signed_at=signed_at,
            data_hash=sm3(sig_xml),
            property_info=f"/{base}/Signature.xml",
            raw_signature=raw_signature,
        )
    elif signed_data:
        assert signer_certificate is not None
        value = sign_signed_data(
            signer_key=signer_key,
            signer_certificate=signer_certificate,
            content=sig_xml,
            raw_signature=raw_signature,
        )
    else:
        value = _sm2_sign(signer_key, sig_xml, raw_signature)
    out[f"{base}/SignedValue.dat"] = value
    entries.append((sid, "Seal" if seal is not None else "Sign", f"/{base}/Signature.xml"))
    out["Doc_0/Signs/Signatures.xml"] = _signatures_xml(entries)
    return out


def package(files: Mapping[str, bytes]) -> bytes:
    """The files as an OFD zip package (OFD.xml first, deflated)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files, key=lambda n: (n != "OFD.xml", n)):
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            zf.writestr(info, files[name])
    return buf.getvalue()


__all__ = [
    "SM2_WITH_SM3",
    "SealPicture",
    "make_certificate",
    "make_ofd",
    "make_seal",
    "package",
    "sign_seal",
    "sign_signed_data",
    "stamp_ofd",
]
