"""National formats: GB/T 38540 seal verification per second against the raw SM2 verify of the
chosen backend (tongsuopy), measured interleaved in the same run.

- raw: tongsuopy's own verify of the seal maker's signature (pre-built key object, pre-decoded
  DER signature, the exact signed bytes), a tight loop, one core;
- seal: `NationalVerifier.verify_seal` on the whole .esl: DER parsing, certificate parsing, the
  trust-list search, the chain to the listed CA (its SM2 check is cached per certificate pair, as
  in service), the maker's SM2 signature, key status, validity, picture, catalogue.
One SM2 verification dominates a seal verification; the target is at least half the raw rate.
A stamped OFD document (two SM2 verifications, SM3 of every file) is shown for context.

    rows = bench.national.run(quick=True)   # dicts with the fields of bench.report.Row"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import timing
from bench.report import Row, fmt_rate, fmt_us, unavailable

TARGET = 0.5


def _world() -> dict[str, Any]:
    from keys import ES256, SigningKey
    from keys.sm2 import Sm2PrivateKey, Sm2PublicKey, backend
    from trust_lists import authoring
    from trust_lists.catalogue import Catalogue, DocumentType, Recognition, SignedCatalogue
    from trust_lists.model import ServiceKind
    from trust_lists.signed import Anchor, SignedTrustList
    from trust_lists.store import TrustStore
    from trust_lists.uscc import make_uscc
    from verifier.formats import SEAL_TYPES
    from verifier.national import asn1, issue
    from verifier.national.verifier import NationalVerifier

    now = datetime(2026, 11, 26, tzinfo=UTC)
    t0 = now - timedelta(days=30)
    ca_key, maker_key, signer_key = (Sm2PrivateKey.generate() for _ in range(3))
    ca = issue.make_certificate(
        issuer_key=ca_key,
        subject={"common_name": "Bench seal CA", "country_name": "CN"},
        subject_point=ca_key.point,
        not_before=t0,
        not_after=now + timedelta(days=3650),
        serial=1,
        ca=True,
        key_usage=("key_cert_sign",),
    )
    maker = issue.make_certificate(
        issuer_key=ca_key,
        issuer_certificate=ca,
        subject={"common_name": "Bench seal maker"},
        subject_point=maker_key.point,
        not_before=t0,
        not_after=now + timedelta(days=365),
        serial=2,
    )
    signer = issue.make_certificate(
        issuer_key=ca_key,
        issuer_certificate=ca,
        subject={"common_name": "Bench enterprise"},
        subject_point=signer_key.point,
        not_before=t0,
        not_after=now + timedelta(days=365),
        serial=3,
    )
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(4096)
    seal = issue.make_seal(
        maker_key=maker_key,
        maker_certificate=maker,
        es_id="44030020260001",
        seal_type=1,
        name="基准测试公章",
        signer_certificates=[signer],
        created=t0,
        valid_start=t0,
        valid_end=now + timedelta(days=300),
        picture=issue.SealPicture("PNG", png),
    )
    files = issue.stamp_ofd(
        issue.make_ofd(["基准测试文档"] * 3),
        seal=seal,
        signer_key=signer_key,
        signer_certificate=signer,
        signed_at=now - timedelta(days=1),
    )
    ofd = issue.package(files)

    op = SigningKey.generate(ES256)
    code = "440300"
    tl = authoring.new_trust_list(
        jurisdiction=code,
        name_zh="深圳市",
        name_en="Shenzhen",
        operators=[op.public_key],
        threshold=1,
        issued_at=now - timedelta(hours=1),
        validity=timedelta(days=30),
    )
    tl = authoring.add_service(
        tl,
        service_id="sz-seal",
        kind=ServiceKind.SEAL_AUTHORITY,
        name_zh="深圳市印章制作机构",
        name_en="Shenzhen seal authority",
        credit_code=make_uscc("11440300MB2C00025"),
        scope=list(SEAL_TYPES),
        keys=[Sm2PublicKey.from_certificate(__import__("keys.x509").x509.Certificate.parse(ca))],
        granted_from=t0 - timedelta(days=1),
    )
    store = TrustStore([Anchor(code, 1, frozenset({op.kid}), (op.public_key,))])
    store.submit_trust_list(SignedTrustList.create(tl, [op]).to_json(), now=now)
    types = {c: DocumentType(c, zh, en) for c, (zh, en) in SEAL_TYPES.items()}
    cat = Catalogue(
        1,
        now - timedelta(hours=1),
        {},
        types,
        (Recognition(code, code, frozenset(), frozenset(types)),),
    )
    store.submit_catalogue(SignedCatalogue.create(cat, [op]).to_json(), now=now)
    nv = NationalVerifier(store, clock=lambda: now)

    parsed = asn1.parse_seal(seal)
    be = backend()
    raw_key = be.public_key(maker_key.point)
    return {
        "nv": nv,
        "seal": seal,
        "ofd": ofd,
        "raw": lambda: raw_key.verify(parsed.signature, parsed.signed_content, be.algorithm),
        "backend": be.name,
    }


def rows(quick: bool) -> list[Row]:
    try:
        w = _world()
    except Exception as exc:  # no SM2 backend: the figure is a MISS with the reason
        return [
            unavailable("N1", "SM2 seal verification", ">=", TARGET, f"{type(exc).__name__}: {exc}")
        ]
    nv, seal, ofd = w["nv"], w["seal"], w["ofd"]
    first = nv.verify_seal(seal, "440300")
    if not first.passed:
        return [
            unavailable(
                "N1",
                "SM2 seal verification",
                ">=",
                TARGET,
                f"seal did not pass: {first.sub_indication}",
            )
        ]
    repeats, target = (5, 0.02) if quick else (15, 0.05)
    t_seal, t_raw, ratio_t = timing.paired(
        lambda: nv.verify_seal(seal, "440300"), w["raw"], repeats=repeats, target=target
    )
    t_doc = timing.best_of(
        lambda: nv.verify_document(ofd, "440300"), repeats=max(3, repeats // 2), target=target
    )
    seal_rate, raw_rate = 1 / t_seal, 1 / t_raw
    ratio = 1 / ratio_t  # rates: seal/s over raw verifies/s
    return [
        Row(
            "N0",
            f"raw SM2 verify ({w['backend']})",
            fmt_rate(raw_rate),
            f"{fmt_us(t_raw)} per verify",
            None,
            "",
            0,
            raw={"raw_per_s": raw_rate},
        ),
        Row(
            "N1",
            "SM2 seal verification (GB/T 38540 .esl, all checks)",
            fmt_rate(seal_rate),
            f"raw SM2 verify {fmt_rate(raw_rate)}",
            ratio,
            ">=",
            TARGET,
            target_text=f">= {TARGET:g} x raw",
            note="one SM2 verify per seal; CA check cached per certificate pair",
            raw={"seal_per_s": seal_rate, "raw_per_s": raw_rate},
        ),
        Row(
            "N2",
            "stamped OFD document (1 seal signature, 2 SM2 verifies)",
            fmt_rate(1 / t_doc),
            f"raw SM2 verify {fmt_rate(raw_rate)}",
            None,
            "",
            0,
            raw={"document_per_s": 1 / t_doc},
        ),
    ]


def run(quick: bool) -> list[dict[str, Any]]:
    """The rows as dicts (the fields of bench.report.Row)."""
    return [asdict(r) for r in rows(quick)]


if __name__ == "__main__":
    for r in rows(quick=True):
        print(
            f"{r.fig:4} {r.name:58} {r.value:>10}  {r.baseline:28} {r.ratio_text:>6} {r.target_str}"
        )
