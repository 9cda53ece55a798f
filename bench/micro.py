"""Library figures (1, 4, 5f, 6b) and the raw-crypto baselines, timeit-style in this process.

- Raw crypto: `cryptography` ECDSA P-256 and Ed25519 verify of the licence's own signing input
  (pre-decoded signature, pre-built key object), a tight loop, one core.
- 1: full `verify_licence` (all checks, no cache, status list referenced), measured interleaved
  with the raw verify it is compared with; best of N repeats each.
- 4: verify time against a huge trust store / status list vs the demo ones; memory per entry.
- 5f: the least a batch item can cost (decode, verify, answer; no check), against the raw
  verify: the ceiling of figure 5.
- 6b: load and verify (from disk, as at start-up) a trust list of 5,000 services.
- 6c: what every verdict pays so that processes may share a trust directory: the check of its
  STAMP with nothing new (TrustStore.refresh), against one raw ECDSA verify (about what a cached
  verdict costs the server in figure 3a)."""

from __future__ import annotations

import gc
import json
import shutil
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from bench import timing
from bench.report import Row, fmt_rate, fmt_s, fmt_us, unavailable


@dataclass
class Settings:
    repeats: int = 20  # many short interleaved samples: the best one dodges load bursts
    target: float = 0.03  # seconds per timed loop
    scale_jurisdictions: int = 100
    scale_services: int = 1000
    scale_keys: int = 5
    status_big: int = 1_000_000
    status_small: int = 1_000
    tl_services: int = 5000
    tl_keys: int = 1
    log: Callable[[str], None] = print


# ---------------------------------------------------------------------------- raw crypto


@dataclass
class RawSample:
    """One signed message and its key, in the form `cryptography` verifies directly."""

    alg: str
    signing_input: bytes
    signature: bytes  # DER for ECDSA, raw for Ed25519
    key: Any

    def verify_once(self) -> None:
        if self.alg == "ES256":
            self.key.verify(self.signature, self.signing_input, _ECDSA)
        else:
            self.key.verify(self.signature, self.signing_input)

    def fn(self) -> Callable[[], object]:
        key, sig, data = self.key, self.signature, self.signing_input
        if self.alg == "ES256":
            algo = _ECDSA
            return lambda: key.verify(sig, data, algo)
        return lambda: key.verify(sig, data)


_ECDSA = ec.ECDSA(hashes.SHA256())


def raw_sample_from_token(token: str, crypto_key: Any, alg: str) -> RawSample:
    """The raw-crypto twin of a compact JWS: same signing input, same key."""
    from keys import b64url_decode

    h, p, s = token.split(".")
    signing_input = f"{h}.{p}".encode("ascii")
    sig = b64url_decode(s)
    if alg == "ES256":
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        sample = RawSample(alg, signing_input, der, crypto_key)
    else:
        sample = RawSample(alg, signing_input, sig, crypto_key)
    sample.verify_once()  # raises if the twin is wrong
    return sample


def synthetic_sample(alg: str, size: int = 600) -> RawSample:
    """A stand-in of licence size, used until a real licence can be issued."""
    data = b"x" * size
    if alg == "ES256":
        k = ec.generate_private_key(ec.SECP256R1())
        return RawSample(alg, data, k.sign(data, _ECDSA), k.public_key())
    e = ed25519.Ed25519PrivateKey.generate()
    return RawSample(alg, data, e.sign(data), e.public_key())


def raw_rates(samples: dict[str, RawSample], s: Settings) -> dict[str, float]:
    """Seconds per raw verify, per alg (best of N, interleaved)."""
    return timing.compare(
        {a: smp.fn() for a, smp in samples.items()}, repeats=s.repeats, target=s.target
    )


def raw_rows(raw: dict[str, float], synthetic: bool) -> list[Row]:
    note = "synthetic 600-byte input (no licence available)" if synthetic else ""
    return [
        Row(
            "b",
            f"baseline: raw {'ECDSA P-256' if a == 'ES256' else 'Ed25519'} verify",
            fmt_rate(1 / t),
            fmt_us(t),
            None,
            "",
            0,
            note=note,
        )
        for a, t in raw.items()
    ]


