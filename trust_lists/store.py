"""The trust store: every jurisdiction's current list, the status lists and the recognition
catalogue, as one immutable snapshot swapped atomically.

Readers take `store.state` once and judge a whole document against that snapshot, so they see
the old or the new trust state, never a mix. Writers are serialised; a refused document changes
nothing on disk or in memory."""

from __future__ import annotations

import gc
import hashlib
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from keys import PublicKey
from trust_lists.catalogue import SignedCatalogue
from trust_lists.errors import (
    AlreadyExpired,
    CatalogueOverreach,
    KeyOfOtherJurisdiction,
    MalformedDocument,
    NotYetIssued,
    Rollback,
    StatusUriClaimed,
    ThresholdNotMet,
    TrustStateError,
    UnknownJurisdiction,
    UntrustedSigner,
)
from trust_lists.model import KeyEntry, KeyStatus, TrustedService, TrustList
from trust_lists.signed import (
    DEFAULT_MAX_SKEW,
    Anchor,
    SignedTrustList,
    SignerSet,
    check_successor,
)
from trust_lists.status_list import StatusList, token_bytes
from trust_lists.storage import (
    CATALOGUE_STREAM,
    Stamp,
    TrustDirectory,
    list_stream,
    status_stream,
)
from trust_lists.timeutil import format_time, from_epoch, issued_in_future, require_aware, shift

STATUS_VERSIONS_KEPT = 3
_UNREAD = object()


@contextmanager
def _collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(frozen=True, slots=True)
class IssuedStatusList:
    """A status list accepted by the store, with the trust-list service that signed it."""

    status_list: StatusList
    jurisdiction: str
    service_id: str


@dataclass(frozen=True, slots=True)
class TrustState:
    """One consistent view of all trust state. Never mutated; replaced whole."""

    lists: Mapping[str, SignedTrustList]
    status_lists: Mapping[str, IssuedStatusList]
    catalogue: SignedCatalogue | None
    grace: timedelta
    version: str = field(init=False)
    # stale_from by jurisdiction, computed once here rather than for every document.
    _stale: Mapping[str, datetime] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        stale = {c: shift(s.trust_list.next_update, self.grace) for c, s in self.lists.items()}
        object.__setattr__(self, "_stale", stale)
        h = hashlib.sha256()
        for code in sorted(self.lists):
            h.update(
                f"L{code}:{self.lists[code].trust_list.sequence}:{self.lists[code].digest};".encode()
            )
        for uri in sorted(self.status_lists):
            sl = self.status_lists[uri].status_list
            h.update(f"S{uri}:{int(sl.issued_at.timestamp())};".encode())
        if self.catalogue is not None:
            h.update(f"C{self.catalogue.catalogue.sequence}:{self.catalogue.digest}".encode())
        object.__setattr__(self, "version", h.hexdigest()[:32])

    def trust_list(self, jurisdiction: str) -> TrustList | None:
        signed = self.lists.get(jurisdiction)
        return signed.trust_list if signed else None

    def find_key(self, jurisdiction: str, kid: str) -> KeyEntry | None:
        signed = self.lists.get(jurisdiction)
        return signed.trust_list.find_key(kid) if signed else None

    def stale_from(self, jurisdiction: str) -> datetime | None:
        """When the jurisdiction's list goes stale (next_update plus grace), or None if absent."""
        return self._stale.get(jurisdiction)

    def is_stale(self, jurisdiction: str, now: datetime) -> bool:
        stale_from = self.stale_from(jurisdiction)
        return stale_from is None or now >= stale_from


_Owner = tuple[str, TrustedService]


def _status_uris(tl: TrustList) -> dict[str, set[str]]:
    """uri -> ids of the list's services declaring it."""
    out: dict[str, set[str]] = {}
    for service in tl.services:
        for uri in service.status_lists:
            out.setdefault(uri, set()).add(service.id)
    return out


def _keys_of(tl: TrustList) -> tuple[set[PublicKey], set[PublicKey]]:
    """The list's service keys and operator keys. PublicKey equality is key identity (the RFC
    7638 thumbprint of the key itself, keys/public.py), never a kid string a document chose."""
    return {k.key for s in tl.services for k in s.keys}, set(tl.operators.keys)


