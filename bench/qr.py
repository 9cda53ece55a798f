"""The QR form of a licence (docs/formats.md), figures Q1-Q3.

- Q1: library `verify_licence_qr` (ES256, all checks, status list referenced, no cache) against
  the raw ECDSA P-256 verify of its own Sig_structure, paired rounds as figure 1a; target >= 0.6.
- Q2: server-side reading of a phone photo of the demo business licence's QR code (zxing-cpp via
  verifier.scan.read_qr): milliseconds per photo at 1.2, 1.9 and 3.1 MP (noisy, rotated JPEG),
  against decoding the clean PNG; reported, no target.
- Q3: the demo business licence's QR version at error correction M; target <= 20."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from bench import micro, timing
from bench.report import Row, fmt_ms, fmt_rate, fmt_us

PHOTO_SIZES = ((1280, 960), (1600, 1200), (2048, 1536))


def rows(quick: bool, s: micro.Settings) -> list[Row]:
    from demo.world import SHENZHEN, ZHONGSHAN, build_demo_world
    from issuing.licences import licence_claims
    from issuing.qr import licence_qr, qr_code
    from keys.cose import CoseSign1
    from verifier import hr1

    world = build_demo_world(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1))
    key = world.issuer_key(SHENZHEN)
    sample = world.samples["licence-sz-business.hr1.txt"].decode().strip()
    fields = world.licence_fields(
        SHENZHEN, data={"法定代表人": "李明", "注册资本": "1000万元人民币"}
    )
    texts = [
        licence_qr(key, licence_claims(**{**fields, "number": f"440300-BL-{i:06d}"}))
        for i in range(50 if quick else 200)
    ]
    verifier = world.verifier()
    first = verifier.verify_licence_qr(texts[0], ZHONGSHAN)
    if first.indication.value != "PASSED":
        raise RuntimeError(f"the bench QR licence does not verify: {first.indication.value}")
    it = iter(())

    def call() -> object:
        nonlocal it
        try:
            text = next(it)
        except StopIteration:
            it = iter(texts)
            text = next(it)
        return verifier.verify_licence_qr(text, ZHONGSHAN)

    cose = CoseSign1.parse(hr1.unwrap(texts[0].encode()), max_bytes=hr1.MAX_INFLATED_BYTES)
    r, s_ = int.from_bytes(cose.signature[:32], "big"), int.from_bytes(cose.signature[32:], "big")
    raw = micro.RawSample(
        "ES256",
        cose.signing_input,
        encode_dss_signature(r, s_),
        key.public_key._key,  # type: ignore[attr-defined]
    )
    t_raw, t_lib, ratio = timing.paired(raw.fn(), call, repeats=s.repeats, target=s.target)
    out = [
        Row(
            "Q1",
            "library verify_licence_qr ES256 (uncached)",
            f"{fmt_rate(1 / t_lib)} ({fmt_us(t_lib)})",
            f"{fmt_rate(1 / t_raw)} (raw ECDSA)",
            ratio,
            ">=",
            0.6,
            note=f"{len(texts[0])}-character HR1 texts; median of {s.repeats} paired rounds "
            f"(ratio of the bests: {t_raw / t_lib:.2f})",
            raw={"lib_s": t_lib, "raw_s": t_raw},
        )
    ]
    out += photo_rows(world.samples["licence-sz-business.qr.png"], sample, quick)
    code = qr_code(sample, "M")
    out.append(
        Row(
            "Q3",
            "demo business licence: QR version at error correction M",
            f"version {code.version} ({code.symbol_size(border=0)[0]} modules)",
            f"{len(sample)} characters",
            float(code.version),
            "<=",
            20,
        )
    )
    return out


def photo_rows(png: bytes, text: str, quick: bool) -> list[Row]:
    from tests.support.qr_support import photo
    from verifier.scan import read_qr

    def once(data: bytes) -> Any:
        def fn() -> object:
            assert read_qr(data) == text
            return None

        return fn

    repeats = 3 if quick else 7
    t_png = timing.best_of(once(png), repeats=repeats, target=0.05)
    out = [
        Row(
            "Q2",
            "read the QR code of the demo PNG (baseline)",
            fmt_ms(t_png),
            "",
            None,
            "",
            0,
        )
    ]
    for size in PHOTO_SIZES:
        picture = photo(png, size=size)
        t = timing.best_of(once(picture), repeats=repeats, target=0.2)
        mp = size[0] * size[1] / 1e6
        out.append(
            Row(
                "Q2",
                f"read the QR code of a {mp:.1f} MP phone photo (JPEG, rotated, noisy)",
                fmt_ms(t),
                f"{fmt_ms(t_png)} (clean PNG)",
                None,
                "",
                0,
                note=f"{len(picture) // 1024} KiB JPEG; best of {repeats}",
                raw={"s": t, "megapixels": mp},
            )
        )
    return out
