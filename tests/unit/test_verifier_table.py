"""The verdict table: each row is one crafted document (real signatures, real trust state) and
the verdict it must get: indication, sub-indication and the check code that decided it."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization

from demo.world import (
    FOOD_BUSINESS_PERMIT,
    FOOD_PRODUCTION_LICENCE,
    IDX_REVOKED,
    IDX_SUSPENDED,
    ITEM_SZ_FOOD_PRODUCTION,
    ITEM_SZ_MEAL_SUPPLIER,
    SHENZHEN,
    SZ_ENTERPRISE,
    ZHONGSHAN,
    ZS_ENTERPRISE,
    DemoWorld,
    default_statuses,
)
from issuing.licences import licence_claims, seal_claims, sealed_doc_claims, sign_sealed_document
from keys import ES256, SigningKey, b64url_decode, b64url_encode
from tests.support.verifier_support import (
    DAY,
    Builder,
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
from trust_lists.errors import Rollback
from trust_lists.store import TrustStore
from trust_lists.uscc import make_uscc
from verifier import LICENCE_TYP, SEAL_TYP, SEALED_DOC_TYP, Expectations
from verifier.formats import make_pid
from verifier.messages import SEAL_PREFIX, SPECS
from verifier.verdict import Indication, SubIndication

P = Indication.PASSED
F = Indication.FAILED
I = Indication.INDETERMINATE  # noqa: E741
S = SubIndication


@dataclass(frozen=True)
class Row:
    id: str
    build: Builder
    indication: Indication
    sub: SubIndication | None = None
    code: str | None = None  # the check that decides; None when PASSED


# -- building blocks ---------------------------------------------------------------------------


def lic(w: DemoWorld, code: str = SHENZHEN, **overrides: object) -> dict[str, object]:
    """Licence claims (as a dict) for crafting."""
    return licence_claims(**w.licence_fields(code, **overrides))


def signed_lic(w: DemoWorld, claims: dict[str, object], key: SigningKey | None = None) -> str:
    k = key or w.issuer_key(SHENZHEN)
    return raw_jws(header_for(k, LICENCE_TYP), claims, k)


def licence(w: DemoWorld, code: str = SHENZHEN, **overrides: object) -> Case:
    return Case("licence", w.issue_licence(code, **overrides))


def alg_token(w: DemoWorld, alg: str, *, keep_signature: bool) -> Case:
    key = w.issuer_key(SHENZHEN)
    header = {"alg": alg, "kid": key.kid, "typ": LICENCE_TYP}
    sig = b64url_decode(w.licence_sz.split(".")[2]) if keep_signature else b""
    return Case("licence", raw_jws(header, lic(w), signature=sig))


def hmac_confusion(w: DemoWorld, secret_form: str) -> Case:
    """HS256 keyed with the issuer's public key, the classic algorithm-confusion forgery."""
    key = w.issuer_key(SHENZHEN)
    crypto = key.public_key.crypto_key  # type: ignore[attr-defined]
    secret = {
        "pem": crypto.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "der": crypto.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "jwk": json.dumps(key.public_key.to_jwk()).encode(),
    }[secret_form]
    header = {"alg": "HS256", "kid": key.kid, "typ": LICENCE_TYP}
    unsigned = raw_jws(header, lic(w), signature=b"x").rsplit(".", 1)[0]
    mac = hmac.new(secret, unsigned.encode(), hashlib.sha256).digest()
    return Case("licence", unsigned + "." + b64url_encode(mac))


def with_header(w: DemoWorld, **extra: object) -> Case:
    key = w.issuer_key(SHENZHEN)
    return Case("licence", raw_jws({**header_for(key, LICENCE_TYP), **extra}, lic(w), key))


def tampered_signature(w: DemoWorld, signature: bytes) -> Case:
    head = w.licence_sz.rsplit(".", 1)[0]
    return Case("licence", head + "." + b64url_encode(signature))


def tampered_payload(w: DemoWorld, token: str | None = None) -> Case:
    """`token` (default the Shenzhen licence) with its holder renamed after signing."""
    h, p, s = (token or w.licence_sz).split(".")
    claims = json.loads(b64url_decode(p))
    claims["holder"] = {**claims["holder"], "name": "冒名顶替有限公司"}
    return Case("licence", h + "." + b64url_encode(json.dumps(claims).encode()) + "." + s)


def rehomed(w: DemoWorld, jur: str, kind: str = "licence") -> Case:
    """The Shenzhen licence (or seal) with its `jur` claim changed after signing: its kid is
    in Shenzhen's list only."""
    token = w.licence_sz if kind == "licence" else w.seal_sz
    h, p, s = token.split(".")
    claims = {**json.loads(b64url_decode(p)), "jur": jur}
    return Case(kind, h + "." + b64url_encode(json.dumps(claims).encode()) + "." + s)


def sz_list_update(w: DemoWorld, **changes: object) -> TrustStore:
    tl = edit_service(w.trust_lists[SHENZHEN], "sz-amr", **changes)
    return store_with(w, updates=[next_list(w, tl)])


