"""Finding a certificate's trusted service in the trust lists.

A national seal names no jurisdiction and no kid: the seal maker is known by its certificate. A
trust list vouches for it when one of its services has an SM2 key (kty EC, crv SM2) that is
- that very certificate (JWK with x5c = the certificate), or
- the CA certificate that issued it (JWK with x5c = a CA certificate; the chain is then checked), or
- the bare key (JWK without x5c) of the certificate.
Lists are searched in jurisdiction-code order; the index of each list is built once per list
digest and kept in a small cache."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from keys.sm2 import Sm2PublicKey
from keys.x509 import Certificate
from trust_lists.model import KeyEntry, ServiceKind, TrustList
from trust_lists.store import TrustState

_MAX_CACHED_LISTS: Final = 64


@dataclass(frozen=True, slots=True)
class _Index:
    by_cert: dict[str, list[KeyEntry]]  # certificate SHA-256 -> entries
    by_subject: dict[bytes, list[KeyEntry]]  # CA certificate subject DER -> entries
    by_point: dict[bytes, list[KeyEntry]]  # bare keys (no certificate) by point
    sm2: tuple[KeyEntry, ...]  # every SM2 entry, in list order


def _build(tl: TrustList) -> _Index:
    by_cert: dict[str, list[KeyEntry]] = {}
    by_subject: dict[bytes, list[KeyEntry]] = {}
    by_point: dict[bytes, list[KeyEntry]] = {}
    sm2: list[KeyEntry] = []
    for service in tl.services:
        for sk in service.keys:
            key = sk.key
            if not isinstance(key, Sm2PublicKey):
                continue
            entry = KeyEntry(service, sk)
            sm2.append(entry)
            cert = key.certificate
            if cert is None:
                by_point.setdefault(key.point, []).append(entry)
                continue
            by_cert.setdefault(cert.sha256, []).append(entry)
            if cert.is_ca:
                by_subject.setdefault(cert.subject_der, []).append(entry)
    return _Index(by_cert, by_subject, by_point, tuple(sm2))


class _Cache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, str], _Index] = OrderedDict()

    def get(self, jurisdiction: str, digest: str, tl: TrustList) -> _Index:
        key = (jurisdiction, digest)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        index = _build(tl)
        with self._lock:
            self._items[key] = index
            while len(self._items) > _MAX_CACHED_LISTS:
                self._items.popitem(last=False)
        return index


_CACHE = _Cache()


@dataclass(frozen=True, slots=True)
class Candidate:
    """A trust-list entry that may vouch for a certificate: `anchor` is the certificate to build
    the chain to (the listed one, or for a listed bare key the certificate holding it) and
    `direct` says the certificate itself is listed (or its key)."""

    jurisdiction: str
    entry: KeyEntry
    anchor: Certificate
    direct: bool


def _indexes(state: TrustState) -> Iterable[tuple[str, _Index]]:
    for code in sorted(state.lists):
        signed = state.lists[code]
        yield code, _CACHE.get(code, signed.digest, signed.trust_list)


def candidates(state: TrustState, cert: Certificate, kind: ServiceKind) -> list[Candidate]:
    """Entries of services of `kind` that could vouch for `cert`, best first (the certificate
    itself, then its key, then an issuing CA), in jurisdiction order."""
    direct: list[Candidate] = []
    by_key: list[Candidate] = []
    via_ca: list[Candidate] = []
    for code, index in _indexes(state):
        for e in index.by_cert.get(cert.sha256, ()):
            if e.service.kind is kind:
                direct.append(Candidate(code, e, cert, True))
        for e in index.by_point.get(cert.public_point, ()):
            if e.service.kind is kind:
                by_key.append(Candidate(code, e, cert, True))
        for e in index.by_subject.get(cert.issuer_der, ()):
            key = e.key.key
            if e.service.kind is kind and isinstance(key, Sm2PublicKey) and key.certificate:
                via_ca.append(Candidate(code, e, key.certificate, False))
    return direct + by_key + via_ca


def sm2_entries(state: TrustState, kind: ServiceKind) -> list[tuple[str, KeyEntry]]:
    """Every SM2 key of services of `kind`, in jurisdiction and list order."""
    out: list[tuple[str, KeyEntry]] = []
    for code, index in _indexes(state):
        out.extend((code, e) for e in index.sm2 if e.service.kind is kind)
    return out


__all__ = ["Candidate", "candidates", "sm2_entries"]