# ---------------------------------------------------------------------------- figure 1


def library_rows(project: Any, raw: dict[str, float], s: Settings) -> list[Row]:
    """verify_licence vs the raw verify of the same signing input, per algorithm."""
    out: list[Row] = []
    for fig, alg in (("1a", "ES256"), ("1b", "EdDSA")):
        name = f"library verify_licence {alg} (uncached)"
        raw_name = "ECDSA" if alg == "ES256" else "Ed25519"
        try:
            lib = project.library_case(alg)
        except project.Unavailable as exc:
            out.append(unavailable(fig, name, ">=", 0.6, str(exc)))
            continue
        t_raw, t_lib, ratio = timing.paired(
            lib.raw.fn(), lib.call, repeats=s.repeats, target=s.target
        )
        out.append(
            Row(
                fig,
                name,
                f"{fmt_rate(1 / t_lib)} ({fmt_us(t_lib)})",
                f"{fmt_rate(1 / t_raw)} (raw {raw_name})",
                ratio,
                ">=",
                0.6,
                note=_paired_note(lib.note, s.repeats, t_raw / t_lib),
                raw={"lib_s": t_lib, "raw_s": t_raw, "best_ratio": t_raw / t_lib},
            )
        )
        raw[alg] = min(raw.get(alg, t_raw), t_raw)
    return out


def _paired_note(note: str, rounds: int, best_ratio: float) -> str:
    text = f"ratio: median of {rounds} paired rounds (ratio of the bests: {best_ratio:.2f})"
    return f"{note}; {text}" if note else text


# ---------------------------------------------------------------------------- figure 5's floor


def batch_floor_row(project: Any, raw: dict[str, float], s: Settings) -> Row:
    """5f: the least any licence verifier must do per batch item, in this runtime, against the
    raw verify: read the item's JSON, split and decode the compact JWS (its header parsed once
    per distinct header), parse the claims, verify with the verifier's own key object (r||s
    checked and made DER), hash the token, write a small answer. No check, no trust store, no
    HTTP, no client: the highest figure 5 could reach."""
    import hashlib

    import orjson
    from cryptography.exceptions import InvalidSignature

    from keys import b64url_decode as decode  # the verifier's own strict reader

    name = "batch item floor: parse, decode, verify, answer; no checks (for 5)"
    try:
        w = project.world()
    except project.Unavailable as exc:  # informational: not a MISS
        return Row("5f", name, "-", "-", None, "", 0, note=str(exc))
    key = w.issuer["ES256"].public_key  # the verifier's own: length and range checks, r||s to DER
    items = [
        orjson.dumps({"kind": "licence", "token": t, "relying_jurisdiction": w.relying})
        for t in project.pool("ES256")
    ]
    headers: dict[str, object] = {}

    def item(raw_item: Any) -> object:
        token = orjson.loads(raw_item)["token"]
        h, p, sig64 = token.split(".")
        if h not in headers:
            headers[h] = orjson.loads(decode(h))
        claims = orjson.loads(decode(p))
        if not key.verify(decode(sig64), f"{h}.{p}".encode("ascii")):
            raise InvalidSignature(f"the floor's item does not verify: {token[:40]}...")
        digest = hashlib.sha256(token.encode("ascii")).hexdigest()
        answer = {"indication": "PASSED", "document_sha256": digest, "id": claims["lic_no"]}
        return orjson.dumps(answer)

    pub = project._crypto_key(w.issuer["ES256"])
    sample = raw_sample_from_token(project.pool("ES256")[0], pub, "ES256")
    floor = timing.cycling(items, item)  # type: ignore[arg-type]  # bytes are objects
    t_raw, t_floor, ratio = timing.paired(sample.fn(), floor, repeats=s.repeats, target=s.target)
    raw["ES256"] = min(raw.get("ES256", t_raw), t_raw)
    return Row(
        "5f",
        name,
        f"{fmt_rate(1 / t_floor)} ({fmt_us(t_floor)})",
        f"{fmt_rate(1 / t_raw)} (raw ECDSA)",
        ratio,
        "",
        0,
        note="the ceiling of figure 5 before any check, HTTP or client; "
        + _paired_note("", s.repeats, t_raw / t_floor),
        raw={"floor_s": t_floor, "raw_s": t_raw, "best_ratio": t_raw / t_floor},
    )