def status_store(w: DemoWorld, values: dict[int, int]) -> TrustStore:
    """The demo store with a newer Shenzhen issuer status list carrying `values`."""
    store = w.store()
    statuses = default_statuses()
    for idx, value in values.items():
        statuses[idx] = value
    uri = "https://status.sz.huren.example/sz-amr/1"
    store.submit_status_list(w.sign_status_list(uri, statuses, issued_at=w.now), now=w.now)
    return store


def rolled_back_status(w: DemoWorld) -> Case:
    """The licence's slot is revoked in a newer list; replaying the older one is refused."""
    uri = "https://status.sz.huren.example/sz-amr/1"
    store = status_store(w, {0: 1})
    with pytest.raises(Rollback):
        store.submit_status_list(w.status_lists[uri], now=w.now)
    return Case("licence", w.licence_sz, store=store)


def seal(w: DemoWorld, **overrides: object) -> Case:
    return Case("seal", w.make_seal(**overrides))


def raw_seal(w: DemoWorld, claims: dict[str, object], key: SigningKey | None = None) -> Case:
    k = key or w.seal_authority_key(SHENZHEN)
    return Case("seal", raw_jws(header_for(k, SEAL_TYP), claims, k))


def unlisted_seal(w: DemoWorld) -> str:
    """An intact seal signed by an authority key that no list names."""
    k = SigningKey.generate(ES256)
    return raw_jws(header_for(k, SEAL_TYP), seal_claims(**w.seal_fields()), k)


def sealed(
    w: DemoWorld,
    *,
    seal_token: str | None = None,
    document: bytes | None = None,
    signed_at_days: float = -1,
    key: SigningKey | None = None,
    **case: object,
) -> Case:
    token = seal_token or w.seal_sz
    sig = sign_sealed_document(
        key or w.keys[SZ_ENTERPRISE.key_name],
        w.sealed_document,
        token,
        signed_at=w.now + timedelta(days=signed_at_days),
    )
    return Case("sealed_document", sig, document=document or w.sealed_document, **case)  # type: ignore[arg-type]


def sealed_by_ref(w: DemoWorld, supplied: str | None, document: bytes | None = None) -> Case:
    sig = sign_sealed_document(
        w.keys[SZ_ENTERPRISE.key_name],
        w.sealed_document,
        w.seal_sz,
        signed_at=w.now - DAY,
        embed_seal=False,
    )
    doc = w.sealed_document if document is None else document
    return Case("sealed_document", sig, document=doc, seal=supplied)


def sealed_forged_kid(w: DemoWorld) -> Case:
    """Signed by another key, but claiming the kid bound in the seal."""
    other = SigningKey.generate(ES256)
    bound = w.keys[SZ_ENTERPRISE.key_name]
    claims = sealed_doc_claims(w.sealed_document, w.seal_sz, signed_at=w.now - DAY)
    token = raw_jws(header_for(bound, SEALED_DOC_TYP), claims, other)
    return Case("sealed_document", token, document=w.sealed_document)


# -- the table ---------------------------------------------------------------------------------

NOW_PLUS = timedelta  # readability in rows below

