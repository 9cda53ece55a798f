"""The publication URL a jurisdiction's list is pulled from turns hostile (GitHub issue 7):
it serves garbage, trickles bytes, or replays an older list. Nothing is adopted, the held list
keeps serving, and once its next_update passes the service reports it stale everywhere a client
or an operator looks: GET /v1/trust-lists (`stale`, `stale_from`), /readyz (503), /metrics, and
the verdicts themselves (INDETERMINATE / TRY_LATER, never PASSED). The service runs on an injected
clock; the pull runs through the real TrustSync against a real HTTP server on loopback.
(tests/service/test_sync.py covers each bad answer at the TrustSync level.)"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from api.app import create_app
from demo.world import DEMO_EPOCH, DemoWorld
from tests.service.test_sync import Routes, http_routes  # noqa: F401 - the loopback HTTP server fixture
from tests.support.api_support import SZ, ZS, Clock, auth, next_list, service_dir, settings_for
from trust_lists import authoring

NOW = DEMO_EPOCH


def test_hostile_source_then_staleness_is_reported(
    demo_world: DemoWorld,
    tmp_path: Path,
    http_routes: tuple[Routes, str],  # noqa: F811
) -> None:
    routes, base = http_routes
    root = service_dir(demo_world, tmp_path / "svc")
    clock = Clock(NOW)
    app = create_app(
        settings_for(root, sources={SZ: f"{base}/sz.jws"}, pull_interval_seconds=3600),
        clock=clock,
    )
    ctx = app.state.ctx
    sync = ctx.sync
    # A trickling source is cut off after this long; long enough for a loaded machine to serve
    # a plain answer, far shorter than the trickle (one byte per 0.2 s: minutes for a list).
    sync.puller.timeout = 3.0  # read when the fetcher is made
    name = f"trust_list:{SZ}"
    list2 = next_list(demo_world, SZ, issued_at=NOW - timedelta(minutes=1))

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://huren") as c:

            async def pull(body: bytes, mode: str = "plain") -> dict[str, Any]:
                routes.set("/sz.jws", body, mode=mode)
                await sync.puller.pull_once()
                return dict(sync.puller.last_pull[name])

            async def sz_entry() -> dict[str, Any]:
                index = (await c.get("/v1/trust-lists")).json()["jurisdictions"]
                entry: dict[str, Any] = next(j for j in index if j["jurisdiction"] == SZ)
                return entry

            async def verdict() -> dict[str, Any]:
                r = await c.post(
                    "/v1/licences/verify",
                    json={"token": demo_world.licence_sz, "relying_jurisdiction": ZS},
                    headers=auth("counter"),
                )
                assert r.status_code == 200, r.text
                v: dict[str, Any] = r.json()["verdict"]
                return v

            async def hostile_answers_change_nothing(sequence: int) -> None:
                held = ctx.store.state
                for body, mode, status, error in [
                    (demo_world.signed_lists[SZ].to_json(), "plain", *older(sequence)),
                    (b"<html>503 Service Unavailable</html>", "plain", "refused", "malformed"),
                    (b"\x1f\x8b\x08\x00garbage", "plain", "refused", "malformed"),
                    (list2[: len(list2) // 2], "plain", "refused", "malformed"),  # truncated
                    (list2, "slow", "error", "timeout"),  # a trickle, cut off
                ]:
                    started = asyncio.get_running_loop().time()
                    got = await pull(body, mode)
                    assert (got["status"], got["error"]) == (status, error), got
                    if mode == "slow":  # cut off, not read to the end of the trickle
                        assert asyncio.get_running_loop().time() - started < len(body) * 0.2 / 4
                    assert ctx.store.state is held, "a hostile answer changed the trust state"
                    assert (await sz_entry())["sequence"] == sequence

            def older(sequence: int) -> tuple[str, str | None]:
                # The demo's list 1: the held list itself at first, an older one later.
                return ("unchanged", None) if sequence == 1 else ("ignored", "rollback")

            # Fresh list 1: hostile answers change nothing.
            await hostile_answers_change_nothing(1)
            assert (await sz_entry())["stale"] is False
            # A real update is adopted; from then on list 1 is an older list.
            assert (await pull(list2))["status"] == "adopted"
            entry = await sz_entry()
            assert entry["sequence"] == 2 and entry["stale"] is False
            await hostile_answers_change_nothing(2)

            # Frozen: nothing newer ever comes. Just before next_update all is well ...
            next_update = authoring.next_version(
                demo_world.trust_lists[SZ],
                issued_at=NOW - timedelta(minutes=1),
                validity=timedelta(days=30),
            ).next_update
            assert entry["next_update"] == next_update.strftime("%Y-%m-%dT%H:%M:%SZ")
            clock.now = next_update - timedelta(seconds=1)
            assert (await sz_entry())["stale"] is False
            # ... and from next_update on (grace 0) it is reported stale, while the source keeps
            # serving garbage, a trickle and the older list.
            clock.now = next_update
            await hostile_answers_change_nothing(2)
            entry = await sz_entry()
            assert entry["stale"] is True and entry["stale_from"] == entry["next_update"]
            assert sync.puller.last_pull[name]["failures"] == 4  # consecutive, since the older list
            ready = await c.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"][f"trust_list:{SZ}"] == "stale"
            metrics = (await c.get("/metrics")).text
            assert f'huren_trust_list_stale{{jurisdiction="{SZ}"}} 1.0' in metrics
            v = await verdict()
            assert (v["indication"], v["sub_indication"]) == ("INDETERMINATE", "TRY_LATER")
            fresh_check = next(ch for ch in v["checks"] if ch["code"] == "trust.fresh")
            assert fresh_check["result"] == "INDETERMINATE"

            # The source recovers with a list issued now: adopted, no longer stale.
            list3 = next_list(demo_world, SZ, issued_at=clock.now, sequence_bump=2)
            assert (await pull(list3))["status"] == "adopted"
            entry = await sz_entry()
            assert entry["sequence"] == 3 and entry["stale"] is False
        await sync.stop()

    asyncio.run(main())
