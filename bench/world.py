"""The bench's view of the demo world (demo/world.py): stores, licences and variants of it.

Variants change one factor each, through the project's public APIs and real signatures where it
is cheap (an EdDSA issuer key added to Shenzhen's list; status lists of 1,000 or 1,000,000
entries re-issued by the Shenzhen issuer), and by direct adoption where signing would take
minutes and prove nothing (the 100 x 1,000 x 5 trust store of figure 4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from keys import GeneralJWS, SigningKey
from trust_lists import (
    Catalogue,
    Recognition,
    SignedCatalogue,
    SignedTrustList,
    TrustList,
    TrustStore,
)


class World:
    def __init__(self, now: datetime | None = None) -> None:
        from demo import world as demo

        self.mod = demo
        self.demo = demo.build_demo_world(now or datetime.now(UTC))
        self.now: datetime = self.demo.now
        self.issuing: str = demo.SHENZHEN
        self.relying: str = demo.ZHONGSHAN
        self.city = demo.CITY[self.issuing]
        self.status_uri: str = self.city.issuer_status_uri
        self.eddsa = SigningKey.generate("EdDSA")
        self.issuer: dict[str, SigningKey] = {
            "ES256": self.demo.issuer_key(self.issuing),
            "EdDSA": self.eddsa,
        }
        self._status_cache: dict[int, str] = {}
        self._eddsa_list: bytes | None = None

    # -- documents -------------------------------------------------------------------------

    def licence(self, alg: str, n: int) -> str:
        """A distinct, valid Shenzhen business licence (number n), its status slot in 3..999."""
        return str(
            self.demo.issue_licence(
                self.issuing,
                key=self.issuer[alg],
                number=f"{self.issuing}-BL-{n:09d}",
                status=(3 + n % 997, self.status_uri),
            )
        )

    def status_token(self, entries: int) -> str:
        """Shenzhen's issuer status list re-issued with `entries` 2-bit entries (newer than the
        demo's): slots 1 and 2 as in the demo, and from slot 1000 on every 97th revoked and every
        679th suspended (so each licence above, in slots 3..999, stays valid)."""
        if entries not in self._status_cache:
            statuses = [0] * entries
            statuses[1], statuses[2] = 1, 2
            for i in range(1000, entries, 97):
                statuses[i] = 1
            for i in range(1003, entries, 679):
                statuses[i] = 2
            self._status_cache[entries] = str(
                self.demo.sign_status_list(
                    self.status_uri, statuses, issued_at=self.now - timedelta(minutes=30)
                )
            )
        return self._status_cache[entries]

    # -- stores ----------------------------------------------------------------------------

    def _eddsa_signed(self) -> bytes:
        """Shenzhen's list with one EdDSA key added to its licence issuer, re-signed."""
        if self._eddsa_list is None:
            from trust_lists.authoring import add_key

            tl = add_key(
                self.demo.trust_lists[self.issuing],
                self.city.issuer_id,
                self.eddsa.public_key,
                granted_from=self.now - timedelta(days=400),
            )
            self._eddsa_list = self.demo.sign_list(tl)
        return self._eddsa_list

    def store(
        self,
        *,
        eddsa: bool = False,
        status_entries: int | None = None,
        with_status: bool = True,
        extra: list[TrustList] | None = None,
    ) -> TrustStore:
        """The demo store (every list, status list and the catalogue submitted and checked), with
        the variants asked for."""
        d = self.demo
        store = TrustStore(d.anchors)
        for code in sorted(d.signed_lists):
            data = (
                self._eddsa_signed()
                if eddsa and code == self.issuing
                else d.signed_lists[code].to_json()
            )
            store.submit_trust_list(data, now=self.now)
        if with_status:
            for uri in sorted(d.status_lists):
                store.submit_status_list(d.status_lists[uri], now=self.now)
        store.submit_catalogue(d.signed_catalogue.to_json(), now=self.now)
        if status_entries is not None:
            store.submit_status_list(self.status_token(status_entries), now=self.now)
        if extra:
            _inject(store, extra, d.catalogue)
        return store


def _inject(store: TrustStore, extra: list[TrustList], demo_cat: Catalogue) -> None:
    """Adopt `extra` lists (replacing same-code ones) in the order TrustStore.load() gives
    (sorted codes), with a catalogue in which every pair of jurisdictions recognises each other.
    No signatures: they are never checked after adoption, and serialising 500,000 keys only to
    parse them back would double the build time."""
    held: dict[str, Any] = dict(store.state.lists)
    for tl in extra:
        held[tl.jurisdiction] = SignedTrustList(GeneralJWS(b"", ()), tl, "0" * 64)
    ordered = {code: held[code] for code in sorted(held)}
    demo_pairs = {(r.relying, r.issuing): r for r in demo_cat.recognitions}
    lic, seal = frozenset(demo_cat.licence_types), frozenset(demo_cat.seal_types)
    recs = tuple(
        demo_pairs.get((r, i)) or Recognition(r, i, lic, seal) for r in ordered for i in ordered
    )
    cat = Catalogue(
        demo_cat.sequence + 1, demo_cat.issued_at, demo_cat.licence_types, demo_cat.seal_types, recs
    )
    store._swap(lists=ordered, catalogue=SignedCatalogue(GeneralJWS(b"", ()), cat, "0" * 64))
