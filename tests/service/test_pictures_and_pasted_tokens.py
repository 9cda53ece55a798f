"""Issue 16: a seal picture that is not the issued one is not an altered seal, and a token pasted
with spaces or line breaks is refused with a hint (never stripped), through the real API."""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from demo.world import DemoWorld
from tests.support.api_support import (
    SZ,
    ZS,
    auth,
    demo_client,
)
from tests.support.endpoints import LICENCE, SEAL, SEALED

# The demo's seal picture saved as JPEG: `ffmpeg -i seal-sz-official.png -q:v 3 <this>`.
JPEG = Path(__file__).resolve().parents[1] / "data" / "seal-sz-official.jpg"


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    out, at = [], 8
    while at < len(png):
        (size,) = struct.unpack(">I", png[at : at + 4])
        out.append((png[at + 4 : at + 8], png[at + 8 : at + 8 + size]))
        at += 12 + size
    return out


def _pixels(png: bytes) -> bytes:
    return zlib.decompress(b"".join(data for kind, data in _chunks(png) if kind == b"IDAT"))


def _resaved(png: bytes) -> bytes:
    """The same PNG as another program would save it: other compression, a text chunk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    out = b"\x89PNG\r\n\x1a\n"
    for kind, data in _chunks(png):
        if kind == b"IDAT":
            out += chunk(b"tEXt", b"Software\x00an image editor")
            out += chunk(kind, zlib.compress(zlib.decompress(data), 1))
        else:
            out += chunk(kind, data)
    return out


@pytest.fixture
def client(demo_world: DemoWorld, tmp_path: Path) -> Iterator[TestClient]:
    with demo_client(demo_world, tmp_path) as c:
        yield c


def _seal(client: TestClient, world: DemoWorld, picture: bytes) -> dict[str, Any]:
    r = client.post(
        SEAL + "?report=detailed",  # every check: the seal's own ones must all have passed
        files={"file": ("seal.jws", world.seal_sz.encode()), "image": ("seal.png", picture)},
        data={"relying_jurisdiction": ZS},
        headers=auth("business"),
    )
    assert r.status_code == 200, r.text
    verdict: dict[str, Any] = r.json()["verdict"]
    return verdict


def _not_the_issued_picture(verdict: dict[str, Any], prefix: str = "") -> None:
    """The picture's own check decides; the seal's checks all passed and nothing says altered."""
    assert (verdict["indication"], verdict["sub_indication"]) == (
        "FAILED",
        "SIG_CONSTRAINTS_FAILURE",
    )
    *seal_checks, last = verdict["checks"]
    assert last["code"] == prefix + "seal.image_not_issued" and last["result"] == "FAILED"
    assert all(c["result"] == "PASSED" for c in seal_checks), seal_checks
    assert {prefix + "signature.valid", prefix + "recognition.accepted"} <= {
        c["code"] for c in seal_checks
    }
    assert "not the one issued" in last["message_en"]
    assert "not evidence that the seal was altered" in last["message_en"]
    assert "不是随此印章签发的图片" in last["message_zh"]


def test_the_issued_picture_matches(client: TestClient, demo_world: DemoWorld) -> None:
    verdict = _seal(client, demo_world, demo_world.seal_image)
    assert verdict["indication"] == "PASSED"
    assert verdict["checks"][-1]["code"] == "seal.image"


def test_a_jpeg_of_the_issued_picture_is_not_it(client: TestClient, demo_world: DemoWorld) -> None:
    jpeg = JPEG.read_bytes()
    assert jpeg[:3] == b"\xff\xd8\xff"
    _not_the_issued_picture(_seal(client, demo_world, jpeg))


def test_a_resaved_png_with_the_same_pixels_is_not_it(
    client: TestClient, demo_world: DemoWorld
) -> None:
    """Decided: only the exact bytes match; pictures are not decoded on the server."""
    resaved = _resaved(demo_world.seal_image)
    assert resaved != demo_world.seal_image
    assert _pixels(resaved) == _pixels(demo_world.seal_image)
    _not_the_issued_picture(_seal(client, demo_world, resaved))


def test_another_picture_is_not_it(client: TestClient, demo_world: DemoWorld) -> None:
    verdict = _seal(client, demo_world, b"\x89PNG\r\n\x1a\nsomething else entirely")
    _not_the_issued_picture(verdict)


def test_in_a_sealed_document_the_seal_and_document_checks_still_pass(
    client: TestClient, demo_world: DemoWorld
) -> None:
    r = client.post(
        SEALED + "?report=detailed",
        files={
            "file": ("contract.txt", demo_world.sealed_document),
            "signature": ("sig.jws", demo_world.sealed_signature.encode()),
            "image": ("seal.jpg", JPEG.read_bytes()),
        },
        data={"relying_jurisdiction": ZS},
        headers=auth("counter"),
    )
    assert r.status_code == 200, r.text
    verdict = r.json()["verdict"]
    _not_the_issued_picture(verdict, prefix="seal:")
    assert {"sealed.hash", "sealed.seal_period"} <= {c["code"] for c in verdict["checks"]}


def test_a_revoked_or_altered_seal_still_decides_before_the_picture(
    client: TestClient, demo_world: DemoWorld
) -> None:
    """The picture never hides a verdict on the seal itself."""
    head, body, sig = demo_world.seal_sz.split(".")
    altered = ".".join((head, body, ("A" if sig[0] != "A" else "B") + sig[1:]))
    r = client.post(
        SEAL,
        files={"file": ("seal.jws", altered.encode()), "image": ("seal.jpg", JPEG.read_bytes())},
        data={"relying_jurisdiction": ZS},
        headers=auth("business"),
    )
    verdict = r.json()["verdict"]
    assert verdict["sub_indication"] == "SIG_CRYPTO_FAILURE"
    assert "seal.image_not_issued" not in {c["code"] for c in verdict["checks"]}


# -- tokens with whitespace -------------------------------------------------------------------


def _hinted(verdict: dict[str, Any], position: int) -> None:
    assert (verdict["indication"], verdict["sub_indication"]) == ("FAILED", "FORMAT_FAILURE")
    last = verdict["checks"][-1]
    assert last["code"] == "format.whitespace"
    assert "Remove all spaces and line breaks" in last["message_en"]
    assert f"character {position})" in last["message_en"]
    assert "请删除所有空格和换行" in last["message_zh"]


@pytest.fixture
def fast_and_route(
    demo_world: DemoWorld, tmp_path: Path
) -> Iterator[tuple[TestClient, TestClient]]:
    with (
        demo_client(demo_world, tmp_path / "fast", fast_lane=True) as fast,
        demo_client(demo_world, tmp_path / "route", fast_lane=False) as route,
    ):
        yield fast, route


def test_a_token_with_line_breaks_gets_a_hint_from_fast_path_and_route(
    fast_and_route: tuple[TestClient, TestClient], demo_world: DemoWorld
) -> None:
    token = demo_world.licence_sz
    wrapped = "\r\n".join(token[i : i + 76] for i in range(0, len(token), 76))  # as e-mail does
    pasted = [
        (wrapped, 77),
        (" " + token[:64] + "\n" + token[64:] + "\n", 66),
        (token.replace(".", ". ", 1), token.index(".") + 2),
        (token.replace(".", "\t.", 1), token.index(".") + 1),
    ]
    fast, route = fast_and_route
    for i, (text, position) in enumerate(pasted):
        body = json.dumps({"token": text, "relying_jurisdiction": ZS}).encode()
        headers = {**auth("counter"), "Content-Type": "application/json", "X-Request-ID": f"ws-{i}"}
        answers = [c.post(LICENCE, content=body, headers=headers) for c in (fast, route)]
        assert answers[0].status_code == answers[1].status_code == 200, answers[0].text
        assert answers[0].content == answers[1].content
        assert answers[0].headers.items() == answers[1].headers.items()
        _hinted(answers[0].json()["verdict"], position)
    # The same token without the whitespace passes: nothing else was wrong with it.
    r = fast.post(
        LICENCE, json={"token": token, "relying_jurisdiction": SZ}, headers=auth("counter")
    )
    assert r.json()["verdict"]["indication"] == "PASSED"


def test_an_uploaded_seal_file_with_a_line_break_inside_gets_the_hint(
    client: TestClient, demo_world: DemoWorld
) -> None:
    def upload(text: str) -> dict[str, Any]:
        r = client.post(
            SEAL,
            files={"file": ("seal.jws", text.encode())},
            data={"relying_jurisdiction": ZS},
            headers=auth("business"),
        )
        assert r.status_code == 200, r.text
        verdict: dict[str, Any] = r.json()["verdict"]
        return verdict

    seal = demo_world.seal_sz
    _hinted(upload(seal[:100] + "\n" + seal[100:] + "\n"), 101)
    # A file's final newline (what editors add) is no part of the token, as before.
    assert upload(seal + "\n")["indication"] == "PASSED"


def test_text_that_is_no_token_at_all_gets_no_whitespace_hint(
    client: TestClient, demo_world: DemoWorld
) -> None:
    r = client.post(
        LICENCE, json={"token": "hello world", "relying_jurisdiction": ZS}, headers=auth("counter")
    )
    assert r.json()["verdict"]["checks"][-1]["code"] == "format.jws"
