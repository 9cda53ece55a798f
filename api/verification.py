"""The verification path: hash the exact input bytes, key the verdict cache with every input and
the trust-state version, serve a hit, or compute once per key (single flight) and cache it for as
long as the verdict can stay true.

Cache policy (see docs/service.md):
- key = kind (prefixed "national:" for GB/T 38540 seals and OFD files: the same bytes uploaded
  as a JWS are another question), SHA-256 of the exact input bytes (several inputs: the
  verifier's inputs_digest, which is also Verdict.document_sha256), relying jurisdiction, the
  validation time or "now",
  the expectations and `store.state.version`; any accepted trust change makes a new version, so
  no verdict computed under older trust state can be served;
- TTL = min(valid_until - now, cache_max_ttl_seconds); valid_until None means no change of time
  can change the verdict, so it is cached for the maximum TTL; TTL <= 0 is not cached;
- a verdict for "now" served from the cache keeps its original validation_time (the verdict is
  the same until valid_until, which bounds the TTL), and a hit past its valid_until is ignored;
- a verdict computed under another trust version than the key's is not cached."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from api.http.problems import ProblemError
from api.obs.metrics import Metrics
from api.state.cache import (
    KEY_PREFIX,
    KEY_SALT,
    CachedVerdict,
    InProcessVerdictCache,
    SingleFlight,
    VerdictCache,
    cache_key,
)
from api.workers import VerificationPool, let_others_run
from keys.frozen import positional_maker
from trust_lists import TrustStore
from trust_lists.timeutil import format_time
from verifier import (
    DocumentKind,
    Expectations,
    NationalFormat,
    UnknownServiceItem,
    VerificationInputError,
    VerificationRequest,
    Verifier,
    deadline,
)
from verifier.verdict import Verdict
from verifier.verifier import inputs_digest

log = logging.getLogger("huren.verification")

# A batch with fewer distinct misses than twice this is verified in one worker thread: below it
# the hand-over to a second thread costs more than it saves.
BATCH_SPLIT_MIN = 32
# Batch items per turn of the event loop where a batch is served on it (cache hits, answers):
# about a millisecond, so a batch of 10,000 never holds other requests for long.
BATCH_SLICE = 256


@dataclass(frozen=True, slots=True)
class VerifyInput:
    """A verification as the service asks it: `kind` is the endpoint's (licence, seal, sealed
    document), the expectations are the API's fields; `request()` is the verifier's question."""

    kind: DocumentKind
    token: bytes  # the licence or seal token, or the sealed document's signature
    relying: str
    at: datetime | None  # None: now
    holder_credit_code: str | None = None
    type_code: str | None = None
    service_item: str | None = None  # the service item asked about (Expectations.service_item)
    document: bytes | None = None  # sealed documents; the data a national .dat signs
    image: bytes | None = None  # seals, and the seal of a sealed document
    seal: bytes | None = None  # sealed documents whose signature only references the seal
    # token is a national file, not a compact JWS (api/http/uploads.py): its format
    national: NationalFormat | None = None

    @property
    def parts(self) -> list[tuple[str, bytes]]:
        """The inputs in the verifier's order (Verdict.document_sha256 is their digest)."""
        if self.national:
            if self.document is not None:  # an SES_Signature and the data it signs
                return [("signed_value", self.token), ("signature_xml", self.document)]
            return [("token", self.token)]
        if self.kind == DocumentKind.SEALED_DOCUMENT:
            assert self.document is not None
            parts = [("document", self.document), ("signature", self.token)]
            if self.seal is not None:
                parts.append(("seal", self.seal))
        else:
            parts = [("token", self.token)]
        if self.image is not None:
            parts.append(("image", self.image))
        return parts

    @property
    def cache_kind(self) -> str:
        """The kind as the verdict cache keys it: the same bytes are a different question as a
        GB/T 38540 / OFD file than as a JWS (which one is asked depends on the upload's type)."""
        return f"national:{self.kind}" if self.national else str(self.kind)  # a plain str

    @property
    def input_sha256(self) -> str:
        """SHA-256 naming the exact input bytes, as the verifier computes document_sha256."""
        if self.image is None and self.document is None and self.kind != _SEALED:
            return hashlib.sha256(self.token).hexdigest()  # `parts` is the token alone
        return inputs_digest(self.parts)

    @property
    def at_text(self) -> str | None:
        return None if self.at is None else self.at.astimezone(UTC).isoformat()

    @property
    def expectations(self) -> dict[str, str | None]:
        """Keyed into the verdict cache and signed into receipts (request_sha256)."""
        return {
            "holder_credit_code": self.holder_credit_code,
            "type_code": self.type_code,
            "service_item": self.service_item,
        }

    def request(self) -> VerificationRequest:
        """The verifier's question: the API's type_code is a licence type on the licence
        endpoint, a seal type on the others."""
        expect = None
        if (
            self.holder_credit_code is not None
            or self.type_code is not None
            or self.service_item is not None
        ):
            licence = self.kind == DocumentKind.LICENCE
            expect = Expectations(
                holder_id=self.holder_credit_code,
                licence_type=self.type_code if licence else None,
                seal_type=None if licence else self.type_code,
                service_item=self.service_item,
            )
        return _make_request(
            self.kind, self.token, self.relying, self.at, expect, self.document, self.image,
            self.seal, self.national, _DATA_NAME,
        )  # fmt: skip

    def request_sha256(self, input_sha256: str) -> str:
        """Digest of the whole request, signed into receipts."""
        material = {
            "kind": self.kind,
            "input_sha256": input_sha256,
            "relying_jurisdiction": self.relying,
            "validation_time": self.at_text,
            "expect": self.expectations,
        }
        data = json.dumps(material, sort_keys=True, separators=(",", ":")).encode("utf-8")
        return hashlib.sha256(data).hexdigest()


