"""The licence's one-go judgement (_Job.usual_licence with its _LicencePlan per snapshot) gives
the verdict the steps one by one give, for licences and trust states that break any rule: keys
withdrawn, revoked, of another service or city; issuers, types, status slots and lists that are
wrong; times around every edge; bad signatures; two snapshots in turn; city-wide and for the
service items of either city."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from demo.world import (
    BUSINESS_LICENCE,
    CITY,
    ITEM_SZ_FOOD_PRODUCTION,
    ITEM_SZ_MEAL_SUPPLIER,
    SERVICE_ITEMS,
    SHENZHEN,
    SZ_ENTERPRISE,
    ZHONGSHAN,
    DemoWorld,
)
from issuing.licences import licence_claims
from keys import SigningKey, sign_compact
from trust_lists.store import TrustStore
from verifier import verifier as jws_verifier
from verifier.formats import LICENCE_TYP
from verifier.verdict import Verdict
from verifier.verifier import Expectations


class _StepByStep(jws_verifier._Job):
    """The strict twin: every licence judged by the steps one by one."""

    __slots__ = ()

    def usual_licence(self, signed: Any, claims: Any) -> bool:
        return False


def _judge(store: TrustStore, token: str, relying: str, now: datetime, at: datetime | None,
           item: str | None, job_class: type[jws_verifier._Job]) -> Verdict:  # fmt: skip
    verifier = jws_verifier.JwsVerifier(store, clock=lambda: now)
    expect = Expectations(service_item=item) if item is not None else None
    job = verifier._job(relying, at, expect)
    if job_class is not jws_verifier._Job:
        item_asked = job.item
        job = job_class(verifier.policy, job.anchors, job.state, relying=job.relying,
                        now=now, at=job.at)  # fmt: skip
        job.item = item_asked
    return job.licence(token.encode(), expect)


@pytest.fixture(scope="module")
def stores(demo_world: DemoWorld) -> list[TrustStore]:
    # Two snapshots whose lists go stale at different times, judged in turn.
    return [demo_world.store(), demo_world.store(grace=timedelta(days=3))]


_DAY = 86400
_ISSUERS = [CITY[SHENZHEN].issuer_id, CITY[SHENZHEN].seal_authority_id, CITY[ZHONGSHAN].issuer_id]
_KIDS = ["issuer", "issuer-retired", "issuer-compromised", "seal-authority", "zs-issuer", "odd"]
_URIS = [
    CITY[SHENZHEN].issuer_status_uri,
    CITY[ZHONGSHAN].issuer_status_uri,
    CITY[SHENZHEN].seal_status_uri,
    "https://status.example/none",
]


def _signing_key(world: DemoWorld, name: str, odd: SigningKey) -> SigningKey:
    if name == "zs-issuer":
        return world.issuer_key(ZHONGSHAN)
    if name == "odd":
        return odd
    return world.keys[f"{SHENZHEN}-{name}"]


_ODD_KEY = SigningKey.generate("ES256")
_ZS_ITEMS = tuple(i.code for i in SERVICE_ITEMS if i.relying == ZHONGSHAN)


def _mostly(usual: Any, *others: Any) -> st.SearchStrategy[Any]:
    """The usual value most of the time, so that examples reach every later rule."""
    return st.sampled_from([usual] * 8 * len(others) + list(others))


def _seconds(usual: st.SearchStrategy[int], edge: st.SearchStrategy[int]) -> st.SearchStrategy[int]:
    return st.one_of(usual, usual, edge)


_SETTINGS = settings(
    max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(
    kid=_mostly(*_KIDS),
    forged=_mostly(False, True),
    jur=_mostly(SHENZHEN, ZHONGSHAN, "110000"),
    issuer=_mostly(*_ISSUERS),
    licence_type=_mostly(BUSINESS_LICENCE, "food_production_licence", "no_such_type"),
    holder=_mostly("uscc", "bad-uscc", "pid", "bad-pid"),
    issued=_seconds(st.integers(-40 * _DAY, -_DAY), st.integers(-500 * _DAY, 10 * _DAY)),
    starts=_seconds(st.just(0), st.integers(0, 50 * _DAY)),
    lasts=st.one_of(st.none(), st.integers(1, 800 * _DAY)),
    status=st.one_of(
        st.none(),
        st.tuples(_mostly(0, 1, 2, 3, 1023, 1024, 5000), _mostly(*_URIS)),
        st.tuples(_mostly(0, 1, 2, 3, 1023, 1024, 5000), _mostly(*_URIS)),
    ),
    relying=_mostly(ZHONGSHAN, SHENZHEN),
    # An item of the relying city (the verifier refuses another city's before judging).
    item=st.one_of(
        st.none(), st.sampled_from([ITEM_SZ_MEAL_SUPPLIER, ITEM_SZ_FOOD_PRODUCTION, *_ZS_ITEMS])
    ),
    now=_seconds(st.integers(-_DAY, _DAY), st.integers(-40 * _DAY, 40 * _DAY)),
    at=st.one_of(st.none(), st.none(), st.integers(-500 * _DAY, 900 * _DAY)),
    snapshot=st.integers(0, 1),
)
def test_the_one_go_judgement_is_the_steps_one_by_one(
    demo_world: DemoWorld, stores: list[TrustStore], kid: str, forged: bool, jur: str,
    issuer: str, licence_type: str, holder: str, issued: int, starts: int, lasts: int | None,
    status: tuple[int, str] | None, relying: str, item: str | None, now: int, at: int | None,
    snapshot: int,
) -> None:  # fmt: skip
    t0 = demo_world.now.replace(microsecond=0)
    ids: dict[str, str] = {  # type: ignore[assignment]
        "uscc": {"holder_uscc": SZ_ENTERPRISE.credit_code},
        "bad-uscc": {"holder_uscc": "91440300MA5G2U8T1X"},
        "pid": {"holder_pid": "11010519491231002X"},
        "bad-pid": {"holder_pid": "110105194912310021"},
    }[holder]
    iat = t0 + timedelta(seconds=issued)
    claims = licence_claims(
        jurisdiction=jur,
        issuer=issuer,
        number="440300-BL-000777",
        licence_type=licence_type,
        holder_name=SZ_ENTERPRISE.name_zh,
        issued_at=iat,
        valid_from=iat + timedelta(seconds=starts),
        valid_to=iat + timedelta(seconds=starts + lasts) if lasts is not None else None,
        status=status,
        **ids,
    )
    signer = _signing_key(demo_world, kid, _ODD_KEY)
    if forged:
        token = _with_kid(claims, signer.kid)
    else:
        token = sign_compact(claims, signer, typ=LICENCE_TYP)
    store = stores[snapshot]
    real_now = t0 + timedelta(seconds=now)
    when = t0 + timedelta(seconds=at) if at is not None else None
    if item is not None and not item.startswith(relying):
        relying = SHENZHEN if item.startswith(SHENZHEN) else ZHONGSHAN
    usual = _judge(store, token, relying, real_now, when, item, jws_verifier._Job)
    strict = _judge(store, token, relying, real_now, when, item, _StepByStep)
    assert usual == strict
    event(f"{usual.indication.value} {usual.checks[-1].code}")
    assert usual.reports_json() == strict.reports_json()


def _with_kid(claims: dict[str, Any], kid: str) -> str:
    """Claims signed by a key the lists do not hold, under the kid of one they hold."""
    from keys import b64url_encode

    token = sign_compact(claims, _ODD_KEY, typ=LICENCE_TYP)
    header = b64url_encode(f'{{"alg":"ES256","kid":"{kid}","typ":"{LICENCE_TYP}"}}'.encode())
    _, payload, signature = token.split(".")
    return f"{header}.{payload}.{signature}"


def test_the_demo_licence_takes_the_one_go_judgement(
    demo_world: DemoWorld, stores: list[TrustStore]
) -> None:
    """The usual licence is judged in one go, and the plan is shared by the licences of its
    issuer until the snapshot changes."""
    store = stores[0]
    verifier = jws_verifier.JwsVerifier(store, clock=lambda: demo_world.now)
    job = verifier._job(ZHONGSHAN, None, None)
    token = demo_world.licence_sz.encode()
    jws = job.parse_jws(token, LICENCE_TYP, jws_verifier._LICENCE)
    claims = job.claims(jws, jws_verifier.parse_licence_claims)
    assert job.usual_licence(jws, claims)
    held, _, plans = jws_verifier._PLANS[0]
    assert held is store.state
    assert claims.status is not None
    key = (
        ZHONGSHAN,
        SHENZHEN,
        jws.kid,
        claims.issuer,
        claims.licence_type,
        claims.status.uri,
        True,
    )
    plan = plans[key]
    again = verifier._job(ZHONGSHAN, None, None)
    assert again.usual_licence(jws, claims)
    assert jws_verifier._PLANS[0][2] is plans and plans[key] is plan
    other = jws_verifier.JwsVerifier(stores[1], clock=lambda: demo_world.now)
    assert other._job(ZHONGSHAN, None, None).usual_licence(jws, claims)
    assert jws_verifier._PLANS[0][0] is stores[1].state
    assert jws_verifier._PLANS[0][2][key] is not plan


def test_a_licence_asked_for_an_item_takes_the_one_go_judgement(
    demo_world: DemoWorld, stores: list[TrustStore]
) -> None:
    """An item's plan leaves out the city-wide recognition; the item's own decision is made
    per licence (it reads the holder and the data)."""
    store = stores[0]
    verifier = jws_verifier.JwsVerifier(store, clock=lambda: demo_world.now)
    job = verifier._job(SHENZHEN, None, Expectations(service_item=ITEM_SZ_MEAL_SUPPLIER))
    jws = job.parse_jws(demo_world.licence_sz.encode(), LICENCE_TYP, jws_verifier._LICENCE)
    claims = job.claims(jws, jws_verifier.parse_licence_claims)
    assert job.usual_licence(jws, claims)
    assert job.checks[-1].code == "item.accepted"
    assert "recognition.accepted" not in [c.code for c in job.checks]
    _, _, plans = jws_verifier._PLANS[0]
    assert claims.status is not None
    key = (SHENZHEN, SHENZHEN, jws.kid, claims.issuer, claims.licence_type, claims.status.uri)
    assert (*key, False) in plans
