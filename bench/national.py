"""National formats: GB/T 38540 seal verification per second against the raw SM2 verify of the
chosen backend (tongsuopy), measured interleaved in the same run.

- raw: tongsuopy's own verify of the seal maker's signature (pre-built key object, pre-decoded
  DER signature, the exact signed bytes), a tight loop, one core;
- seal: `NationalVerifier.verify_seal` on the whole .esl: DER parsing, certificate parsing, the
  trust-list search, the chain to the listed CA (its SM2 check is cached per certificate pair, as
  in service), the maker's SM2 signature, key status, validity, picture, catalogue.
One SM2 verification dominates a seal verification; the target is at least half the raw rate.
A stamped OFD document (two SM2 verifications, SM3 of every file) is shown for context (N2).

N3 (issue 12): the worst CPU time of one `verify_document` over the hostile-package corpus of
tests/support/ofd_corpus.py (every container, location and coverage case, and the review's cost
cases),
each as a ratio to the CPU time of a legitimate stamped document of the same upload size (the
same contract, padded with an incompressible protected resource); target at most 2.

    rows = bench.national.run(quick=True)   # dicts with the fields of bench.report.Row"""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import timing
from bench.report import Row, fmt_rate, fmt_us, unavailable

TARGET = 0.5


def _world() -> dict[str, Any]:
    from issuing import national as issue
    from keys import ES256, SigningKey
    from keys.sm2 import Sm2PrivateKey, Sm2PublicKey, backend
    from trust_lists import authoring
    from trust_lists.catalogue import Catalogue, DocumentType, Recognition, SignedCatalogue
    from trust_lists.model import ServiceKind
    from trust_lists.signed import Anchor, SignedTrustList
    from trust_lists.store import TrustStore
    from trust_lists.uscc import make_uscc
    from verifier.formats import SEAL_TYPES
    from verifier.national import asn1
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

    def stamp(files: dict[str, bytes], **options: Any) -> dict[str, bytes]:
        return issue.stamp_ofd(
            files,
            seal=seal,
            signer_key=signer_key,
            signer_certificate=signer,
            signed_at=now - timedelta(days=1),
            **options,
        )

    return {
        "nv": nv,
        "seal": seal,
        "ofd": ofd,
        "stamp": stamp,
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


HOSTILE_TARGET = 2.0


def _cpu(fn: Any, *, repeats: int, target: float) -> float:
    """The best CPU seconds (this process) per call, over `repeats` batches of ~`target` s."""
    n = max(1, timing.calibrate(fn, target))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        for _ in range(n):
            fn()
        best = min(best, (time.process_time() - t0) / n)
    return best


def hostile_rows(quick: bool, w: dict[str, Any] | None = None) -> list[Row]:
    """N3: worst CPU per document over the hostile corpus / a legitimate one of the same size;
    N3b: the same for an attacker who adapts to the caps with many signatures over small
    entries (nothing to refuse by size: each signature costs its own SM2 verification)."""
    import random

    from issuing import national as issue
    from tests.support import ofd_corpus

    w = w or _world()
    nv, stamp = w["nv"], w["stamp"]
    unsigned = issue.make_ofd(["合同第一页", "合同第二页\n第二行"], doc_id="contract-1")
    corpus = [(c.name, c.data) for c in ofd_corpus.container_cases(stamp(dict(unsigned)))]
    corpus += [(c.name, c.data) for c in ofd_corpus.path_cases(unsigned, stamp)]
    corpus += [
        ("64 Sign x 64 entries of 1 MiB of zeros (the review's)", ofd_corpus.cost_package()),
        ("64 Sign x 64 entries of 1 MiB at ratio ~80", ofd_corpus.ratio_safe_cost_package()),
    ]
    adapted = [("64 Sign x 64 entries of 4 KiB of noise", ofd_corpus.noise_cost_package())]
    noise = random.Random(3)
    base = len(issue.package(stamp(dict(unsigned))))

    def legit(size: int) -> bytes:
        files = dict(unsigned)
        files["Doc_0/Res/pad.bin"] = noise.randbytes(max(0, size - base - 200))
        return issue.package(stamp(files))

    repeats, target = (3, 0.02) if quick else (5, 0.05)

    def worst(cases: list[tuple[str, bytes]]) -> tuple[float, str, float, float, int]:
        found: tuple[float, str, float, float, int] = (0.0, "", 0.0, 0.0, 0)
        for name, data in cases:
            same = legit(len(data))
            assert nv.verify_document(same, "440300").overall.passed
            bad = _cpu(
                lambda d=data: nv.verify_document(d, "440300"), repeats=repeats, target=target
            )
            good = _cpu(
                lambda d=same: nv.verify_document(d, "440300"), repeats=repeats, target=target
            )
            if bad / good > found[0]:
                found = (bad / good, name, bad, good, len(data))
        return found

    out = []
    for fig, label, cases in (
        ("N3", f"worst hostile OFD CPU / legitimate, same size ({len(corpus)} cases)", corpus),
        ("N3b", "many-signature OFD CPU / legitimate one-signature, same size", adapted),
    ):
        ratio, name, bad, good, size = worst(cases)
        out.append(
            Row(
                fig,
                label,
                fmt_us(bad),
                f"legitimate {fmt_us(good)} ({size} B)",
                ratio,
                "<=",
                HOSTILE_TARGET,
                target_text=f"<= {HOSTILE_TARGET:g} x",
                note=f"worst case: {name}",
                raw={"hostile_cpu_s": bad, "legitimate_cpu_s": good, "upload_bytes": size},
            )
        )
    return out


def run(quick: bool) -> list[dict[str, Any]]:
    """The rows as dicts (the fields of bench.report.Row)."""
    return [asdict(r) for r in rows(quick)]


if __name__ == "__main__":
    for r in rows(quick=True) + hostile_rows(quick=True):
        print(
            f"{r.fig:4} {r.name:58} {r.value:>10}  {r.baseline:28} {r.ratio_text:>6} {r.target_str}"
        )