ROWS: list[Row] = [
    # valid documents
    Row("valid-sz-business-licence-in-zhongshan", lambda w: Case("licence", w.licence_sz), P),
    Row(
        "valid-zs-food-permit-in-shenzhen",
        lambda w: Case("licence", w.licence_zs, relying=SHENZHEN),
        P,
    ),
    Row(
        "valid-licence-relying-on-own-city",
        lambda w: Case("licence", w.licence_sz, relying=SHENZHEN),
        P,
    ),
    Row(
        "valid-person-holder",
        lambda w: licence(
            w, holder_uscc=None, holder_name="张三", holder_pid=make_pid("44030419900101123")
        ),
        P,
    ),
    Row("valid-long-term-licence-no-exp", lambda w: licence(w, valid_to=None), P),
    Row("valid-licence-without-status", lambda w: licence(w, status=None), P),
    Row(
        "valid-expectations-met",
        lambda w: Case(
            "licence",
            w.licence_sz,
            expect=Expectations(
                holder_id=SZ_ENTERPRISE.credit_code, licence_type="business_licence"
            ),
        ),
        P,
    ),
    Row("valid-seal", lambda w: Case("seal", w.seal_sz), P),
    Row("valid-seal-with-image", lambda w: Case("seal", w.seal_sz, image=w.seal_image), P),
    Row(
        "valid-sealed-document",
        lambda w: Case(
            "sealed_document", w.sealed_signature, document=w.sealed_document, image=w.seal_image
        ),
        P,
    ),
    Row("valid-sealed-document-seal-by-reference", lambda w: sealed_by_ref(w, w.seal_sz), P),
    # format
    Row(
        "oversized-token",
        lambda w: Case("licence", w.licence_sz + "A" * 70_000),
        F,
        S.FORMAT_FAILURE,
        "format.size",
    ),
    Row("not-a-jws", lambda w: Case("licence", b"hello world"), F, S.FORMAT_FAILURE, "format.jws"),
    Row("empty-input", lambda w: Case("licence", b""), F, S.FORMAT_FAILURE, "format.jws"),
    # A token pasted with a line break: refused with a hint, never stripped (issue 16).
    Row(
        "line-break-in-token",
        lambda w: Case("licence", w.licence_sz[:40] + "\r\n" + w.licence_sz[40:]),
        F,
        S.FORMAT_FAILURE,
        "format.whitespace",
    ),
    Row(
        "space-after-a-dot",
        lambda w: Case("seal", " " + w.seal_sz.replace(".", ". ", 1) + "\n"),
        F,
        S.FORMAT_FAILURE,
        "format.whitespace",
    ),
    Row(
        "two-parts",
        lambda w: Case("licence", w.licence_sz.rsplit(".", 1)[0]),
        F,
        S.FORMAT_FAILURE,
        "format.jws",
    ),
    Row(
        "padded-base64",
        lambda w: Case("licence", w.licence_sz + "=="),
        F,
        S.FORMAT_FAILURE,
        "format.jws",
    ),
    Row(
        "non-ascii-text",
        lambda w: Case("licence", "营业执照." + w.licence_sz),
        F,
        S.FORMAT_FAILURE,
        "format.jws",
    ),
    *[
        Row(
            f"alg-{alg}-{'with' if keep else 'without'}-signature",
            lambda w, alg=alg, keep=keep: alg_token(w, alg, keep_signature=keep),
            F,
            S.CRYPTO_CONSTRAINTS_FAILURE,
            "format.alg",
        )
        for alg in ("none", "None", "NONE", "nOnE")
        for keep in (False, True)
    ],
    *[
        Row(
            f"alg-{alg}",
            lambda w, alg=alg: alg_token(w, alg, keep_signature=True),
            F,
            S.CRYPTO_CONSTRAINTS_FAILURE,
            "format.alg",
        )
        for alg in ("RS256", "ES384", "ES512", "es256", "")
    ],
    *[
        Row(
            f"hs256-public-key-as-secret-{form}",
            lambda w, form=form: hmac_confusion(w, form),
            F,
            S.CRYPTO_CONSTRAINTS_FAILURE,
            "format.alg",
        )
        for form in ("pem", "der", "jwk")
    ],
    *[
        Row(
            f"header-{name}",
            lambda w, name=name, value=value: with_header(w, **{name: value}),
            F,
            S.FORMAT_FAILURE,
            "format.embedded_key",
        )
        for name, value in (
            ("jwk", {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}),
            ("jku", "https://evil.example/keys.json"),
            ("x5u", "https://evil.example/cert.pem"),
            ("x5c", ["MIIB"]),
        )
    ],
    Row(
        "header-crit-unknown",
        lambda w: with_header(w, crit=["huren-extension"], **{"huren-extension": 1}),
        F,
        S.FORMAT_FAILURE,
        "format.crit",
    ),
    Row(
        "header-duplicate-member",
        lambda w: Case(
            "licence",
            raw_jws(
                json.dumps({"alg": "ES256", "kid": w.issuer_key(SHENZHEN).kid, "typ": LICENCE_TYP})
                .removesuffix("}")
                .encode()
                + b', "typ": "huren-seal+jwt"}',
                lic(w),
                w.issuer_key(SHENZHEN),
            ),
        ),
        F,
        S.FORMAT_FAILURE,
        "format.duplicate_member",
    ),
    Row(
        "payload-duplicate-member",
        lambda w: Case(
            "licence",
            raw_jws(
                header_for(w.issuer_key(SHENZHEN), LICENCE_TYP),
                json.dumps(lic(w))[:-1].encode() + b',"lic_type":"food_business_permit"}',
                w.issuer_key(SHENZHEN),
            ),
        ),
        F,
        S.FORMAT_FAILURE,
        "format.duplicate_member",
    ),
    Row(
        "seal-presented-as-licence",
        lambda w: Case("licence", w.seal_sz),
        F,
        S.FORMAT_FAILURE,
        "format.typ",
    ),
    Row(
        "licence-presented-as-seal",
        lambda w: Case("seal", w.licence_sz),
        F,
        S.FORMAT_FAILURE,
        "format.typ",
    ),
    Row(
        "sealed-signature-presented-as-seal",
        lambda w: Case("seal", w.sealed_signature),
        F,
        S.FORMAT_FAILURE,
        "format.typ",
    ),
    Row(
        "status-list-presented-as-licence",
        lambda w: Case("licence", next(iter(w.status_lists.values()))),
        F,
        S.FORMAT_FAILURE,
        "format.typ",
    ),
    Row(
        "typ-missing",
        lambda w: Case(
            "licence",
            raw_jws(
                {"alg": "ES256", "kid": w.issuer_key(SHENZHEN).kid},
                lic(w),
                w.issuer_key(SHENZHEN),
            ),
        ),
        F,
        S.FORMAT_FAILURE,
        "format.typ",
    ),
    Row(
        "typ-generic-jwt",
        lambda w: with_header(w, typ="JWT"),
        F,
        S.FORMAT_FAILURE,
        "format.typ",
    ),
    Row(
        "claim-missing-holder",
        lambda w: Case(
            "licence", signed_lic(w, {k: v for k, v in lic(w).items() if k != "holder"})
        ),
        F,
        S.FORMAT_FAILURE,
        "format.claims",
    ),
    Row(
        "claim-iat-as-string",
        lambda w: Case("licence", signed_lic(w, {**lic(w), "iat": "2026-10-27T00:00:00Z"})),
        F,
        S.FORMAT_FAILURE,
        "format.claims",
    ),
    Row(
        "claim-iat-boolean",
        lambda w: Case("licence", signed_lic(w, {**lic(w), "iat": True})),
        F,
        S.FORMAT_FAILURE,
        "format.claims",
    ),
    Row(
        "claim-exp-huge",
        lambda w: Case("licence", signed_lic(w, {**lic(w), "exp": 10**30})),
        F,
        S.FORMAT_FAILURE,
        "format.claims",
    ),
    Row(
        "claim-unknown",
        lambda w: Case("licence", signed_lic(w, {**lic(w), "admin": True})),
        F,
        S.FORMAT_FAILURE,
        "format.claims",
    ),
    Row(
        "claim-holder-both-ids",
        lambda w: Case(
            "licence",
            signed_lic(
                w,
                {**lic(w), "holder": {"name": "x", "uscc": SZ_ENTERPRISE.credit_code, "pid": "1"}},
            ),
        ),
        F,
        S.FORMAT_FAILURE,
        "format.claims",
    ),
    Row(
        "payload-not-json",
        lambda w: Case(
            "licence",
            raw_jws(
                header_for(w.issuer_key(SHENZHEN), LICENCE_TYP), b"\xff\xfe", w.issuer_key(SHENZHEN)
            ),
        ),
        F,
        S.FORMAT_FAILURE,
        "format.claims",
    ),
    Row(
        "payload-array",
        lambda w: Case(
            "licence",
            raw_jws(
                header_for(w.issuer_key(SHENZHEN), LICENCE_TYP), b"[1,2]", w.issuer_key(SHENZHEN)
            ),
        ),
        F,
        S.FORMAT_FAILURE,
        "format.claims",
    ),
    # identifiers
    Row(
        "wrong-credit-code-check-character",
        lambda w: Case(
            "licence", signed_lic(w, lic(w, holder_uscc=SZ_ENTERPRISE.credit_code[:-1] + "0"))
        ),
        F,
        S.FORMAT_FAILURE,
        "identifier.uscc",
    ),
    Row(
        "credit-code-with-letter-o",
        lambda w: Case("licence", signed_lic(w, lic(w, holder_uscc="91440300MA5G2U8TOP"))),
        F,
        S.FORMAT_FAILURE,
        "identifier.uscc",
    ),
    Row(
        "wrong-personal-id-check-character",
        lambda w: Case(
            "licence",
            signed_lic(
                w,
                {
                    **lic(w),
                    "holder": {"name": "张三", "pid": make_pid("44030419900101123")[:-1] + "0"},
                },
            ),
        ),
        F,
        S.FORMAT_FAILURE,
        "identifier.pid",
    ),
    # issuer and key
    Row(
        "issuing-jurisdiction-not-configured",
        lambda w: Case("licence", signed_lic(w, lic(w, jurisdiction="440100"))),
        I,
        S.NO_SIGNING_CERTIFICATE_FOUND,
        "issuer.jurisdiction",
    ),
    Row(
        "issuing-list-not-held",
        lambda w: Case(
            "licence",
            w.licence_sz,
            store=store_with(w, lists=[ZHONGSHAN], status=[], catalogue=False),
        ),
        I,
        S.TRY_LATER,
        "trust.list_available",
    ),
    Row(
        "zhongshan-issuer-claims-shenzhen",
        lambda w: Case("licence", signed_lic(w, lic(w, SHENZHEN), key=w.issuer_key(ZHONGSHAN))),
        I,
        S.NO_SIGNING_CERTIFICATE_FOUND,
        "key.found",
    ),
    Row(
        "unknown-key",
        lambda w: Case("licence", signed_lic(w, lic(w), key=SigningKey.generate(ES256))),
        I,
        S.NO_SIGNING_CERTIFICATE_FOUND,
        "key.found",
    ),
    # A kid is its key's thumbprint: held in another city's list, it still checks the signature,
    # so a document altered to claim another (or no configured) city is FAILED, not "unknown".
    Row(
        "licence-altered-to-claim-another-city",
        lambda w: rehomed(w, ZHONGSHAN),
        F,
        S.SIG_CRYPTO_FAILURE,
        "signature.valid",
    ),
    Row(
        "licence-altered-to-claim-an-unconfigured-city",
        lambda w: rehomed(w, "110000"),
        F,
        S.SIG_CRYPTO_FAILURE,
        "signature.valid",
    ),
    Row(
        "seal-altered-to-claim-another-city",
        lambda w: rehomed(w, ZHONGSHAN, "seal"),
        F,
        S.SIG_CRYPTO_FAILURE,
        "signature.valid",
    ),
    Row(
        "kid-as-path",
        lambda w: Case(
            "licence",
            raw_jws(
                {"alg": "ES256", "kid": "../../etc/passwd", "typ": LICENCE_TYP},
                lic(w),
                w.issuer_key(SHENZHEN),
            ),
        ),
        I,
        S.NO_SIGNING_CERTIFICATE_FOUND,
        "key.found",
    ),
    Row(
        "iss-names-another-service",
        lambda w: Case("licence", signed_lic(w, lic(w, issuer="sz-psb-seal"))),
        F,
        S.CHAIN_CONSTRAINTS_FAILURE,
        "key.issuer",
    ),
    # integrity before the issuer's other trust checks: altered is FAILED whoever it names
    Row(
        "iss-names-another-service-and-altered",
        lambda w: tampered_payload(w, signed_lic(w, lic(w, issuer="sz-psb-seal"))),
        F,
        S.SIG_CRYPTO_FAILURE,
        "signature.valid",
    ),
    Row(
        "licence-of-seal-authority-altered",
        lambda w: tampered_payload(
            w, signed_lic(w, lic(w, issuer="sz-psb-seal"), key=w.seal_authority_key(SHENZHEN))
        ),
        F,
        S.SIG_CRYPTO_FAILURE,
        "signature.valid",
    ),
    Row(
        "licence-signed-by-seal-authority",
        lambda w: Case(
            "licence",
            signed_lic(w, lic(w, issuer="sz-psb-seal"), key=w.seal_authority_key(SHENZHEN)),
        ),
        F,
        S.CHAIN_CONSTRAINTS_FAILURE,
        "key.service_kind",
    ),
    Row(
        "zhongshan-issuer-type-outside-scope",
        lambda w: licence(w, ZHONGSHAN, licence_type=FOOD_PRODUCTION_LICENCE),
        F,
        S.CHAIN_CONSTRAINTS_FAILURE,
        "key.scope",
    ),
    # signature
    Row(
        "signature-bit-flipped",
        lambda w: tampered_signature(
            w,
            bytes([b64url_decode(w.licence_sz.split(".")[2])[0] ^ 1])
            + b64url_decode(w.licence_sz.split(".")[2])[1:],
        ),
        F,
        S.SIG_CRYPTO_FAILURE,
        "signature.valid",
    ),
    Row(
        "signature-r-and-s-zero",
        lambda w: tampered_signature(w, bytes(64)),
        F,
        S.SIG_CRYPTO_FAILURE,
        "signature.valid",
    ),
    Row(
        "signature-s-equals-order",
        lambda w: tampered_signature(
            w,
            b64url_decode(w.licence_sz.split(".")[2])[:32]
            + (0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551).to_bytes(
                32, "big"
            ),
        ),
        F,
        S.SIG_CRYPTO_FAILURE,
        "signature.valid",
    ),
    Row("payload-altered", tampered_payload, F, S.SIG_CRYPTO_FAILURE, "signature.valid"),
    # key status at the signing time
    Row(
        "key-withdrawn-before-signing",
        lambda w: licence(w, key=w.keys[f"{SHENZHEN}-issuer-retired"], issued_at=w.now - 5 * DAY),
        F,
        S.EXPIRED,
        "key.withdrawn",
    ),
    Row(
        "key-withdrawn-after-signing",
        lambda w: licence(w, key=w.keys[f"{SHENZHEN}-issuer-retired"], issued_at=w.now - 40 * DAY),
        P,
    ),
    Row(
        "key-compromised-signed-after",
        lambda w: licence(
            w, key=w.keys[f"{SHENZHEN}-issuer-compromised"], issued_at=w.now - 5 * DAY
        ),
        F,
        S.REVOKED,
        "key.revoked",
    ),
    Row(
        "key-compromised-claims-signed-before",
        lambda w: licence(
            w, key=w.keys[f"{SHENZHEN}-issuer-compromised"], issued_at=w.now - 20 * DAY
        ),
        I,
        S.REVOKED_NO_POE,
        "key.revocation",
    ),
    Row(
        "key-not-yet-granted-at-signing",
        lambda w: licence(w, issued_at=w.now - 500 * DAY),
        F,
        S.NOT_YET_VALID,
        "key.not_yet_granted",
    ),
    # validity window
    Row(
        "not-yet-valid",
        lambda w: licence(w, valid_from=w.now + 10 * DAY),
        F,
        S.NOT_YET_VALID,
        "validity.not_yet_valid",
    ),
    Row(
        "expired",
        lambda w: licence(w, issued_at=w.now - 90 * DAY, valid_to=w.now - DAY),
        F,
        S.EXPIRED,
        "validity.expired",
    ),
    Row(
        "issued-in-the-future",
        lambda w: licence(w, issued_at=w.now + DAY),
        F,
        S.NOT_YET_VALID,
        "validity.not_yet_issued",
    ),
    # revocation through status lists
    Row(
        "status-revoked",
        lambda w: licence(w, status=(IDX_REVOKED, "https://status.sz.huren.example/sz-amr/1")),
        F,
        S.REVOKED,
        "status.revoked",
    ),
    Row(
        "status-suspended",
        lambda w: licence(w, status=(IDX_SUSPENDED, "https://status.sz.huren.example/sz-amr/1")),
        I,
        S.TRY_LATER,
        "status.suspended",
    ),
    Row(
        "status-undefined-value",
        lambda w: Case(
            "licence",
            w.issue_licence(status=(7, "https://status.sz.huren.example/sz-amr/1")),
            store=status_store(w, {7: 3}),
        ),
        I,
        S.TRY_LATER,
        "status.unknown_value",
    ),
    Row(
        "status-index-out-of-range",
        lambda w: licence(w, status=(5000, "https://status.sz.huren.example/sz-amr/1")),
        I,
        S.TRY_LATER,
        "status.out_of_range",
    ),
    Row(
        "status-list-not-declared-by-issuer",
        lambda w: licence(w, status=(0, "https://status.sz.huren.example/elsewhere/1")),
        I,
        S.TRY_LATER,
        "status.undeclared",
    ),
    Row(
        "status-list-not-held",
        lambda w: Case(
            "licence",
            w.licence_sz,
            store=store_with(w, status=[u for u in w.status_lists if "sz-amr" not in u]),
        ),
        I,
        S.TRY_LATER,
        "status.missing",
    ),
    Row(
        "status-list-expired",
        lambda w: Case("licence", w.licence_sz, now=w.now + 8 * DAY),
        I,
        S.TRY_LATER,
        "status.expired",
    ),
    Row("status-list-rolled-back", rolled_back_status, F, S.REVOKED, "status.revoked"),
    # trust freshness
    Row(
        "stale-trust-list",
        lambda w: Case("licence", w.licence_sz, now=w.now + 31 * DAY),
        I,
        S.TRY_LATER,
        "trust.fresh",
    ),
    Row(
        "stale-trust-list-judged-at-a-past-time",
        lambda w: Case("licence", w.licence_sz, now=w.now + 31 * DAY, at=w.now),
        I,
        S.TRY_LATER,
        "trust.fresh",
    ),
    # recognition policy
    Row(
        "type-not-recognised-across-the-boundary",
        lambda w: licence(w, licence_type=FOOD_PRODUCTION_LICENCE),
        F,
        S.SIG_CONSTRAINTS_FAILURE,
        "recognition.refused",
    ),
    Row(
        "type-recognised-at-home",
        lambda w: Case(
            "licence", w.issue_licence(licence_type=FOOD_PRODUCTION_LICENCE), relying=SHENZHEN
        ),
        P,
    ),
    Row(
        "type-not-in-catalogue",
        lambda w: Case(
            "licence",
            w.issue_licence(licence_type="drug_business_licence"),
            store=sz_list_update(
                w,
                scope=w.trust_lists[SHENZHEN].service("sz-amr").scope  # type: ignore[union-attr]
                | {"drug_business_licence"},
            ),
        ),
        F,
        S.SIG_CONSTRAINTS_FAILURE,
        "recognition.type_unknown",
    ),
    Row(
        "no-catalogue-held",
        lambda w: Case("licence", w.licence_sz, store=store_with(w, catalogue=False)),
        I,
        S.TRY_LATER,
        "recognition.catalogue_missing",
    ),
    # service items
    Row(
        "item-accepts-the-permit",
        lambda w: Case(
            "licence",
            w.licence_zs,
            relying=SHENZHEN,
            expect=Expectations(service_item=ITEM_SZ_MEAL_SUPPLIER),
        ),
        P,
    ),
    Row(
        "item-refuses-a-valid-permit",
        lambda w: Case(
            "licence",
            w.licence_zs,
            relying=SHENZHEN,
            expect=Expectations(service_item=ITEM_SZ_FOOD_PRODUCTION),
        ),
        F,
        S.SIG_CONSTRAINTS_FAILURE,
        "item.refused",
    ),
    # caller expectations
    Row(
        "expected-other-holder",
        lambda w: Case(
            "licence", w.licence_sz, expect=Expectations(holder_id=ZS_ENTERPRISE.credit_code)
        ),
        F,
        S.SIG_CONSTRAINTS_FAILURE,
        "expect.holder",
    ),
    Row(
        "expected-other-type",
        lambda w: Case(
            "licence", w.licence_sz, expect=Expectations(licence_type=FOOD_BUSINESS_PERMIT)
        ),
        F,
        S.SIG_CONSTRAINTS_FAILURE,
        "expect.type",
    ),
    # seals
    # Another picture than the issued one: the seal is not called altered (issue 16).
    Row(
        "seal-image-mismatch",
        lambda w: Case("seal", w.seal_sz, image=w.seal_image + b"\x00"),
        F,
        S.SIG_CONSTRAINTS_FAILURE,
        "seal.image_not_issued",
    ),
    Row(
        "seal-made-by-licence-issuer",
        lambda w: seal(w, key=w.issuer_key(SHENZHEN), issuer="sz-amr"),
        F,
        S.CHAIN_CONSTRAINTS_FAILURE,
        "key.service_kind",
    ),
    Row(
        "seal-type-outside-scope",
        lambda w: seal(w, seal_type="customs"),
        F,
        S.CHAIN_CONSTRAINTS_FAILURE,
        "key.scope",
    ),
    Row(
        "seal-expired",
        lambda w: seal(w, issued_at=w.now - 400 * DAY + DAY, valid_to=w.now - DAY),
        F,
        S.EXPIRED,
        "validity.expired",
    ),
    Row(
        "seal-revoked",
        lambda w: seal(w, status=(IDX_REVOKED, "https://status.sz.huren.example/sz-psb-seal/1")),
        F,
        S.REVOKED,
        "status.revoked",
    ),
    Row(
        "seal-suspended",
        lambda w: seal(w, status=(IDX_SUSPENDED, "https://status.sz.huren.example/sz-psb-seal/1")),
        I,
        S.TRY_LATER,
        "status.suspended",
    ),
    Row(
        "seal-wrong-credit-code",
        lambda w: raw_seal(
            w,
            seal_claims(**w.seal_fields(enterprise_uscc=make_uscc("91440300MA5G2U8T1")[:-1] + "1")),
        ),
        F,
        S.FORMAT_FAILURE,
        "identifier.uscc",
    ),
    Row(
        "seal-by-an-unlisted-authority-key",
        lambda w: Case("seal", unlisted_seal(w)),
        I,
        S.NO_SIGNING_CERTIFICATE_FOUND,
        "key.found",
    ),
    Row(
        "sealed-document-whose-seal-key-is-unlisted",
        lambda w: sealed(
            w,
            seal_token=unlisted_seal(w),
        ),
        I,
        S.NO_SIGNING_CERTIFICATE_FOUND,
        SEAL_PREFIX + "key.found",
    ),
    Row(
        "sealed-document-altered-whose-seal-key-is-unlisted",
        lambda w: sealed(
            w,
            seal_token=unlisted_seal(w),
            document=w.sealed_document + b" ",
        ),
        F,
        S.HASH_FAILURE,
        "sealed.hash",
    ),
    Row(
        "seal-binds-a-private-key",
        lambda w: raw_seal(
            w,
            {
                **seal_claims(**w.seal_fields()),
                "cnf": {"jwk": {**w.keys[SZ_ENTERPRISE.key_name].public_key.to_jwk(), "d": "AA"}},
            },
        ),
        F,
        S.FORMAT_FAILURE,
        "format.claims",
    ),
    Row(
        "seal-expected-other-enterprise",
        lambda w: Case("seal", w.seal_sz, expect=Expectations(holder_id=ZS_ENTERPRISE.credit_code)),
        F,
        S.SIG_CONSTRAINTS_FAILURE,
        "expect.holder",
    ),
    Row(
        "seal-expected-other-type",
        lambda w: Case("seal", w.seal_sz, expect=Expectations(seal_type="contract")),
        F,
        S.SIG_CONSTRAINTS_FAILURE,
        "expect.type",
    ),
    # sealed documents
    Row(
        "sealed-document-altered",
        lambda w: sealed(w, document=w.sealed_document + b" "),
        F,
        S.HASH_FAILURE,
        "sealed.hash",
    ),
    Row(
        "sealed-by-a-key-not-bound-to-the-seal",
        lambda w: sealed(w, key=w.keys[ZS_ENTERPRISE.key_name]),
        F,
        S.SIG_CONSTRAINTS_FAILURE,
        "sealed.key_binding",
    ),
    Row(
        "sealed-document-altered-seal-by-reference-missing",
        lambda w: sealed_by_ref(w, None, document=w.sealed_document + b" "),
        F,
        S.HASH_FAILURE,
        "sealed.hash",
    ),
    Row("sealed-kid-forged", sealed_forged_kid, F, S.SIG_CRYPTO_FAILURE, "signature.valid"),
    Row(
        "sealed-after-the-seal-expired",
        lambda w: sealed(
            w,
            seal_token=w.make_seal(issued_at=w.now - 300 * DAY, valid_to=w.now - 10 * DAY),
            signed_at_days=-5,
        ),
        F,
        S.EXPIRED,
        SEAL_PREFIX + "validity.expired",
    ),
    Row(
        "sealed-before-the-seal-was-valid",
        lambda w: sealed(
            w,
            seal_token=w.make_seal(issued_at=w.now - 10 * DAY, valid_from=w.now - 2 * DAY),
            signed_at_days=-5,
        ),
        F,
        S.NOT_YET_VALID,
        SEAL_PREFIX + "validity.not_yet_valid",
    ),
    Row(
        "sealed-signing-time-in-the-future",
        lambda w: sealed(w, signed_at_days=2),
        F,
        S.NOT_YET_VALID,
        "validity.not_yet_issued",
    ),
    Row(
        "sealed-seal-expired-since-no-poe",
        lambda w: sealed(
            w,
            seal_token=w.make_seal(issued_at=w.now - 300 * DAY, valid_to=w.now - 10 * DAY),
            signed_at_days=-20,
        ),
        I,
        S.OUT_OF_BOUNDS_NO_POE,
        "sealed.seal_period",
    ),
    Row(
        "sealed-with-a-revoked-seal",
        lambda w: sealed(
            w,
            seal_token=w.make_seal(
                status=(IDX_REVOKED, "https://status.sz.huren.example/sz-psb-seal/1")
            ),
        ),
        I,
        S.REVOKED_NO_POE,
        "sealed.seal_revoked",
    ),
    Row(
        "sealed-seal-image-mismatch",
        lambda w: sealed(w, image=w.seal_image[:-1]),
        F,
        S.SIG_CONSTRAINTS_FAILURE,
        SEAL_PREFIX + "seal.image_not_issued",
    ),
    Row(
        "sealed-seal-by-reference-missing",
        lambda w: sealed_by_ref(w, None),
        I,
        S.NO_SIGNING_CERTIFICATE_FOUND,
        "sealed.seal_ref",
    ),
    Row(
        "sealed-seal-by-reference-other-seal",
        lambda w: sealed_by_ref(w, w.make_seal(seal_id="4403000099999")),
        I,
        S.NO_SIGNING_CERTIFICATE_FOUND,
        "sealed.seal_ref",
    ),
    Row(
        "sealed-seal-is-a-licence",
        lambda w: Case(
            "sealed_document",
            raw_jws(
                header_for(w.keys[SZ_ENTERPRISE.key_name], SEALED_DOC_TYP),
                {
                    **sealed_doc_claims(w.sealed_document, w.seal_sz, signed_at=w.now - DAY),
                    "seal": w.licence_sz,
                },
                w.keys[SZ_ENTERPRISE.key_name],
            ),
            document=w.sealed_document,
        ),
        F,
        S.FORMAT_FAILURE,
        SEAL_PREFIX + "format.typ",
    ),
    Row(
        "licence-presented-as-sealed-signature",
        lambda w: Case("sealed_document", w.licence_sz, document=w.sealed_document),
        F,
        S.FORMAT_FAILURE,
        "format.typ",
    ),
]