# ---------------------------------------------------------------------------- figure 4


def scale_rows(project: Any, s: Settings, quick: bool) -> list[Row]:
    out: list[Row] = []
    try:
        out.append(_scale_store(project, s, quick))
    except project.Unavailable as exc:
        out.append(unavailable("4a", "verify with 100x1000x5 trust store", "<=", 1.1, str(exc)))
    try:
        out.extend(_scale_status(project, s))
    except project.Unavailable as exc:
        out.append(unavailable("4b", "status list 1M vs 1k entries", "<=", 1.1, str(exc)))
        out.append(
            unavailable(
                "4c", "status list memory per entry", "<=", 2.0, str(exc), target_text="<= 2 bits"
            )
        )
    return out


def _scale_store(project: Any, s: Settings, quick: bool) -> Row:
    j, n, k = s.scale_jurisdictions, s.scale_services, s.scale_keys
    name = f"verify with {j}x{n:,}x{k} trust store"
    small = project.library_case("ES256")
    t0 = time.perf_counter()
    big = project.library_case("ES256", big_store=(j, n, k))
    built = time.perf_counter() - t0
    s.log(f"  built {j}x{n}x{k} store ({j * n * k:,} keys) in {built:.1f} s")
    t_big, t_small, ratio = timing.paired(big.call, small.call, repeats=s.repeats, target=s.target)
    note = f"store built in {built:.0f} s"
    if quick:
        note += " (quick: reduced store)"
    row = Row(
        "4a",
        name,
        fmt_us(t_big),
        f"{fmt_us(t_small)} (2 demo lists)",
        ratio,
        "<=",
        1.1,
        note=_paired_note(note, s.repeats, t_big / t_small),
        raw={"big_s": t_big, "small_s": t_small, "best_ratio": t_big / t_small},
    )
    del big
    gc.collect()
    return row


def _scale_status(project: Any, s: Settings) -> list[Row]:
    small = project.library_case("ES256", status_entries=s.status_small)
    big = project.library_case("ES256", status_entries=s.status_big)
    t_big, t_small, ratio = timing.paired(big.call, small.call, repeats=s.repeats, target=s.target)
    rows = [
        Row(
            "4b",
            f"status list {s.status_big:,} vs {s.status_small:,} entries",
            fmt_us(t_big),
            f"{fmt_us(t_small)} ({s.status_small:,} entries)",
            ratio,
            "<=",
            1.1,
            note=_paired_note("", s.repeats, t_big / t_small),
            raw={"big_s": t_big, "small_s": t_small, "best_ratio": t_big / t_small},
        )
    ]
    del small, big
    gc.collect()
    mem_big, data_big, token_big = project.status_list_memory(s.status_big)
    mem_small, _, _ = project.status_list_memory(s.status_small)
    per_entry = (mem_big - mem_small) * 8 / (s.status_big - s.status_small)
    array_bits = data_big * 8 / s.status_big
    rows.append(
        Row(
            "4c",
            "status list memory per entry (held in the store)",
            f"{per_entry:.3f} bits",
            f"{mem_big / 1e6:.2f} MB for {s.status_big:,}",
            per_entry / 2.0,
            "<=",
            1.0,
            "<= 2 bits + const",
            note=f"ratio = bits per entry / 2 (tracemalloc: growth of retained memory "
            f"from {s.status_small:,} to {s.status_big:,} entries); the bit array "
            f"is {array_bits:.3f} bits/entry; the signed token ({token_big / 1e3:.1f} kB "
            f"for {s.status_big:,} entries, about 1.2% non-zero) stays on disk, only its "
            "SHA-256 is held",
            raw={"bits_per_entry": per_entry, "bytes_big": mem_big, "bytes_small": mem_small},
        )
    )
    return rows


# ---------------------------------------------------------------------------- figure 6b


