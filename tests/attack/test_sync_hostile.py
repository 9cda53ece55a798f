"""Trust sync against a hostile Redis (GitHub issue 19, finding 3): whatever an attacker who
owns Redis writes there is refused once and remembered (by digest), and the catch-up that runs
before a verdict does bounded work (documents, bytes, time), after which the instance serves its
own verified state and reports the lag. Real Redis; the forged keys are written directly with
redis-py under the test's random prefix. Work is counted (fetched, verified), never timed."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import build_store, create_app
from api.sync.fanout import TrustSync, parse_counter
from demo.world import DemoWorld, build_demo_world
from tests.service.test_sync import (
    CATALOGUE,
    LIST1,
    LIST2,
    LIST3,
    ZS_LIST1,
    instance,
    run,
    running,
    settings,
    status_token,
)
from tests.support.api_support import SZ, ZS, auth, next_list, service_dir, settings_for
from tests.support.redis_support import trust_key
from tests.support.trust_world import NOW, base_list, bump, default_anchors, key, sign_payload
from trust_lists.catalogue import MAX_CATALOGUE_BYTES, SignedCatalogue
from trust_lists.store import TrustStore


def big_forged_list(services: int = 2200) -> bytes:
    """A well-formed list of about 1.5 MB signed by keys nobody pinned (x1, x2): parsing and
    judging it is real work, and the store refuses it (threshold_not_met)."""
    doc = bump(bump(bump(base_list(sequence=1)))).to_dict()
    template = doc["services"][0]
    for i in range(services):
        service = copy.deepcopy(template)
        service["id"] = f"pad-{i:05d}"
        service.pop("status_lists", None)
        service["keys"][0]["jwk"] = key(f"pad{i}").public_key.to_jwk()
        doc["services"].append(service)
    return sign_payload(doc, "x1", "x2")


@pytest.fixture(scope="module")
def forged() -> bytes:
    data = big_forged_list()
    assert len(data) > 1_400_000
    return data


class HostileRedis:
    """Writes what an attacker owning Redis would, under the test's prefix."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def put(self, field: str, data: bytes, seq: bytes | str) -> None:
        self.client.hset(trust_key(self.prefix, "trust-docs"), field, data)
        self.client.hset(trust_key(self.prefix, "trust-seqs"), field, seq)

    def history(self, jurisdiction: str, entries: dict[str, bytes]) -> None:
        self.client.hset(trust_key(self.prefix, f"trust-history:{jurisdiction}"), mapping=entries)

    def bump(self) -> None:
        """What every legitimate publish does: a new epoch (the forgery is read again)."""
        self.client.incr(trust_key(self.prefix, "trust-epoch"))


@pytest.fixture
def hostile(redis_client: redis.Redis, redis_prefix: str) -> HostileRedis:
    return HostileRedis(redis_client, redis_prefix)


def test_a_hostile_history_field_is_refused_once_and_remembered(
    tmp_path: Path, redis_url: str, redis_prefix: str, hostile: HostileRedis, forged: bytes
) -> None:
    """Finding 3: a `trust-history` field whose name is 5,000 digits made int() raise inside the
    history replay; the epoch was never marked seen and the forged 1.5 MB list was fetched and
    judged again before every verdict (1-4 ms -> ~245 ms each)."""
    config = settings(redis_url=redis_url, redis_prefix=redis_prefix)

    async def main() -> None:
        b = instance(tmp_path / "b", config, LIST1)
        async with running(b):
            before = b.store.state
            hostile.put(f"trust_list:{SZ}", forged, "4")
            hostile.history(SZ, {"7" * 5000: forged})
            hostile.bump()
            for _ in range(5):  # no new epoch: nothing to catch up
                await b.sync.ensure_current()
            catch_ups = b.sync.catch_ups
            for _ in range(5):  # new epochs: caught up again, the forgery is not re-read
                hostile.bump()
                await b.sync.ensure_current()
            assert b.sync.catch_ups >= catch_ups + 5
            assert b.sync.fetched_from_redis == 1
            assert b.sync.fetched_bytes_from_redis == len(forged)
            assert b.sync.verified_from_redis == 1
            assert b.sync.refused_by_reason == {"threshold_not_met": 1, "malformed_sequence": 1}
            assert b.sync.lag_seconds() == 0 and b.sync.readiness() == "ok"
            assert b.store.state is before

    run(main())


@pytest.mark.parametrize(
    "raw",
    ["٣", "３", " 3", "3 ", "0x10", "1e3", "03", "-1", "+3", "", "9" * 20, "9" * 5000],
    ids=repr,
)
def test_only_short_ascii_digit_strings_are_counters(raw: str) -> None:
    assert parse_counter(raw.encode()) is None
    assert parse_counter(raw) is None


def test_counters_read_as_written() -> None:
    for value in (0, 1, 42, 2**63 - 1):
        assert parse_counter(str(value).encode()) == value


