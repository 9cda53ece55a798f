"""No time arithmetic can overflow (GitHub issue 12 class 4, issue 19 finding 4).

A validation time anywhere in datetime's range, through every verify endpoint (the licence hot
path and its route, JWS seals and sealed documents, national seals and OFD documents, batch) and
the CLI, is either judged (200, a verdict) or, outside the documented range, refused with 422
`validation_time_out_of_range`; never a 500. A trust list valid until the last second of 9999
plus a grace period keeps /v1/trust-lists, /readyz, /metrics and verification answering."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.obs.metrics import Metrics
from api.settings import Settings, SettingsError
from api.verification import VerificationService
from cli import main as cli
from demo.world import DEMO_EPOCH, DemoWorld, write_demo
from issuing import national as issue
from keys import sign_compact
from keys.sm2 import Sm2PrivateKey
from tests.support.api_support import (
    ZS,
    Clock,
    RecordingSync,
    auth,
    b64,
    demo_client,
    service_dir,
    settings_for,
)
from tests.support.endpoints import BATCH, LICENCE, SEAL, SEALED
from trust_lists.signed import SignedTrustList
from trust_lists.status_list import STATUS_LIST_TYP, encode_status_list
from trust_lists.timeutil import (
    EARLIEST_VALIDATION_TIME,
    LATEST_VALIDATION_TIME,
    TIME_MAX,
    TIME_MIN,
    format_time,
    shift,
)

OUT_OF_RANGE = "validation_time_out_of_range"
HYPOTHESIS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def client(demo_world: DemoWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with demo_client(demo_world, tmp_path_factory.mktemp("times") / "svc") as c:
        yield c


# Any local date-time datetime holds, with any offset RFC 3339 can write (|offset| < 24 h).
_LOCAL = st.datetimes(min_value=datetime.min, max_value=datetime.max)
_OFFSET = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59)


def _text(local: datetime, offset_minutes: int) -> str:
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    suffix = "Z" if offset_minutes == 0 else f"{sign}{hours:02d}:{minutes:02d}"
    return local.isoformat() + suffix


def _in_range(local: datetime, offset_minutes: int) -> bool:
    try:
        instant = local.replace(tzinfo=timezone(timedelta(minutes=offset_minutes))).astimezone(UTC)
    except OverflowError:
        return False
    return EARLIEST_VALIDATION_TIME <= instant <= LATEST_VALIDATION_TIME


def _judged_or_refused(response: Any, expected_in_range: bool, verdicts: int = 1) -> None:
    assert response.status_code != 500, response.text
    if expected_in_range:
        assert response.status_code == 200, response.text
        body = response.json()
        found = body.get("results", [body])
        assert len(found) == verdicts
        assert all(
            r["verdict"]["indication"] in {"PASSED", "FAILED", "INDETERMINATE"} for r in found
        )
    else:
        assert response.status_code == 422, response.text
        assert response.json()["code"] == OUT_OF_RANGE, response.text


_EDGES = [
    (datetime(9999, 12, 31, 23, 59, 59), 0),  # the reviewer's case
    (datetime.max, 0),
    (datetime.min, 0),
    (datetime(1970, 1, 1), 0),
    (datetime(1969, 12, 31, 23, 59, 59, 999999), 0),
    (datetime(1970, 1, 1), 1),  # 1969-12-31T23:59Z
    (datetime(9999, 12, 31, 23, 0), -60),  # one hour past the end of datetime in UTC
    (datetime(1, 1, 1), 60),
]


def _edges(test: Any) -> Any:
    for local, offset in _EDGES:
        test = example(local=local, offset=offset)(test)
    return test


def _at_any_time(test: Any) -> Any:
    """Run `test` for hypothesis' local times and offsets, and always for the edges above."""
    return HYPOTHESIS(given(local=_LOCAL, offset=_OFFSET)(_edges(test)))


def _multipart(client: TestClient, path: str, name: str, data: bytes, when: str, **kw: Any) -> Any:
    return client.post(
        path,
        files={"file": (name, data)},
        data={"relying_jurisdiction": ZS, "validation_time": when},
        **kw,
    )


