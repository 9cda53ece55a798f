"""The bench's one adapter to the project: everything that names verifier/ or api/ lives here, so
a missing or renamed piece becomes `Unavailable` (a MISS with its reason), never a crash."""

from __future__ import annotations

import cProfile
import gc
import io
import json
import pstats
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import micro
from bench.micro import RawSample
from bench.serve import SERVICE_PROTOCOL


class Unavailable(Exception):
    """A component the figure needs is not there (yet), or does not work."""


@dataclass
class LibCase:
    call: Callable[[], object]  # one verify_licence of the next token of a distinct pool
    raw: RawSample  # the same signing input, for `cryptography` directly
    note: str = ""


def _verifier_cls() -> Any:
    try:
        from verifier import Verifier
    except ImportError as exc:
        raise Unavailable(f"verifier not available yet ({exc})") from exc
    return Verifier


class Project:
    Unavailable = Unavailable

    def __init__(
        self, work: Path, *, log: Callable[[str], None] = print, quick: bool = False
    ) -> None:
        self.work = work
        self.log = log
        self.quick = quick
        self._world: Any = None
        self._pools: dict[str, list[str]] = {}
        self._demo: Any = None

    # -- the bench world -------------------------------------------------------------------

    def world(self) -> Any:
        if self._world is None:
            try:
                from bench.world import World

                self._world = World()
            except ImportError as exc:
                raise Unavailable(f"demo.world not available yet ({exc})") from exc
        return self._world

    def pool(self, alg: str, n: int = 400) -> list[str]:
        if alg not in self._pools:
            w = self.world()
            self._pools[alg] = [w.licence(alg, i) for i in range(n)]
        return self._pools[alg]

    @staticmethod
    def _crypto_key(signing_key: Any) -> Any:
        return signing_key.public_key._key  # the `cryptography` object inside keys.PublicKey

    def raw_samples(self) -> tuple[dict[str, RawSample], bool]:
        """Raw-crypto samples over a real licence's signing input, or synthetic ones."""
        try:
            w = self.world()
            return {
                alg: micro.raw_sample_from_token(
                    self.pool(alg)[0], self._crypto_key(w.issuer[alg]), alg
                )
                for alg in ("ES256", "EdDSA")
            }, False
        except Unavailable:
            return {a: micro.synthetic_sample(a) for a in ("ES256", "EdDSA")}, True

    # -- figure 1 and 4 --------------------------------------------------------------------

    def library_case(
        self,
        alg: str,
        *,
        big_store: tuple[int, int, int] | None = None,
        status_entries: int | None = None,
    ) -> LibCase:
        Verifier = _verifier_cls()
        w = self.world()
        relying = w.relying
        note = "demo store + one EdDSA key on the Shenzhen issuer" if alg == "EdDSA" else ""
        extra = self._filler_lists(*big_store) if big_store is not None else None
        store = w.store(eddsa=alg == "EdDSA", status_entries=status_entries, extra=extra)
        verifier = Verifier(store)
        tokens = self.pool(alg)
        first = verifier.verify_licence(tokens[0], relying)
        if first.indication.value != "PASSED":
            failed = [c.code for c in first.checks if c.result.value != "PASSED"]
            raise Unavailable(
                f"the bench licence does not verify: {first.indication.value} "
                f"{first.sub_indication} {failed}"
            )
        verify = verifier.verify_licence
        it = iter(())

        def call() -> object:
            nonlocal it
            try:
                tok = next(it)
            except StopIteration:
                it = iter(tokens)
                tok = next(it)
            return verify(tok, relying)

        raw = micro.raw_sample_from_token(tokens[0], self._crypto_key(w.issuer[alg]), alg)
        return LibCase(call, raw, note)

    def _filler_lists(self, jurisdictions: int, services: int, keys: int) -> list[Any]:
        """The demo's two lists padded to `services` services, plus `jurisdictions - 2` filler
        lists, every filler service with `keys` keys. Filler codes sort on both sides of the
        demo's, so the demo lists sit in the middle of every ordered structure."""
        from datetime import timedelta

        from bench import synth
        from trust_lists.model import replace_services

        w = self.world()
        op = synth.filler_key()
        issued = w.now - timedelta(hours=1)
        n_low = (jurisdictions - 2) // 2
        codes = [f"{110101 + i}" for i in range(n_low)]
        codes += [f"{510101 + i}" for i in range(jurisdictions - 2 - n_low)]
        out = [synth.filler_list(c, services, keys, issued, [op]) for c in codes]
        for code, tl in w.demo.trust_lists.items():
            pad = [
                synth.filler_service(f"pad-{code}-{i}", keys, issued - timedelta(days=30), i)
                for i in range(services - len(tl.services))
            ]
            out.append(replace_services(tl, (*tl.services, *pad)))
        return out

    def status_list_memory(self, entries: int) -> tuple[int, int, int]:
        """Bytes the store retains for a status list of `entries` (tracemalloc), with the sizes
        of its bit array and of the token string it holds."""
        w = self.world()
        w.store(status_entries=entries)  # warm every code path (and the token cache) first
        token = w.status_token(entries)
        store = w.store()
        gc.collect()

        def build() -> object:
            fresh = (token + " ")[:-1]  # a new string, as read from disk or the network
            store.submit_status_list(fresh, now=w.now)
            return None

        retained, _ = micro.retained_bytes(build)
        held = store.state.status_lists[w.status_uri].status_list
        return retained, len(held.data), len(token)  # the token is on disk, not held

    # -- profile ---------------------------------------------------------------------------

    def profile(self, seconds: float) -> str:
        """Where verify_licence (ES256, demo-sized store) spends its time: pyinstrument (sampling,
        little distortion) when installed, else cProfile. Top 10 functions by own time, and the
        inclusive time of each step verify_licence calls."""
        case = self.library_case("ES256")
        try:
            from pyinstrument import Profiler
        except ImportError:
            return self._cprofile(case, seconds)
        prof = Profiler(interval=0.0005)
        n = 0
        deadline = time.perf_counter() + seconds
        prof.start()
        while time.perf_counter() < deadline:
            for _ in range(100):
                case.call()
            n += 100
        prof.stop()
        root = prof.last_session.root_frame()
        own: dict[tuple[str, str, int], float] = {}
        incl: dict[tuple[str, str, int], float] = {}

        def walk(
            frame: Any, parent: tuple[str, str, int] | None, stack: frozenset[tuple[str, str, int]]
        ) -> None:
            if frame.is_synthetic or (frame.function or "").startswith("["):
                if parent is not None:  # "[self]" and the like: own time of the parent
                    own[parent] = own.get(parent, 0.0) + frame.time
                return
            key = (frame.function or "?", _short(frame.file_path or "?"), frame.line_no or 0)
            child_time = sum(c.time for c in frame.children)
            own[key] = own.get(key, 0.0) + max(frame.time - child_time, 0.0)
            if key not in stack:
                incl[key] = incl.get(key, 0.0) + frame.time
            for c in frame.children:
                walk(c, key, stack | {key})

        walk(root, None, frozenset())
        verify_total = sum(
            t for k, t in incl.items() if k[0] == "verify_licence" and k[1].startswith("verifier/")
        )
        if verify_total <= 0:
            return "profile: no samples inside verify_licence"
        lines = [
            f"profile (pyinstrument, sampling every 0.5 ms): verify_licence ES256, {n:,} "
            f"calls, {verify_total / n * 1e6:,.1f} us/call while profiled",
            "top 10 functions by own time (share of verify_licence):",
        ]
        for (func, file, line), t in sorted(own.items(), key=lambda kv: -kv[1])[:10]:
            lines.append(
                f"  {t / verify_total:6.1%}  {t / n * 1e6:7.1f} us  {func} ({file}:{line})"
            )
        lines.append("project functions by inclusive time:")
        project = [
            (k, t)
            for k, t in incl.items()
            if k[1].split("/", 1)[0] in ("verifier", "keys", "trust_lists")
        ]
        for (func, file, line), t in sorted(project, key=lambda kv: -kv[1])[:14]:
            lines.append(
                f"  {t / verify_total:6.1%}  {t / n * 1e6:7.1f} us  {func} ({file}:{line})"
            )
        lines += self._steps()
        return "\n".join(lines)

    def _steps(self) -> list[str]:
        """Undistorted timings (best of 5) of the building blocks, on the same licence."""
        import json as _json

        from bench import timing
        from keys import CompactJWS
        from keys.encoding import _depth, strict_json_loads
        from trust_lists.uscc import is_valid_uscc

        w = self.world()
        token = self.pool("ES256")[0]
        raw = token.encode()
        pub = w.issuer["ES256"].public_key
        jws = CompactJWS.parse(raw, max_bytes=65536)
        payload = jws.payload
        claims = jws.payload_json(65536)
        value = _json.loads(payload)
        sample = micro.raw_sample_from_token(token, self._crypto_key(w.issuer["ES256"]), "ES256")
        fns: dict[str, Callable[[], object]] = {
            "raw ECDSA verify (cryptography, DER)": sample.fn(),
            "keys EcP256PublicKey.verify (r||s -> DER + verify)": lambda: pub.verify(
                jws.signature, jws.signing_input
            ),
            "CompactJWS.parse (b64 x3, header JSON, checks)": lambda: CompactJWS.parse(
                raw, max_bytes=65536
            ),
            "payload_json (strict_json_loads of the claims)": lambda: jws.payload_json(65536),
            "json.loads of the claims alone": lambda: _json.loads(payload),
            "keys.encoding._depth walk of the claims, alone": lambda: _depth(value, 32),
            "parse_licence_claims": lambda: _parse_licence(claims),
            "is_valid_uscc (holder)": lambda: is_valid_uscc(claims["holder"]["uscc"]),
        }
        try:
            from verifier import Verifier

            store = w.store()
            v = Verifier(store)
            verdict = v.verify_licence(token, w.relying)
            fns["full verify_licence"] = lambda: v.verify_licence(token, w.relying)
            fns["Verdict.to_dict (the service's JSON)"] = verdict.to_dict
        except Exception:
            pass
        del strict_json_loads
        res = timing.compare(fns, repeats=5, target=0.05)
        out = ["building blocks, timed alone (best of 5, no profiler):"]
        out += [f"  {t * 1e6:8.1f} us  {name}" for name, t in res.items()]
        return out

    def _cprofile(self, case: LibCase, seconds: float) -> str:
        pr = cProfile.Profile()
        n = 0
        deadline = time.perf_counter() + seconds
        pr.enable()
        while time.perf_counter() < deadline:
            for _ in range(200):
                case.call()
            n += 200
        pr.disable()
        st = pstats.Stats(pr)
        stats: dict[Any, Any] = st.stats  # type: ignore[attr-defined]
        total = sum(v[2] for v in stats.values())
        rows = sorted(stats.items(), key=lambda kv: -kv[1][2])
        lines = [
            f"profile (cProfile): verify_licence ES256, {n:,} calls "
            f"({total / n * 1e6:,.1f} us/call profiled; cProfile inflates Python-heavy "
            "code, so read shares, not absolute times)",
            "top 10 functions by own time:",
        ]
        for (file, line, func), (_cc, nc, tt, _ct, _callers) in rows[:10]:
            lines.append(
                f"  {tt / total:6.1%}  {tt / n * 1e6:7.2f} us/call  {nc / n:6.1f} "
                f"calls/verify  {func} ({_short(file)}:{line})"
            )
        buf = io.StringIO()
        pstats.Stats(pr, stream=buf).sort_stats("cumulative").print_stats(25)
        (self.work / "profile-cumulative.txt").write_text(buf.getvalue())
        return "\n".join(lines)

    # -- the service -----------------------------------------------------------------------

    def service_spec(self, *, n_tokens: int, n_warm: int) -> Any:
        """How to run the service: its ASGI factory, a config directory, API key, endpoints and
        `n_tokens` distinct licences (more than the in-process LRU holds, so cycling them never
        hits) plus `n_warm` for warm-up."""
        from bench.http import ServiceSpec

        try:
            import api.server  # noqa: F401
        except ImportError as exc:
            raise Unavailable(f"api.server not available yet ({exc})") from exc
        config, secret, issue, relying, pem, source, api_key = self._service_config()
        self.log(f"  service config from {source}; issuing {n_tokens + n_warm:,} licences")
        t0 = time.perf_counter()
        tokens = [issue(i) for i in range(n_tokens + n_warm)]
        self.log(f"  issued in {time.perf_counter() - t0:.1f} s")

        def licence_body(token: str) -> bytes:
            return json.dumps(
                {"token": token, "relying_jurisdiction": relying}, separators=(",", ":")
            ).encode()

        def batch_body(group: list[str]) -> bytes:
            return json.dumps(
                {
                    "items": [
                        {"kind": "licence", "token": t, "relying_jurisdiction": relying}
                        for t in group
                    ]
                },
                separators=(",", ":"),
            ).encode()

        def check_licence(status: int, body: bytes) -> str | None:
            if status != 200:
                return f"HTTP {status}: {body[:300]!r}"
            try:
                doc = json.loads(body)
            except ValueError:
                return f"not JSON: {body[:200]!r}"
            ind = _find_indication(doc)
            return None if ind == "PASSED" else f"verdict {ind}: {body[:300]!r}"

        def check_batch(status: int, body: bytes, n: int) -> str | None:
            if status != 200:
                return f"HTTP {status}: {body[:300]!r}"
            text = body.decode("utf-8", "replace")
            passed = text.count('"indication":"PASSED"') + text.count('"indication": "PASSED"')
            return None if passed >= n else f"{passed} of {n} PASSED: {body[:300]!r}"

        env = {
            "HUREN_CONFIG": str(config),
            "HUREN_CACHE_SECRET": secret,  # shared by the workers, so Redis entries are shared
        }
        spec = ServiceSpec(
            app="api.server:app_from_env",
            http=SERVICE_PROTOCOL,
            env=env,
            readyz="/readyz",
            licence_path="/v1/licences/verify",
            licence_body=licence_body,
            batch_path="/v1/verify/batch",
            batch_body=batch_body,
            headers={"Authorization": f"Bearer {api_key}"},
            check_licence=check_licence,
            check_batch=check_batch,
            tokens=tokens[n_warm:],
            warm_tokens=tokens[:n_warm],
        )
        spec.naive_key_pem = pem  # type: ignore[attr-defined]
        return spec

    def _service_config(self) -> tuple[Path, str, Callable[[int], str], str, Path, str, str]:
        """(huren.json, cache secret, licence issuer, relying jurisdiction, issuer public PEM,
        where it came from, counter API key): the demo world written by demo.world.write_demo."""
        from cryptography.hazmat.primitives import serialization

        try:
            from demo.world import write_demo
        except ImportError as exc:
            raise Unavailable(f"demo.world not available yet ({exc})") from exc
        w = self.world()
        d = self.work / "demo"
        if not (d / "huren.json").exists():
            write_demo(d, w.demo)
        secret = "bench-cache-secret-0123456789abcdef"
        api_key = ""
        for line in (d / "demo-credentials.txt").read_text().splitlines():
            parts = line.split("\t")
            if len(parts) == 3 and parts[1] == "counter":
                api_key = parts[2]
        if not api_key:
            raise Unavailable("no counter key in demo-credentials.txt")
        pem = d / "bench-issuer-public.pem"
        pem.write_bytes(
            self._crypto_key(w.issuer["ES256"]).public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        return (
            d / "huren.json",
            secret,
            lambda i: w.licence("ES256", 100_000 + i),
            w.relying,
            pem,
            "demo.world (write_demo)",
            api_key,
        )

    def naive_material(self, spec: Any) -> tuple[Path | None, list[str], list[str]]:
        """The key PEM and tokens for the naive peer: the service's own licence tokens and
        issuer key when the service is there, else the bench world's."""
        from cryptography.hazmat.primitives import serialization

        if spec is not None and getattr(spec, "naive_key_pem", None):
            return spec.naive_key_pem, spec.tokens, spec.warm_tokens
        try:
            w = self.world()
        except Unavailable:
            return None, [], []
        pem = self.work / "naive-key.pem"
        pem.write_bytes(
            self._crypto_key(w.issuer["ES256"]).public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        n = 3000 if self.quick else 6000
        self.log(f"  issuing {n:,} licences for the naive peer")
        tokens = [w.licence("ES256", 10_000 + i) for i in range(n)]
        return pem, tokens[500:], tokens[:500]


def _find_indication(doc: Any) -> str | None:
    if isinstance(doc, dict):
        if isinstance(doc.get("indication"), str):
            return str(doc["indication"])
        for v in doc.values():
            found = _find_indication(v)
            if found:
                return found
    return None


def _parse_licence(claims: dict[str, Any]) -> object:
    from verifier.formats import parse_licence_claims

    return parse_licence_claims(claims)


def _short(file: str) -> str:
    for marker in ("/work/main/", "site-packages/", "lib/python3"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


__all__ = ["LibCase", "Project", "Unavailable"]