def test_malformed_sequences_and_epochs_are_refused_unread(
    tmp_path: Path, redis_url: str, redis_prefix: str, hostile: HostileRedis
) -> None:
    config = settings(redis_url=redis_url, redis_prefix=redis_prefix)
    bad = ["٣", " 3", "0x10", "1e3", "03", "9" * 5000]

    async def main() -> None:
        a = instance(tmp_path / "a", config, LIST1)
        b = instance(tmp_path / "b", config, LIST1)
        await b.sync.start()
        try:
            for seq in bad:
                hostile.put(f"trust_list:{SZ}", LIST2, seq)
                hostile.put("catalogue", CATALOGUE, seq)
                hostile.bump()
                await b.sync.ensure_current()
                hostile.bump()
                await b.sync.ensure_current()  # remembered: not counted again
            hostile.client.set(trust_key(hostile.prefix, "trust-epoch"), "9" * 5000)
            await b.sync.ensure_current()
            assert b.sync.refused_by_reason == {"malformed_sequence": 2 * len(bad)}
            assert b.sync.fetched_from_redis == 0
            assert b.store.highest_sequence(SZ) == 1
            # A legitimate publish still reaches B once the hostile keys are gone.
            hostile.client.delete(
                trust_key(hostile.prefix, "trust-seqs"), trust_key(hostile.prefix, "trust-epoch")
            )
            await a.sync.start()
            a.store.submit_trust_list(LIST2, now=NOW)
            await a.sync.publish("trust_list", LIST2)
            await b.sync.ensure_current()
            assert b.store.highest_sequence(SZ) == 2
        finally:
            await a.sync.stop()
            await b.sync.stop()

    run(main())


def test_oversized_documents_and_histories_are_refused_unread(
    tmp_path: Path, redis_url: str, redis_prefix: str, hostile: HostileRedis
) -> None:
    """Larger than the store would parse: refused by its length, never downloaded. A history of
    more entries than any instance keeps: refused by its size, never listed or downloaded."""
    config = settings(redis_url=redis_url, redis_prefix=redis_prefix)
    forged = sign_payload(bump(bump(base_list(sequence=1))).to_dict(), "x1", "x2")

    async def main() -> None:
        b = instance(tmp_path / "b", config, LIST1)
        async with running(b):
            hostile.put("catalogue", b"{" * (MAX_CATALOGUE_BYTES + 1), "7")
            hostile.put(f"trust_list:{SZ}", forged, "3")
            hostile.history(SZ, {str(n): forged for n in range(2, 200)})
            for _ in range(3):
                hostile.bump()
                await b.sync.ensure_current()
            assert b.sync.refused_by_reason == {
                "too_large": 1,
                "malformed_history": 1,
                "threshold_not_met": 1,
            }
            assert b.sync.fetched_from_redis == 1  # the forged list itself, once
            assert b.store.highest_sequence(SZ) == 1

    run(main())


@pytest.mark.parametrize(
    ("budget", "limits"),
    [
        ("documents", {"sync_budget_documents": 1}),
        ("bytes", {"sync_budget_bytes": 1}),
        ("seconds", {"sync_budget_seconds": 0}),
    ],
)
def test_catch_up_stops_at_its_budget_reports_the_lag_and_goes_on(
    tmp_path: Path, redis_url: str, redis_prefix: str, budget: str, limits: dict[str, Any]
) -> None:
    """Three documents to adopt and a budget of one per catch-up (the first document is always
    allowed, so every catch-up progresses): each verdict's catch-up judges exactly one, the lag
    is reported until the instance is current, then it is 0 again."""
    config = settings(redis_url=redis_url, redis_prefix=redis_prefix)
    limited = settings(redis_url=redis_url, redis_prefix=redis_prefix, **limits)

    async def main() -> None:
        a = instance(tmp_path / "a", config, LIST1, ZS_LIST1)
        b = instance(tmp_path / "b", limited, LIST1, ZS_LIST1)
        await a.sync.start()
        await b.sync.start()
        for task in b.sync._tasks:  # no background continuation: only verdicts catch up
            task.cancel()
        try:
            for kind, data in (
                ("trust_list", LIST2),
                ("trust_list", LIST3),
                ("status_list", status_token().encode()),
                ("catalogue", CATALOGUE),
            ):
                if kind == "trust_list":
                    a.store.submit_trust_list(data, now=NOW)
                elif kind == "status_list":
                    a.store.submit_status_list(data, now=NOW)
                else:
                    a.store.submit_catalogue(data, now=NOW)
                await a.sync.publish(kind, data)  # type: ignore[arg-type]
            for step in (1, 2):
                await b.sync.ensure_current()
                assert b.sync.verified_from_redis == step
                assert b.sync.budget_exhausted == {budget: step}
                assert b.sync.epochs_behind() == 4
                assert b.sync.lag_seconds() > 0
                assert b.sync.readiness().startswith("ok (behind ")
                b.sync.max_lag_seconds = 0
                assert b.sync.readiness().startswith("behind ")
                b.sync.max_lag_seconds = 30
            await b.sync.ensure_current()
            assert b.sync.verified_from_redis == 3
            assert b.sync.lag_seconds() == 0 and b.sync.epochs_behind() == 0
            assert b.sync.readiness() == "ok"
            assert b.store.state.version == a.store.state.version
            assert b.sync.refused_from_redis == 0
        finally:
            await a.sync.stop()
            await b.sync.stop()

    run(main())