@pytest.fixture(scope="module")
def demo_store(demo_world: DemoWorld) -> TrustStore:
    return demo_world.store()


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_row(row: Row, demo_world: DemoWorld, demo_store: TrustStore) -> None:
    verdict = run_case(row.build(demo_world), demo_world, demo_store)
    assert (verdict.indication, verdict.sub_indication) == (row.indication, row.sub), describe(
        verdict
    )
    assert deciding_code(verdict) == row.code, describe(verdict)
    # Every verdict is complete whatever happened.
    assert verdict.checks and verdict.summary is not None
    assert len(verdict.document_sha256) == 64
    if row.indication is not P:
        assert verdict.checks[-1].code == row.code or row.indication is I
    # The service's bytes are the dict's, in its key order, and leave the shared checks alone.
    as_dict = verdict.to_dict()
    assert verdict.to_json() == json.dumps(
        as_dict, ensure_ascii=False, allow_nan=False, separators=(",", ":")
    ).encode("utf-8")
    as_dict["checks"][0]["code"] = "mutated"
    assert verdict.to_dict()["checks"][0]["code"] == verdict.checks[0].code
    # The simple report: the same verdict with the passing checks left out, the deciding one kept.
    simple = verdict.to_dict(detailed=False)
    failing = [c.to_dict() for c in verdict.checks if c.result.value != "PASSED"]
    assert simple == {**verdict.to_dict(), "checks": failing}
    assert (verdict.indication is P) == (simple["checks"] == [])
    if row.code:
        assert row.code in [c["code"] for c in simple["checks"]]
    assert verdict.reports_json() == (verdict.to_json(detailed=False), verdict.to_json())


def test_row_ids_are_unique() -> None:
    assert len({r.id for r in ROWS}) == len(ROWS)


# Failure codes reached in other files (they need a trust state the table cannot express).
ELSEWHERE = {"status.untrusted"}
# The QR form's own layers, each decided by a row of tests/unit/test_qr_licence.py::HOSTILE.
QR_FORM = {
    "format.qr_prefix",
    "format.qr_encoding",
    "format.qr_compression",
    "format.cbor",
    "format.cose",
}


def test_every_failure_code_has_a_row() -> None:
    from tests.unit.test_qr_licence import HOSTILE

    assert {code for *_, code in HOSTILE} >= QR_FORM
    decided = {r.code.removeprefix(SEAL_PREFIX) for r in ROWS if r.code} | ELSEWHERE | QR_FORM
    failing = {code for code, spec in SPECS.items() if spec.result is not None}
    assert failing - decided == set()