def directory_check_row(samples: dict[str, RawSample], s: Settings) -> Row:
    """6c: TrustStore.refresh() with nothing new (one stat) vs the raw ECDSA verify."""
    from trust_lists import TrustDirectory, TrustStore

    name = "shared trust directory check per verdict"
    if "ES256" not in samples:
        return unavailable("6c", name, "<=", 0.05, "no ES256 sample")
    root = Path(tempfile.mkdtemp(prefix="huren-bench-stamp-"))
    try:
        directory = TrustDirectory(root)
        directory.store("catalogue", 1, b"{}")  # any store() writes the STAMP
        store = TrustStore([], directory)
        store.refresh()
        t_check, t_raw, ratio = timing.paired(
            store.refresh, samples["ES256"].fn(), repeats=s.repeats, target=s.target
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return Row(
        "6c",
        name,
        fmt_us(t_check),
        f"{fmt_us(t_raw)} (raw ECDSA verify)",
        ratio,
        "<=",
        0.05,
        note=_paired_note("one stat of STAMP, nothing new to read", s.repeats, t_check / t_raw),
        raw={"check_s": t_check, "raw_s": t_raw},
    )


def trust_list_row(s: Settings) -> Row:
    """Load and verify from disk (TrustStore.load, the start-up path) a signed trust list of
    `tl_services` services with `tl_keys` ES256 keys each; best of N."""
    from bench.synth import filler_service, operator_keys
    from keys import EcP256PublicKey
    from trust_lists import (
        Anchor,
        OperatorPolicy,
        SignedTrustList,
        TrustDirectory,
        TrustList,
        TrustStore,
    )

    n, k = s.tl_services, s.tl_keys
    name = f"load+verify trust list of {n:,} services"
    now = datetime.now(UTC).replace(microsecond=0)
    ops = operator_keys(2)
    t0 = time.perf_counter()
    services = []
    granted = now - timedelta(days=30)
    for i in range(n):
        keys = [
            EcP256PublicKey(ec.generate_private_key(ec.SECP256R1()).public_key()) for _ in range(k)
        ]
        svc = filler_service(f"svc-{i}", k, granted, i, keys=keys)  # type: ignore[arg-type]
        services.append(svc)
    tl = TrustList(
        "440300",
        "深圳",
        "Shenzhen",
        1,
        now - timedelta(minutes=1),
        now + timedelta(days=7),
        OperatorPolicy(tuple(o.public_key for o in ops), 2),
        tuple(services),
    )
    signed = SignedTrustList.create(tl, ops)
    data = signed.to_json()
    anchors = [Anchor("440300", 2, frozenset(o.kid for o in ops), tuple(o.public_key for o in ops))]
    s.log(
        f"  built {n}-service list ({len(data) / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s"
    )
    tmp = Path(tempfile.mkdtemp(prefix="bench-tl-"))
    try:
        store = TrustStore(anchors, TrustDirectory(tmp))
        store.submit_trust_list(data, now=now)

        def load() -> None:
            fresh = TrustStore(anchors, TrustDirectory(tmp))
            problems = fresh.load()
            if problems or fresh.state.trust_list("440300") is None:
                raise RuntimeError(f"reload failed: {problems}")

        def floor() -> None:
            raw = (tmp / "lists" / "440300" / f"{1:016d}.jws").read_bytes()
            doc = json.loads(raw)
            from keys import b64url_decode

            payload = b64url_decode(doc["payload"])
            json.loads(payload)
            for sig in doc["signatures"]:
                b64url_decode(sig["signature"])

        repeats = max(2, min(3, s.repeats))
        best = min(timing.once(load) for _ in range(repeats))
        base = min(timing.once(floor) for _ in range(repeats))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Row(
        "6b",
        name,
        fmt_s(best),
        f"{fmt_s(base)} (read + json.loads)",
        best,
        "<=",
        1.0,
        "< 1 s",
        note=f"{n:,} services x {k} ES256 key(s), 2-of-2 operator signatures, "
        f"{len(data) / 1e6:.1f} MB; TrustStore.load() from disk; best of {repeats}; "
        "ratio column = value in seconds",
        raw={"value_s": best, "floor_s": base},
    )


# ---------------------------------------------------------------------------- memory helper


def retained_bytes(build: Callable[[], object]) -> tuple[int, object]:
    """Bytes still allocated (tracemalloc) after build() returns, and its result."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        obj = build()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return after - before, obj