_SEALED = DocumentKind.SEALED_DOCUMENT
_SECOND = timedelta(seconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LAST_SECOND = datetime.max.replace(microsecond=0, tzinfo=UTC)

# Positional makers (keys/frozen.py): a request builds both, a batch one of each per item.
make_input = positional_maker(VerifyInput)
_make_request = positional_maker(VerificationRequest)
_DATA_NAME = VerificationRequest.__dataclass_fields__["data_name"].default


class Outcome:
    """A verification's answer: the cached form of the verdict (its JSON bytes and meta fields),
    whether it came from the cache, and the digest naming the input."""

    __slots__ = ("_verdict", "cached", "entry", "input_sha256")

    def __init__(self, entry: CachedVerdict, cached: bool, input_sha256: str) -> None:
        self.entry = entry
        self.cached = cached
        self.input_sha256 = input_sha256
        self._verdict: dict[str, Any] | None = None

    @property
    def verdict(self) -> dict[str, Any]:
        """Verdict.to_dict(), decoded on first use; shared, never mutate."""
        if self._verdict is None:
            self._verdict = self.entry.verdict()
        return self._verdict


class _KeyTemplate:
    """`cache_key` for one question asked of many documents: the key's JSON with the place of
    the document's digest left open (a hex digest is written as it is), hashed up to there
    once. Made only when it gives `cache_key`'s key for the first document."""

    __slots__ = ("_head", "_tail")

    def __init__(self, head: hashlib._Hash, tail: bytes) -> None:
        self._head = head  # hashlib state after the salt and the JSON before the digest
        self._tail = tail

    def key(self, digest: str) -> str:
        h = self._head.copy()
        h.update(digest.encode("ascii") + self._tail)
        return KEY_PREFIX + h.hexdigest()

    @classmethod
    def of(cls, inp: VerifyInput, version: str, digest: str, key: str) -> _KeyTemplate | None:
        """The template of `inp`'s question, if it reproduces `key` (cache_key's, for digest)."""
        values = (inp.cache_kind, inp.relying, inp.at_text, version, *inp.expectations.values())
        if not all(v is None or type(v) is str for v in values):
            return None  # cache_key's other encoding
        doc = {
            "kind": inp.cache_kind,
            "document_sha256": _OPEN,
            "relying": inp.relying,
            "at": inp.at_text,
            "expectations": inp.expectations,
            "trust_version": version,
        }
        head, open_, tail = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS).partition(_OPEN_JSON)
        if not open_ or _OPEN_JSON in tail:
            return None
        template = cls(hashlib.sha256(KEY_SALT + head + b'"'), b'"' + tail)
        return template if template.key(digest) == key else None


_OPEN = "<document_sha256>"  # no field of a question holds "<"
_OPEN_JSON = orjson.dumps(_OPEN)
_UNSEEN: Any = object()  # a question not met yet (None: met, and it has no template)
# Templates of the plain question (kind, format, relying jurisdiction, trust version) a service
# keeps: a handful in practice; all are dropped when more accumulate (old trust versions).
PLAIN_TEMPLATES_MAX = 64


