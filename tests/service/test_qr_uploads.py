"""The QR form of a licence through the real API: the HR1: text in JSON, in a batch and as a
multipart file, a photo or scan as multipart `image` (read on the server), and the 422s for a
picture with no code, several codes or no picture at all. Hostile QR input is a verdict, never a
500."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import base45
import pytest
from fastapi.testclient import TestClient

from demo.world import DemoWorld
from tests.support.api_support import ZS, auth, demo_client
from tests.support.endpoints import BATCH, LICENCE
from tests.support.qr_support import blank, photo, side_by_side


@pytest.fixture
def client(demo_world: DemoWorld, tmp_path: Path) -> Iterator[TestClient]:
    with demo_client(demo_world, tmp_path) as c:
        yield c


def _text(w: DemoWorld, name: str = "licence-sz-business") -> str:
    return w.samples[f"{name}.hr1.txt"].decode().strip()


def _verdict(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    verdict: dict[str, Any] = r.json()["verdict"]
    return verdict


def _upload(client: TestClient, files: dict[str, Any]) -> Any:
    return client.post(
        LICENCE + "?report=detailed",
        files=files,
        data={"relying_jurisdiction": ZS},
        headers=auth("counter"),
    )


def test_hr1_text_in_json(client: TestClient, demo_world: DemoWorld) -> None:
    r = client.post(
        LICENCE + "?report=detailed",
        json={"token": _text(demo_world), "relying_jurisdiction": ZS},
        headers=auth("counter"),
    )
    verdict = _verdict(r)
    assert verdict["indication"] == "PASSED"
    codes = [c["code"] for c in verdict["checks"]]
    assert codes[1:3] == ["format.qr_prefix", "format.qr_encoding"]
    assert verdict["summary"]["document_id"] == "91440300MA5G2U8T1P"


def test_hr1_and_jws_in_one_batch(client: TestClient, demo_world: DemoWorld) -> None:
    items = [
        {"kind": "licence", "token": _text(demo_world), "relying_jurisdiction": ZS},
        {"kind": "licence", "token": demo_world.licence_sz, "relying_jurisdiction": ZS},
        {
            "kind": "licence",
            "token": _text(demo_world, "licence-zs-food"),
            "relying_jurisdiction": ZS,
        },
    ]
    r = client.post(BATCH, json={"items": items}, headers=auth("counter"))
    assert r.status_code == 200, r.text
    assert [x["verdict"]["indication"] for x in r.json()["results"]] == ["PASSED"] * 3


def test_hr1_text_as_a_file_with_the_scanners_line_ending(
    client: TestClient, demo_world: DemoWorld
) -> None:
    r = _upload(client, {"file": ("scan.txt", (_text(demo_world) + "\r\n").encode())})
    assert _verdict(r)["indication"] == "PASSED"


@pytest.mark.parametrize("kind", ["png", "jpeg-photo"])
def test_picture_of_the_code(client: TestClient, demo_world: DemoWorld, kind: str) -> None:
    png = demo_world.samples["licence-zs-food.qr.png"]
    picture = png if kind == "png" else photo(png)
    r = _upload(client, {"image": ("counter.jpg", picture, "image/jpeg")})
    verdict = _verdict(r)
    assert verdict["indication"] == "PASSED"
    assert verdict["summary"]["type_code"] == "food_business_permit"


@pytest.mark.parametrize(
    ("picture", "code"),
    [
        (lambda w: blank(), "qr_not_found"),
        (
            lambda w: side_by_side(
                w.samples["licence-sz-business.qr.png"], w.samples["licence-zs-food.qr.png"]
            ),
            "qr_several",
        ),
        (lambda w: b"%PDF-1.7 not a picture", "image_unreadable"),
    ],
)
def test_pictures_without_exactly_one_code_are_422(
    client: TestClient, demo_world: DemoWorld, picture: Any, code: str
) -> None:
    r = _upload(client, {"image": ("counter.jpg", picture(demo_world), "image/jpeg")})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == code and body["detail"]


def test_file_and_image_together_are_refused(client: TestClient, demo_world: DemoWorld) -> None:
    r = _upload(
        client,
        {
            "file": ("scan.txt", _text(demo_world).encode()),
            "image": ("c.png", demo_world.samples["licence-sz-business.qr.png"], "image/png"),
        },
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_request"


@pytest.mark.parametrize(
    "token",
    [
        "HR1:",
        "HR1::::",
        "hr1:0000",
        "HR1:" + base45.b45encode(zlib.compress(b"\0" * 2_000_000, 9)).decode(),
        "HR1:" + base45.b45encode(zlib.compress(b"\xa2\x01\x00\x01\x00")).decode(),
        "HR1:" + base45.b45encode(zlib.compress(b"\xd2\x84\x40\xa0\x40\x40")).decode(),
        "HR1:" + "9" * 4000,
    ],
)
def test_hostile_hr1_is_a_verdict_never_a_500(client: TestClient, token: str) -> None:
    r = client.post(
        LICENCE, json={"token": token, "relying_jurisdiction": ZS}, headers=auth("counter")
    )
    verdict = _verdict(r)
    assert verdict["indication"] == "FAILED"
    assert verdict["sub_indication"] == "FORMAT_FAILURE"


def test_every_hostile_qr_licence_is_the_librarys_verdict_over_http(
    client: TestClient, demo_world: DemoWorld
) -> None:
    """The whole hostile corpus of tests/unit/test_qr_licence.py through the API: 200 and the
    library's indication and deciding check, never a 500, never PASSED. Text without the HR1:
    prefix is read as what it then is, a JWS."""
    from tests.unit.test_qr_licence import HOSTILE
    from verifier.hr1 import looks_like_hr1

    for name, build, indication, code in HOSTILE:
        text = build(demo_world)
        raw = text if isinstance(text, bytes) else text.encode()
        r = _upload(client, {"file": ("scan.txt", raw)}) if raw else None
        if r is None:  # an empty part is refused before any verdict: that is the schema's
            continue
        verdict = _verdict(r)
        checks = verdict["checks"]
        deciding = next((c["code"] for c in checks if c["result"] == verdict["indication"]), None)
        if looks_like_hr1(raw):
            assert (verdict["indication"], deciding) == (indication.value, code), name
        else:  # judged as a JWS (a real JWS licence passes as one)
            assert not any(c["code"].startswith("format.qr_") for c in checks), name