# ---------------------------------------------------------------------------- the service


@pytest.fixture(scope="module")
def live_world() -> DemoWorld:
    return build_demo_world(datetime.now(UTC).replace(microsecond=0))


def metric(client: TestClient, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


@pytest.fixture
def service(
    live_world: DemoWorld, tmp_path: Path, redis_url: str, redis_prefix: str
) -> Iterator[tuple[TestClient, TrustSync]]:
    """One instance on the real Redis, its sync limited to one document per catch-up."""
    root = service_dir(live_world, tmp_path / "svc")
    config = settings_for(root, redis_url=redis_url, redis_prefix=redis_prefix)
    store, _ = build_store(config)
    sync = TrustSync(
        SimpleNamespace(redis_url=redis_url, redis_prefix=redis_prefix, sync_budget_documents=1),
        store,
        lambda kind: None,
    )
    with TestClient(create_app(config, store=store, sync=sync)) as client:
        yield client, sync


def test_verdicts_are_served_under_a_hostile_redis_and_it_is_judged_once(
    service: tuple[TestClient, TrustSync],
    live_world: DemoWorld,
    hostile: HostileRedis,
    forged: bytes,
) -> None:
    client, _ = service
    body = {"token": live_world.licence_sz, "relying_jurisdiction": ZS}
    hostile.put(f"trust_list:{SZ}", forged, "99")
    hostile.history(SZ, {"7" * 5000: forged})
    for _ in range(10):
        hostile.bump()
        r = client.post("/v1/licences/verify", json=body, headers=auth("counter"))
        assert r.status_code == 200, r.text
        assert r.json()["verdict"]["indication"] == "PASSED"
    assert metric(client, "huren_trust_sync_fetched_documents_total") == 1
    assert metric(client, "huren_trust_sync_verified_documents_total") == 1
    assert metric(client, "huren_trust_sync_fetched_bytes_total") == len(forged)
    refused = "huren_trust_sync_refused_documents_total"
    # Signed by other operators than the demo's: an unauthorised rotation to this instance.
    assert metric(client, refused, reason="rotation_not_authorised") == 1
    assert metric(client, refused, reason="malformed_sequence") == 1
    assert metric(client, "huren_trust_sync_lag_seconds") == 0
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["trust_sync"] == "ok"


def test_a_lagging_instance_serves_its_own_state_and_is_not_ready_past_the_bound(
    service: tuple[TestClient, TrustSync], live_world: DemoWorld, hostile: HostileRedis
) -> None:
    """Two validly signed lists this instance cannot adopt yet (issued a day ahead of its clock:
    a transient refusal, judged again at every catch-up) and one document per catch-up: it never
    gets past the second, so it stays behind. Verdicts keep coming from its own verified state;
    /readyz says so, and fails once the lag is past the bound."""
    client, sync = service
    ahead = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    for code in (SZ, ZS):
        hostile.put(f"trust_list:{code}", next_list(live_world, code, issued_at=ahead), "2")
    hostile.bump()
    body = {"token": live_world.licence_sz, "relying_jurisdiction": ZS}
    r = client.post("/v1/licences/verify", json=body, headers=auth("counter"))
    assert r.status_code == 200, r.text
    assert r.json()["verdict"]["indication"] == "PASSED"
    assert r.json()["verdict"]["trust"]["list_sequence"] == 1
    assert metric(client, "huren_trust_sync_budget_exhausted_total", budget="documents") >= 1
    assert metric(client, "huren_trust_sync_lag_seconds") > 0
    assert metric(client, "huren_trust_sync_epochs_behind") >= 1
    assert metric(client, "huren_trust_sync_refused_documents_total", reason="issued_in_future")
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["trust_sync"].startswith("ok (behind ")
    sync.max_lag_seconds = 0
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["code"] == "not_ready"
    assert ready.json()["checks"]["trust_sync"].startswith("behind ")


def test_a_document_that_crashes_the_store_is_refused_once(
    tmp_path: Path, redis_url: str, redis_prefix: str, hostile: HostileRedis
) -> None:
    """Whatever the exception (here a bug in the store, injected), the document is refused as
    malformed and remembered by digest: not fetched or judged again at the next epochs."""
    config = settings(redis_url=redis_url, redis_prefix=redis_prefix)

    class BuggyStore(TrustStore):
        def submit_catalogue(self, data: bytes, *, now: datetime) -> SignedCatalogue:
            raise ZeroDivisionError("a bug")

    async def main() -> None:
        store = BuggyStore(default_anchors(), None)
        store.submit_trust_list(LIST1, now=NOW)
        b = TrustSync(config, store, lambda kind: None, clock=lambda: NOW)
        await b.start()
        try:
            hostile.put("catalogue", CATALOGUE, "1")
            for _ in range(4):
                hostile.bump()
                await b.ensure_current()
            assert b.refused_by_reason == {"malformed": 1}
            assert (b.fetched_from_redis, b.verified_from_redis) == (1, 1)
            assert b.lag_seconds() == 0
        finally:
            await b.stop()

    run(main())