@_at_any_time
def test_licence_hot_path_and_route(
    client: TestClient, demo_world: DemoWorld, local: datetime, offset: int
) -> None:
    when, ok = _text(local, offset), _in_range(local, offset)
    body = {"token": demo_world.licence_sz, "relying_jurisdiction": ZS, "validation_time": when}
    _judged_or_refused(client.post(LICENCE, json=body, headers=auth("counter")), ok)
    form = _multipart(
        client, LICENCE, "l.jws", demo_world.licence_sz.encode(), when, headers=auth("counter")
    )
    _judged_or_refused(form, ok)


@_at_any_time
def test_jws_seals_and_sealed_documents(
    client: TestClient, demo_world: DemoWorld, local: datetime, offset: int
) -> None:
    when, ok = _text(local, offset), _in_range(local, offset)
    seal = {"token": demo_world.seal_sz, "relying_jurisdiction": ZS, "validation_time": when}
    _judged_or_refused(client.post(SEAL, json=seal, headers=auth("business")), ok)
    doc = {
        "document": b64(demo_world.sealed_document),
        "signature": demo_world.sealed_signature,
        "relying_jurisdiction": ZS,
        "validation_time": when,
    }
    _judged_or_refused(client.post(SEALED, json=doc, headers=auth("counter")), ok)


@_at_any_time
def test_national_seals_and_documents(
    client: TestClient, demo_world: DemoWorld, local: datetime, offset: int
) -> None:
    assert demo_world.national is not None
    when, ok = _text(local, offset), _in_range(local, offset)
    key = auth("business")
    seal = _multipart(client, SEAL, "s.esl", demo_world.national.seal, when, headers=key)
    _judged_or_refused(seal, ok)
    document = _multipart(client, SEALED, "c.ofd", demo_world.national.document, when, headers=key)
    _judged_or_refused(document, ok)


@_at_any_time
def test_batch(client: TestClient, demo_world: DemoWorld, local: datetime, offset: int) -> None:
    when, ok = _text(local, offset), _in_range(local, offset)
    common = {"relying_jurisdiction": ZS, "validation_time": when}
    items = [
        {"kind": "licence", "token": demo_world.licence_sz, **common},
        {"kind": "seal", "token": demo_world.seal_sz, **common},
        {
            "kind": "sealed_document",
            "document": b64(demo_world.sealed_document),
            "signature": demo_world.sealed_signature,
            **common,
        },
    ]
    r = client.post(BATCH, json={"items": items}, headers=auth("admin"))
    _judged_or_refused(r, ok, verdicts=3)
    if not ok:  # the refusal names the item
        assert r.json()["errors"][0]["loc"][:3] == ["body", "items", 0], r.text