class TrustStore:
    def __init__(
        self,
        anchors: Iterable[Anchor],
        directory: TrustDirectory | None = None,
        *,
        grace: timedelta = timedelta(0),
        max_skew: timedelta = DEFAULT_MAX_SKEW,
    ) -> None:
        self.anchors: Mapping[str, Anchor] = MappingProxyType({a.jurisdiction: a for a in anchors})
        self.directory = directory
        self.grace = grace
        self.max_skew = max_skew
        self._lock = threading.Lock()
        self._highest: dict[str, int] = {}
        self._history: dict[str, list[SignedTrustList]] = {}
        self._status_highest: dict[str, int] = {}
        self._catalogue_highest = 0
        self._owners: tuple[tuple[tuple[str, str], ...], dict[str, list[_Owner]]] | None = None
        self._state = TrustState(MappingProxyType({}), MappingProxyType({}), None, grace)
        self._seen_stamp: Stamp | object = _UNREAD  # the directory's STAMP when last read
        self._status_read: dict[str, int] = {}  # status stream -> version last read from it

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One writer at a time: in this process (the lock) and among every process sharing the
        directory (its writers' lock). What the others stored is read first, so a document is
        judged against the newest accepted state, never overwriting a different one of the same
        sequence."""
        with self._lock:
            if self.directory is None:
                yield
                return
            with self.directory.locked():
                self._read_newer()
                yield
                self._seen_stamp = self.directory.stamp()  # our own store() is held already

    def refresh(self) -> list[str]:
        """Before judging anything: if another process stored trust state in the shared
        directory since this store last read it (its STAMP changed; one pread), read and verify
        what is new. Returns problems found, as load() does."""
        d = self.directory
        if d is None or d.stamp() == self._seen_stamp:
            return []
        with self._lock, d.locked(shared=True):
            return self._read_newer()

    @property
    def state(self) -> TrustState:
        return self._state

    @property
    def jurisdictions(self) -> list[str]:
        return sorted(self.anchors)

    def history(self, jurisdiction: str) -> list[SignedTrustList]:
        return list(self._history.get(jurisdiction, ()))

    def highest_sequence(self, jurisdiction: str) -> int:
        return self._highest.get(jurisdiction, 0)

    # -- trust lists -----------------------------------------------------------------------

    def _signers_for(self, jurisdiction: str, candidate: TrustList) -> SignerSet:
        # The last verified list, even one not served (truncated history on disk): falling back
        # to the anchors there would hand control back to retired operator keys.
        history = self._history.get(jurisdiction)
        if history:
            return SignerSet.of(history[-1].trust_list.operators)
        return self.anchors[jurisdiction].signer_set_for(candidate)

    def submit_trust_list(
        self, data: bytes, *, now: datetime, jurisdiction: str | None = None
    ) -> SignedTrustList:
        """Verify and adopt a new signed list. `jurisdiction` is the slot it is offered for
        (defaults to the one it names). Re-submitting the current list is a no-op."""
        require_aware(now)
        signed = SignedTrustList.parse(data)
        slot = jurisdiction or signed.trust_list.jurisdiction
        with self._writing():
            current = self._judge_list(signed, slot, now)
            if current is not None:
                return current
            if self.directory is not None:
                self.directory.store(
                    list_stream(slot), signed.trust_list.sequence, signed.to_json()
                )
            self._adopt_list(slot, signed)
            return signed

    def check_trust_list(
        self, data: bytes, *, now: datetime, jurisdiction: str | None = None
    ) -> SignedTrustList:
        """What `submit_trust_list` would decide, without adopting or storing anything: the
        parsed list if it would be accepted (or is the current one), else the same
        TrustStateError the submission would raise."""
        require_aware(now)
        signed = SignedTrustList.parse(data)
        slot = jurisdiction or signed.trust_list.jurisdiction
        with self._lock:
            current = self._judge_list(signed, slot, now)
        return current or signed

    def _judge_list(
        self, signed: SignedTrustList, slot: str, now: datetime
    ) -> SignedTrustList | None:
        """Raise unless `signed` may be adopted in `slot`; the current list if it is the same
        (a no-op), else None. Call with the lock held."""
        if slot not in self.anchors:
            raise UnknownJurisdiction(f"jurisdiction {slot} is not configured here")
        current = self._state.lists.get(slot)
        if (
            current is not None
            and current.digest == signed.digest
            and slot == signed.trust_list.jurisdiction
        ):
            return current
        check_successor(
            signed,
            slot=slot,
            trusted=self._signers_for(slot, signed.trust_list),
            highest_sequence=self._highest.get(slot, 0),
            now=now,
            max_skew=self.max_skew,
        )
        self._check_boundaries(slot, signed.trust_list)
        return None

    def _check_boundaries(self, slot: str, candidate: TrustList) -> None:
        """Raise unless the candidate claims nothing another city's list holds: no status-list
        URI declared elsewhere (or twice in it), no service key another city lists. Only claims
        new to the slot are checked, so a conflict held from before this rule never locks a city
        out of its own updates (a URI with two owners stays unusable: see _find_issuer)."""
        held = self._state.lists.get(slot)
        declared = _status_uris(held.trust_list) if held is not None else {}
        uris = _status_uris(candidate)
        for uri, ids in uris.items():
            if len(ids) > 1:
                raise StatusUriClaimed(
                    f"status list {uri} is declared by services {', '.join(sorted(ids))}: a "
                    "status list belongs to exactly one service"
                )
        new_uris = uris.keys() - declared.keys()
        held_services, held_operators = _keys_of(held.trust_list) if held else (set(), set())
        services, operators = _keys_of(candidate)
        new_service, new_operator = services - held_services, operators - held_operators
        for code in sorted(self._state.lists):
            if code == slot:
                continue
            other = self._state.lists[code].trust_list
            for uri in sorted(new_uris & _status_uris(other).keys()):
                raise StatusUriClaimed(
                    f"status list {uri} is declared by {code}'s list; only its service there "
                    "may publish it"
                )
            their_services, their_operators = _keys_of(other)
            # Operators may be shared (a provincial key co-signing for several cities); a
            # service key may not, nor may one city's service key sign another's lists.
            clash = (new_service & (their_services | their_operators)) | (
                new_operator & their_services
            )
            if clash:
                kid = sorted(k.kid for k in clash)[0]
                raise KeyOfOtherJurisdiction(
                    f"key {kid} is held by {code}'s list: a service key belongs to one city, so "
                    "that every signature it makes is attributed to one city"
                )

    def _adopt_list(self, slot: str, signed: SignedTrustList) -> None:
        self._highest[slot] = max(self._highest.get(slot, 0), signed.trust_list.sequence)
        self._history.setdefault(slot, []).append(signed)
        lists = dict(self._state.lists)
        lists[slot] = signed
        self._swap(lists=lists)

    _KEEP: object = object()

    def _swap(
        self,
        *,
        lists: Mapping[str, SignedTrustList] | None = None,
        status_lists: Mapping[str, IssuedStatusList] | None = None,
        catalogue: SignedCatalogue | object | None = _KEEP,
    ) -> None:
        old = self._state
        self._state = TrustState(
            MappingProxyType(dict(old.lists if lists is None else lists)),
            MappingProxyType(dict(old.status_lists if status_lists is None else status_lists)),
            old.catalogue if catalogue is TrustStore._KEEP else catalogue,  # type: ignore[arg-type]
            self.grace,
        )

    # -- status lists ----------------------------------------------------------------------

    def _status_owners(self) -> dict[str, list[_Owner]]:
        """uri -> the (jurisdiction, service) pairs declaring it, for the lists held now."""
        lists = self._state.lists
        token = tuple(sorted((code, signed.digest) for code, signed in lists.items()))
        if self._owners is None or self._owners[0] != token:
            owners: dict[str, list[_Owner]] = {}
            for code in sorted(lists):
                for service in lists[code].trust_list.services:
                    for uri in service.status_lists:
                        owners.setdefault(uri, []).append((code, service))
            self._owners = (token, owners)
        return self._owners[1]

    def _find_issuer(self, kid: str, uri: str) -> tuple[str, KeyEntry]:
        """The key `kid` of the one service that declares `uri`: a status list is judged only
        against the service owning its URI, never against whichever list also knows the kid."""
        owners = self._status_owners().get(uri, [])
        if len(owners) > 1:
            names = ", ".join(f"{code}/{service.id}" for code, service in owners)
            raise UntrustedSigner(f"status list {uri} is declared by {names}; none is trusted")
        if owners:
            code, service = owners[0]
            entry = self._state.lists[code].trust_list.find_key(kid)
            if entry is not None and entry.service.id == service.id:
                return code, entry
        for signed in self._state.lists.values():  # only to say what is wrong
            entry = signed.trust_list.find_key(kid)
            if entry is not None:
                raise UntrustedSigner(
                    f"service {entry.service.id} does not publish status list {uri}"
                )
        raise UntrustedSigner("the status list's signing key is in no trust list")

    def _check_status_list(self, token: str | bytes) -> IssuedStatusList:
        sl, jws = StatusList.parse(token)
        code, entry = self._find_issuer(jws.kid, sl.uri)
        if entry.key.revoked_since is not None:
            raise UntrustedSigner("the status list's signing key is revoked")
        if entry.key.state_at(sl.issued_at).status is not KeyStatus.GRANTED:
            raise UntrustedSigner(
                "the signing key was not in force when the status list was issued"
            )
        if not jws.verify_with(entry.key.key):
            raise UntrustedSigner("the status list's signature does not verify")
        return IssuedStatusList(sl, code, entry.service.id)

    def submit_status_list(self, token: str | bytes, *, now: datetime) -> IssuedStatusList:
        require_aware(now)
        with self._writing():
            issued = self._check_status_list(token)
            sl = issued.status_list
            held = self._state.status_lists.get(sl.uri)
            if held is not None and held.status_list.digest == sl.digest:
                return held
            iat = int(sl.issued_at.timestamp())
            highest = self._status_highest.get(sl.uri, 0)
            if self.directory is not None:  # the guard outlives deleted tokens, as for lists
                highest = max(highest, self.directory.highest(status_stream(sl.uri)))
            if iat <= highest:
                raise Rollback(
                    "a status list at least as new is already held: this one was issued "
                    f"{format_time(sl.issued_at)}, the newest accepted "
                    f"{format_time(from_epoch(highest))}; renew it (`huren status renew`) and "
                    "sign again"
                )
            if issued_in_future(sl.issued_at, now, self.max_skew):
                raise NotYetIssued(
                    f"status list issued in the future ({format_time(sl.issued_at)}, now "
                    f"{format_time(now)}); check the signing machine's clock"
                )
            if sl.expires_at <= now:
                raise AlreadyExpired(
                    f"status list expired at {format_time(sl.expires_at)} (now "
                    f"{format_time(now)}); renew it (`huren status renew`) and sign again"
                )
            if self.directory is not None:
                stream = status_stream(sl.uri)
                self.directory.store(stream, iat, token_bytes(token), keep=STATUS_VERSIONS_KEPT)
                self._status_read[stream] = iat
            self._status_highest[sl.uri] = iat
            status_lists = dict(self._state.status_lists)
            status_lists[sl.uri] = issued
            self._swap(status_lists=status_lists)
            return issued

    # -- catalogue -------------------------------------------------------------------------

    def _check_catalogue(self, signed: SignedCatalogue, *, replay: bool) -> None:
        relying = signed.catalogue.relying_jurisdictions
        for code in sorted(relying):
            if code not in self.anchors or self._state.trust_list(code) is None:
                raise UnknownJurisdiction(f"catalogue names {code}, which has no trust list here")
            # On replay, a catalogue signed before an operator rotation is still good.
            candidates = self._history[code] if replay else [self._state.lists[code]]
            sets = [SignerSet.of(c.trust_list.operators) for c in candidates]
            if not any(s.satisfied_by(signed.envelope) for s in sets):
                needed = sets[-1]
                found = len(signed.envelope.verified_kids(needed.keys))
                raise ThresholdNotMet(
                    f"the catalogue lacks the signatures of {code}'s operators: {found} valid "
                    f"of {needed.threshold} needed; have {code}'s operators sign it too"
                )
        held = self._state.catalogue
        if replay:
            return
        # A city's entries are removed only by that city: every relying city of the held
        # catalogue signs the next one, even if the next one no longer names it. With none held
        # (the first ever, one that failed to reload, one not yet caught up) what it replaces is
        # unknown here: every configured city signs it, and waits for a city whose list is absent.
        if held is None:
            guarded = frozenset(self.anchors) - relying
            for code in sorted(guarded):
                if code not in self._state.lists:
                    raise UnknownJurisdiction(
                        f"a first catalogue needs the signatures of {code}, which has no trust "
                        "list here yet"
                    )
        else:
            guarded = held.catalogue.relying_jurisdictions - relying
        for code in sorted(guarded):
            current = self._state.lists.get(code)
            if current is None or not SignerSet.of(current.trust_list.operators).satisfied_by(
                signed.envelope
            ):
                raise CatalogueOverreach(
                    f"the catalogue gives {code} no entries without the signatures of "
                    f"{code}'s operators: only {code} may withdraw what it recognises"
                )

    def submit_catalogue(self, data: bytes, *, now: datetime) -> SignedCatalogue:
        require_aware(now)
        signed = SignedCatalogue.parse(data)
        with self._writing():
            held = self._state.catalogue
            if held is not None and held.digest == signed.digest:
                return held
            if signed.catalogue.sequence <= self._catalogue_highest:
                raise Rollback(
                    f"catalogue sequence {signed.catalogue.sequence} is not above "
                    f"{self._catalogue_highest}"
                )
            self._check_catalogue(signed, replay=False)
            if issued_in_future(signed.catalogue.issued_at, now, self.max_skew):
                raise NotYetIssued("catalogue issued in the future")
            if self.directory is not None:
                self.directory.store(CATALOGUE_STREAM, signed.catalogue.sequence, signed.to_json())
            self._catalogue_highest = signed.catalogue.sequence
            self._swap(catalogue=signed)
            return signed

    # -- start-up --------------------------------------------------------------------------

    def load(self) -> list[str]:
        """Reload and re-verify everything on disk from the pinned anchors. Returns problems found;
        a jurisdiction whose history is broken or truncated is left without a list (fail closed)."""
        if self.directory is None:
            return []
        # Parsing large lists allocates hundreds of thousands of (acyclic) objects; the cyclic
        # collector would re-scan the whole heap several times meanwhile (slow in a big process)
        # and find nothing to free. It is paused for the load only; results do not depend on it.
        with self._lock, _collector_paused():
            self._history.clear()
            self._status_read.clear()
            return self._read_newer()

    def _read_newer(self) -> list[str]:
        """Read what the directory holds beyond what this store read from it last (everything,
        the first time): each list verified as the successor of the one before. Lock held."""
        d = self.directory
        assert d is not None
        self._seen_stamp = d.stamp()  # before the files: a store after this is seen next time
        problems: list[str] = []
        for code in self.jurisdictions:
            stream = list_stream(code)
            highest = d.highest(stream)
            chain = list(self._history.get(code, ()))
            last = chain[-1].trust_list.sequence if chain else 0
            for seq in d.versions(stream):
                if seq <= last:
                    continue
                try:
                    signed = SignedTrustList.parse(d.read(stream, seq))
                    if signed.trust_list.sequence != seq:
                        raise MalformedDocument("file name and sequence disagree")
                    trusted = (
                        SignerSet.of(chain[-1].trust_list.operators)
                        if chain
                        else self.anchors[code].signer_set_for(signed.trust_list)
                    )
                    check_successor(
                        signed, slot=code, trusted=trusted, highest_sequence=last, now=None
                    )
                except (TrustStateError, OSError) as exc:
                    problems.append(f"{code}: stored list {seq} refused on reload: {exc}")
                    break
                chain.append(signed)
                last = seq
            top = chain[-1].trust_list.sequence if chain else 0
            self._highest[code] = max(highest, top, self._highest.get(code, 0))
            self._history[code] = chain
            if top < highest:
                problems.append(
                    f"{code}: newest verifiable list is {top} but {highest} was accepted; "
                    "refusing to serve an older list"
                )
                if code in self._state.lists:
                    lists = dict(self._state.lists)
                    del lists[code]
                    self._swap(lists=lists)
            elif chain and self._state.lists.get(code) is not chain[-1]:
                lists = dict(self._state.lists)
                lists[code] = chain[-1]
                self._swap(lists=lists)
        self._load_status_lists(problems)
        self._load_catalogue(problems)
        return problems

    def _load_status_lists(self, problems: list[str]) -> None:
        assert self.directory is not None
        d = self.directory
        status_lists = dict(self._state.status_lists)
        changed = False
        for stream in d.streams("status"):
            versions = d.versions(stream)
            highest = d.highest(stream)
            if not versions or versions[-1] <= self._status_read.get(stream, 0):
                continue
            self._status_read[stream] = versions[-1]
            try:
                issued = self._check_status_list(d.read(stream, versions[-1]))
            except (TrustStateError, OSError) as exc:
                problems.append(f"stored status list {stream} refused on reload: {exc}")
                continue
            uri = issued.status_list.uri
            self._status_highest[uri] = max(highest, versions[-1])
            if versions[-1] >= highest:
                status_lists[uri] = issued
                changed = True
            else:
                problems.append(f"status list {uri}: newest stored is older than the guard")
        if changed:
            self._swap(status_lists=status_lists)

    def _load_catalogue(self, problems: list[str]) -> None:
        assert self.directory is not None
        d = self.directory
        versions = d.versions(CATALOGUE_STREAM)
        held = self._state.catalogue
        self._catalogue_highest = max(d.highest(CATALOGUE_STREAM), self._catalogue_highest)
        if not versions or (held is not None and versions[-1] <= held.catalogue.sequence):
            return
        try:
            signed = SignedCatalogue.parse(d.read(CATALOGUE_STREAM, versions[-1]))
            self._check_catalogue(signed, replay=True)
        except (TrustStateError, OSError) as exc:
            problems.append(f"stored catalogue refused on reload: {exc}")
            return
        if signed.catalogue.sequence < self._catalogue_highest:
            problems.append("catalogue: newest stored is older than the guard")
            return
        self._catalogue_highest = signed.catalogue.sequence
        self._swap(catalogue=signed)


__all__ = ["IssuedStatusList", "TrustState", "TrustStore"]