class VerificationService:
    def __init__(
        self,
        *,
        store: TrustStore,
        verifier: Verifier,
        cache: VerdictCache,
        flight: SingleFlight,
        metrics: Metrics,
        clock: Callable[[], datetime],
        max_ttl_seconds: float,
        pool: VerificationPool | None = None,
    ) -> None:
        self.store = store
        self.verifier = verifier  # the one entry: JWS and national formats
        self.cache = cache
        self.flight = flight
        self.metrics = metrics
        self.clock = clock
        self.max_ttl_seconds = max_ttl_seconds
        self.pool = pool  # national formats and batches are verified there (api/workers.py)
        self._hit = metrics.cache.labels("hit")
        self._miss = metrics.cache.labels("miss")
        self._error = metrics.cache.labels("error")
        # Labelled children, looked up once: labels() takes a lock and validates every time.
        self._latency: dict[str, Any] = {}
        self._verdicts: dict[tuple[str, str, str], Any] = {}
        self._templates: dict[tuple[Any, ...], _KeyTemplate | None] = {}  # see _key
        self._second = (_EPOCH, _EPOCH, "")  # [start, end) of the second _now_text names

    def check_relying(self, relying: str) -> None:
        if relying not in self.store.anchors:
            raise ProblemError(
                422,
                "unknown_jurisdiction",
                f"relying jurisdiction {relying} is not configured on this service "
                f"(configured: {', '.join(self.store.jurisdictions)})",
            )

    def check_item(self, relying: str, code: str | None) -> None:
        """A 422 for a service item the held catalogue does not list for `relying` (the verifier
        refuses it too, should the catalogue change in between). With no catalogue held the
        verdict says so (INDETERMINATE), as without an item."""
        if code is None:
            return
        signed = self.store.state.catalogue
        if signed is not None and signed.catalogue.item(relying, code) is None:
            raise _unknown_item(
                f"the recognition catalogue (version {signed.catalogue.sequence}) lists no "
                f"service item {code} for {relying} (search: GET /v1/catalogue/items"
                f"?relying={relying}&q=...)"
            )

    def _key(
        self,
        inp: VerifyInput,
        digest: str,
        version: str,
        batch: dict[tuple[Any, ...], _KeyTemplate | None] | None = None,
    ) -> str:
        """cache_key's key, through the `_KeyTemplate` of its question when one is kept: one
        copy of a hash state instead of the key's JSON and its SHA-256 from the start. The plain
        question (no validation time, no expectations), nearly every request's, has its template
        kept by the service per trust version; any other question only within one batch
        (`batch`: that batch's templates), since its validation time or expectations vary."""
        question: tuple[Any, ...]
        if (
            inp.at is None
            and inp.holder_credit_code is None
            and inp.type_code is None
            and inp.service_item is None
        ):
            kept, question = self._templates, (inp.kind, inp.national, inp.relying, version)
        elif batch is not None:
            kept = batch
            question = (inp.cache_kind, inp.relying, inp.at_text, inp.holder_credit_code,
                        inp.type_code, inp.service_item)  # fmt: skip
        else:
            return self._cache_key(inp, digest, version)
        template: _KeyTemplate | None = kept.get(question, _UNSEEN)
        if template is _UNSEEN:
            key = self._cache_key(inp, digest, version)
            if kept is self._templates and len(kept) >= PLAIN_TEMPLATES_MAX:
                kept.clear()
            kept[question] = _KeyTemplate.of(inp, version, digest, key)
            return key
        if template is not None:
            return template.key(digest)
        return self._cache_key(inp, digest, version)

    @staticmethod
    def _cache_key(inp: VerifyInput, digest: str, version: str) -> str:
        return cache_key(
            kind=inp.cache_kind,
            document_sha256=digest,
            relying=inp.relying,
            at=inp.at_text,
            expectations=inp.expectations,
            trust_version=version,
        )

    async def verify(self, inp: VerifyInput, *, detailed: bool = True) -> Outcome:
        """The verdict, from the cache or computed; national formats in the worker pool.
        `detailed`: the answer reads the detailed report (a detailed answer, a receipt)."""
        self.check_relying(inp.relying)
        self.check_item(inp.relying, inp.service_item)
        digest = inp.input_sha256
        version = self.store.state.version
        key = self._key(inp, digest, version)
        cache = self.cache
        pool = self.pool if inp.national else None
        if pool is None and isinstance(cache, InProcessVerdictCache) and cache.synchronous:
            # Nothing below suspends, so no other request can miss the same key meanwhile: no
            # single flight (and no task) needed.
            hit = self._usable(cache.lookup(key))
            if hit is None:
                self._miss.inc()
                # Only a hit at the detailed level renders it, if ever.
                entry, ttl = self._compute(inp, version, detailed=detailed)
                if ttl > 0:
                    cache.store(key, entry, ttl)
                return self._outcome(inp, entry, False, digest)
        else:
            hit = await self._get(key)
        if hit is not None:
            self._hit.inc()
            return self._outcome(inp, hit, True, digest)
        self._miss.inc()

        async def compute() -> CachedVerdict:
            if pool is None:
                entry, ttl = self._compute(inp, version)
            else:
                entry, ttl = await pool.run(pool.deadline(), self._compute, inp, version)
            await self._store(key, entry, ttl)
            return entry

        return self._outcome(inp, await self.flight.run(key, compute), False, digest)

    async def verify_batch(self, inputs: list[VerifyInput], until: float | None) -> list[Outcome]:
        """A batch's verdicts in order, as one loop: every key looked up first, the distinct
        misses verified back to back in the worker pool (split over its threads, one admission,
        answered by `until`), stored, and every outcome counted once per label. A repeated item
        is verified once; its copies are answered as served from the cache (when its verdict may
        be cached at all)."""
        version = self.store.state.version
        if until is None or self.pool is None:  # a service built without a pool
            digests, keys = self._keys(inputs, version)
        else:  # hashing every item: off the event loop
            digests, keys = await self.pool.run(until, self._keys, inputs, version)
        cache = self.cache
        synchronous = isinstance(cache, InProcessVerdictCache) and cache.synchronous
        hits: list[CachedVerdict | None] = []
        for start in range(0, len(keys), BATCH_SLICE):
            if start:
                await asyncio.sleep(0)
            if synchronous:
                assert isinstance(cache, InProcessVerdictCache)
                hits += [self._usable(cache.lookup(k)) for k in keys[start : start + BATCH_SLICE]]
            else:
                hits += [await self._get(k) for k in keys[start : start + BATCH_SLICE]]
        first: dict[str, int] = {}  # the item that computes each missed key
        for i, hit in enumerate(hits):
            if hit is None:
                first.setdefault(keys[i], i)
        todo = [inputs[i] for i in first.values()]
        computed: list[tuple[CachedVerdict, float]] = []
        if until is None or self.pool is None:  # a service built without a pool
            computed = self._compute_all(todo, version)
        elif todo:
            parts = self.pool.workers if len(todo) >= 2 * BATCH_SPLIT_MIN else 1
            size = -(-len(todo) // parts)
            calls = [(todo[n : n + size], version) for n in range(0, len(todo), size)]
            for part in await self.pool.map(until, self._compute_all, calls):
                computed.extend(part)
        fresh = dict(zip(first.values(), computed, strict=True))
        outcomes: list[Outcome] = []
        tally: dict[tuple[Any, str | None, str | None], int] = {}  # verdicts by what labels them
        hit_count = 0
        for start in range(0, len(inputs), BATCH_SLICE):
            if start:
                await asyncio.sleep(0)
            for i in range(start, min(start + BATCH_SLICE, len(inputs))):
                entry = hits[i]
                if entry is None:
                    key = keys[i]
                    origin = first[key]
                    entry, ttl = fresh[origin]
                    if origin == i:
                        cached = False
                        if ttl > 0:
                            if synchronous:
                                cache.store(key, entry, ttl)  # type: ignore[attr-defined]
                            else:
                                await self._store(key, entry, ttl)
                    else:
                        cached = ttl > 0  # as the cache would have served it
                else:
                    cached = True
                hit_count += cached
                labels = (inputs[i].kind, entry.indication, entry.sub_indication)
                tally[labels] = tally.get(labels, 0) + 1
                outcomes.append(Outcome(entry, cached, digests[i]))
        self._hit.inc(hit_count)
        self._miss.inc(len(inputs) - hit_count)
        for (kind, indication, sub_indication), n in tally.items():
            self._verdict_child((str(kind), str(indication), sub_indication or "")).inc(n)
        return outcomes

    def _keys(self, inputs: list[VerifyInput], version: str) -> tuple[list[str], list[str]]:
        """Each input's digest and verdict-cache key under trust state `version` (in the pool:
        a slice at a time, the GIL given up between). Inputs that differ only in their document
        (the usual batch) share a `_KeyTemplate` (see _key)."""
        digests: list[str] = []
        keys: list[str] = []
        templates: dict[tuple[Any, ...], _KeyTemplate | None] = {}
        for start in range(0, len(inputs), BATCH_SLICE):
            if start:
                let_others_run()
            for inp in inputs[start : start + BATCH_SLICE]:
                digest = inp.input_sha256
                digests.append(digest)
                keys.append(self._key(inp, digest, version, templates))
        return digests, keys

    def _compute_all(
        self, inputs: list[VerifyInput], version: str
    ) -> list[tuple[CachedVerdict, float]]:
        out = []
        for inp in inputs:
            deadline.check()  # between items: a batch given up on stops here
            out.append(self._compute(inp, version))
        return out

    async def _store(self, key: str, entry: CachedVerdict, ttl: float) -> None:
        if ttl > 0:
            try:
                await self.cache.set_entry(key, entry, ttl)
            except Exception as exc:  # a cache must never fail a verification
                self._error.inc()
                log.warning("verdict cache set failed: %s: %s", type(exc).__name__, exc)

    def _outcome(
        self, inp: VerifyInput, entry: CachedVerdict, cached: bool, digest: str
    ) -> Outcome:
        self._verdict_child((inp.kind, str(entry.indication), entry.sub_indication or "")).inc()
        return Outcome(entry, cached, digest)

    def _verdict_child(self, labels: tuple[str, str, str]) -> Any:
        child = self._verdicts.get(labels)
        if child is None:
            child = self.metrics.verdicts.labels(*labels)
            if len(self._verdicts) < 1024:  # kinds x indications x sub-indications: a few dozen
                self._verdicts[labels] = child
        return child

    def _usable(self, hit: CachedVerdict | None) -> CachedVerdict | None:
        # RFC 3339 'YYYY-MM-DDTHH:MM:SSZ' strings compare in time order.
        if hit is None or hit.indication is None:
            return None
        if hit.valid_until is not None and hit.valid_until <= self._now_text():
            return None
        return hit

    def _now_text(self) -> str:
        """format_time(self.clock()), made once per second: the text names the whole UTC second,
        so every instant from that second's start to the next has it."""
        now = self.clock()
        start, end, text = self._second
        if not start <= now < end:
            text = format_time(now)
            start = now.astimezone(UTC).replace(microsecond=0)
            if start < _LAST_SECOND:  # datetime's last second has no end to remember
                self._second = (start, start + _SECOND, text)
        return text

    async def _get(self, key: str) -> CachedVerdict | None:
        try:
            hit = await self.cache.get_entry(key)
        except Exception as exc:  # a cache must never fail a verification
            self._error.inc()
            log.warning("verdict cache get failed: %s: %s", type(exc).__name__, exc)
            return None
        return self._usable(hit)

    def _compute(
        self, inp: VerifyInput, version: str, *, detailed: bool = True
    ) -> tuple[CachedVerdict, float]:
        """The verdict and how long it may be cached (<= 0: not at all); `detailed`: its
        detailed report rendered now (CachedVerdict.from_verdict)."""
        started = time.perf_counter()
        verdict = self._call(inp)
        latency = self._latency.get(inp.kind)
        if latency is None:
            latency = self._latency[inp.kind] = self.metrics.latency.labels(inp.kind)
        latency.observe(time.perf_counter() - started)
        entry = CachedVerdict.from_verdict(verdict, detailed=detailed)
        now = self.clock()
        ttl = float(self.max_ttl_seconds)
        if verdict.valid_until is not None:
            ttl = min(ttl, (verdict.valid_until - now).total_seconds())
        if verdict.trust.trust_state_version != version:
            ttl = 0.0  # judged under a newer trust state than the key names
        return entry, ttl

    def _call(self, inp: VerifyInput) -> Verdict:
        try:
            return self.verifier.verify(inp.request())
        except UnknownServiceItem as exc:
            raise _unknown_item(str(exc)) from exc
        except VerificationInputError as exc:
            raise ProblemError(422, "invalid_request", str(exc)) from exc


def _unknown_item(detail: str) -> ProblemError:
    return ProblemError(422, UnknownServiceItem.code, detail)


__all__ = ["BATCH_SLICE", "Outcome", "VerificationService", "VerifyInput", "make_input"]