@pytest.fixture(scope="module")
def demo_dir(demo_world: DemoWorld, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("times-cli") / "demo"
    write_demo(directory, demo_world)
    assert demo_world.national is not None
    (directory.parent / "c.ofd").write_bytes(demo_world.national.document)
    (directory.parent / "s.esl").write_bytes(demo_world.national.seal)
    (directory.parent / "l.jws").write_text(demo_world.licence_sz)
    return directory


@HYPOTHESIS
@given(when=st.datetimes(min_value=datetime.min, max_value=datetime.max))
@example(when=datetime(9999, 12, 31, 23, 59, 59))
@example(when=datetime(1970, 1, 1))
@example(when=datetime(1969, 12, 31, 23, 59, 59))
@example(when=datetime(1, 1, 1))
def test_cli_verify_at(demo_dir: Path, capsys: pytest.CaptureFixture[str], when: datetime) -> None:
    """`huren verify FILE --at TIME`: judged (exit 0, 1 or 3) inside the range, a usage error
    (exit 2) outside it; never an internal error."""
    at = when.replace(microsecond=0, tzinfo=UTC)
    text = f"{at.year:04d}" + at.strftime("-%m-%dT%H:%M:%SZ")
    for name in ("c.ofd", "s.esl", "l.jws"):
        status = cli.main(
            ["verify", str(demo_dir.parent / name), "--trust", str(demo_dir), "--at", text]
        )
        out, err = capsys.readouterr()
        assert "internal error" not in err, err
        if EARLIEST_VALIDATION_TIME <= at <= LATEST_VALIDATION_TIME:
            assert status in (0, 1, 3) and "verdict:" in out, (name, text, err)
        else:
            assert status == 2 and "validation time" in err, (name, text, err)


def test_periods_in_settings_are_bounded() -> None:
    """A grace or TTL that timedelta cannot even hold is refused at start, not a crash."""
    for name in ("grace_seconds", "cache_max_ttl_seconds"):
        with pytest.raises(SettingsError, match="at most 10 years"):
            Settings(**{name: 10**15})


def test_shift_saturates() -> None:
    second = timedelta(seconds=1)
    assert shift(TIME_MAX, second) == TIME_MAX
    assert shift(TIME_MIN, -second) == TIME_MIN
    assert shift(TIME_MAX - second, second) == TIME_MAX - timedelta(0)
    assert shift(DEMO_EPOCH, timedelta(days=1)) == DEMO_EPOCH + timedelta(days=1)
    assert shift(DEMO_EPOCH, timedelta.max) == TIME_MAX
    assert shift(DEMO_EPOCH, timedelta.min) == TIME_MIN


# -- a trust list valid until the end of time, with a grace period ------------------------------


def _forever_list(world: DemoWorld, code: str) -> bytes:
    tl = world.trust_lists[code]
    last = TIME_MAX.replace(microsecond=0)  # 9999-12-31T23:59:59Z, the last time a list can write
    forever = dataclasses.replace(
        tl, sequence=tl.sequence + 1, issued_at=DEMO_EPOCH, next_update=last
    )
    data = world.sign_list(forever)
    assert SignedTrustList.parse(data).trust_list.next_update == last
    return data


def test_a_list_valid_until_9999_with_grace(demo_world: DemoWorld, tmp_path: Path) -> None:
    admin = {**auth("admin"), "content-type": "application/json"}
    with demo_client(demo_world, tmp_path / "forever", grace_seconds=60) as c:
        for code in sorted(demo_world.trust_lists):
            r = c.put(
                f"/v1/trust-lists/{code}", content=_forever_list(demo_world, code), headers=admin
            )
            assert r.status_code == 200, r.text
        _still_answers(c, demo_world)
    # The same state loaded from disk by a new instance.
    root = tmp_path / "forever"
    again = create_app(
        settings_for(root, grace_seconds=60), clock=Clock(DEMO_EPOCH), sync=RecordingSync()
    )  # type: ignore[arg-type]
    with TestClient(again, raise_server_exceptions=False) as c:
        _still_answers(c, demo_world)


def _still_answers(c: TestClient, world: DemoWorld) -> None:
    index = c.get("/v1/trust-lists")
    assert index.status_code == 200, index.text
    assert "9999-12-31T23:59:59Z" in index.text
    ready = c.get("/readyz")
    assert ready.status_code == 200, ready.text
    metrics = c.get("/metrics")
    assert metrics.status_code == 200, metrics.text
    assert "huren_trust_list_stale" in metrics.text
    body = {"token": world.licence_sz, "relying_jurisdiction": ZS}
    for extra in ({}, {"validation_time": "9999-12-31T23:59:59Z"}):
        r = c.post(LICENCE, json={**body, **extra}, headers=auth("counter"))  # the hot path
        assert r.status_code == 200, r.text
        form = c.post(
            LICENCE,
            files={"file": ("l.jws", world.licence_sz.encode())},
            data={"relying_jurisdiction": ZS, **extra},
            headers=auth("counter"),
        )
        assert form.status_code == 200, form.text
        assert form.json()["verdict"] == json.loads(r.text)["verdict"]
    assert (
        c.post(LICENCE, json=body, headers=auth("counter")).json()["verdict"]["indication"]
        == "PASSED"
    )


def test_a_status_list_valid_until_the_end_of_time(demo_world: DemoWorld, tmp_path: Path) -> None:
    """A status list may expire at 9999-12-31T23:59:59Z (accepted, verdicts go on); an `exp` or
    `iat` beyond what a datetime holds is refused with 422 `malformed`, never a 500."""
    root = service_dir(demo_world, tmp_path / "status")
    app = create_app(settings_for(root), clock=Clock(DEMO_EPOCH), sync=RecordingSync())  # type: ignore[arg-type]
    uri = sorted(demo_world.status_lists)[0]
    key = demo_world._status_signer(uri)
    upload = {**auth("admin"), "content-type": "application/statuslist+jwt"}
    last = TIME_MAX.replace(microsecond=0)
    with TestClient(app, raise_server_exceptions=False) as c:
        token = demo_world.sign_status_list(uri, issued_at=DEMO_EPOCH, expires_at=last)
        r = c.post("/v1/status-lists", content=token, headers=upload)
        assert r.status_code == 200, r.text
        assert "9999-12-31T23:59:59Z" in c.get("/v1/status-lists").text
        body = {"token": demo_world.licence_sz, "relying_jurisdiction": ZS}
        assert c.post(LICENCE, json=body, headers=auth("counter")).status_code == 200
        for iat, exp in ((int(DEMO_EPOCH.timestamp()) + 60, 253402300800), (2**39, 2**39 + 1)):
            claims = {
                "sub": uri,
                "iat": iat,
                "exp": exp,
                "status_list": {"bits": 2, "lst": encode_status_list([0] * 8, 2)},
            }
            forged = sign_compact(claims, key, typ=STATUS_LIST_TYP)
            r = c.post("/v1/status-lists", content=forged, headers=upload)
            assert r.status_code == 422, r.text
            assert r.json()["code"] == "malformed", r.text


@pytest.mark.parametrize(
    "written", ["00010101000000", "0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-08:00"]
)
def test_a_signing_time_beyond_datetime_in_utc_is_a_verdict(
    client: TestClient, written: str
) -> None:
    """An OFD signature whose SignatureDateTime lies at the ends of the calendar (taken in
    China Standard Time, or with an offset carrying it past datetime's range in UTC) gets a
    FAILED verdict, not a 500 (anonymous uploads reach this)."""
    files = issue.make_ofd(["text"], doc_id="ends-of-time")
    files = issue.stamp_ofd(
        files,
        seal=None,
        signer_key=Sm2PrivateKey.generate(),
        signer_certificate=None,
        signed_at=DEMO_EPOCH,
    )
    xml = files["Doc_0/Signs/Sign_0/Signature.xml"].decode()
    when = DEMO_EPOCH.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert when in xml
    files["Doc_0/Signs/Sign_0/Signature.xml"] = xml.replace(when, written).encode()
    r = _multipart(
        client,
        SEALED,
        "c.ofd",
        issue.package(files),
        "2026-06-01T00:00:00Z",
        headers=auth("business"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["verdict"]["indication"] == "FAILED", r.text


_OFFSETS = st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))


@given(
    st.lists(
        st.tuples(
            st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31)),
            _OFFSETS.map(timezone),
        ).map(lambda t: t[0].replace(tzinfo=t[1])),
        min_size=1,
        max_size=20,
    )
)
@example([datetime.max.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)])
@example([DEMO_EPOCH + timedelta(microseconds=n) for n in (0, 999_999, 1_000_000, 999_999, -1)])
@settings(max_examples=300, deadline=None)
def test_the_services_now_is_the_clocks_formatted_every_time(times: list[datetime]) -> None:
    """A hit's expiry is compared with the clock's second, remembered for that second
    (VerificationService._now_text): for any clock, the text format_time gives at that call."""
    ticks = iter(times)
    service = VerificationService(
        store=None,  # type: ignore[arg-type]
        verifier=None,  # type: ignore[arg-type]
        cache=None,  # type: ignore[arg-type]
        flight=None,  # type: ignore[arg-type]
        metrics=Metrics(),
        clock=lambda: next(ticks),
        max_ttl_seconds=60,
    )
    for when in times:
        assert service._now_text() == format_time(when)
