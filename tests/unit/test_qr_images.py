"""Reading QR licences from pictures (verifier.scan, zxing-cpp): the demo's PNG codes, a noisy
rotated JPEG phone photo of each, the EU DCC's 2DCODE pictures (tests/test_qr_dcc.py), and the
refusals: no code, several codes, not a picture, a decompression bomb."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from demo.world import DemoWorld
from tests.support.qr_support import blank, photo, side_by_side
from verifier.scan import MAX_PIXELS, NoCode, NotAnImage, SeveralCodes, read_qr

NAMES = ["licence-sz-business", "licence-zs-food"]


def _text(w: DemoWorld, name: str) -> str:
    return w.samples[f"{name}.hr1.txt"].decode().strip()


@pytest.mark.parametrize("name", NAMES)
def test_demo_png_reads_back(demo_world: DemoWorld, name: str) -> None:
    assert read_qr(demo_world.samples[f"{name}.qr.png"]) == _text(demo_world, name)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("size", "angle"), [((1600, 1200), 17.0), ((2048, 1536), -8.0), ((4000, 3000), 25.0)]
)
def test_noisy_rotated_jpeg_photo_reads_back(
    demo_world: DemoWorld, name: str, size: tuple[int, int], angle: float
) -> None:
    picture = photo(demo_world.samples[f"{name}.qr.png"], size=size, angle=angle)
    assert picture[:2] == b"\xff\xd8"  # a JPEG
    assert read_qr(picture) == _text(demo_world, name)


def test_svg_draws_the_same_code(demo_world: DemoWorld) -> None:
    svg = demo_world.samples["licence-sz-business.qr.svg"].decode()
    assert svg.startswith("<?xml") and "<path" in svg


def test_two_codes_are_refused(demo_world: DemoWorld) -> None:
    both = side_by_side(
        demo_world.samples["licence-sz-business.qr.png"],
        demo_world.samples["licence-zs-food.qr.png"],
    )
    with pytest.raises(SeveralCodes, match="2 QR codes"):
        read_qr(both)


def test_no_code_is_refused() -> None:
    with pytest.raises(NoCode):
        read_qr(blank())


@pytest.mark.parametrize("data", [b"", b"not a picture", b"\x89PNG\r\n\x1a\n" + b"\0" * 40])
def test_not_a_picture_is_refused(data: bytes) -> None:
    with pytest.raises(NotAnImage):
        read_qr(data)


def test_a_huge_canvas_is_refused_before_decoding() -> None:
    """A PNG of a few hundred bytes claiming 30000x30000 pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    side = 30000
    assert side * side > MAX_PIXELS
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\0" * (side + 1) * 16, 9)  # a few rows; the rest is missing
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    assert len(bomb) < 4096
    with pytest.raises(NotAnImage, match="pixels"):
        read_qr(bomb)


def test_a_grey_png_and_a_palette_png_read(demo_world: DemoWorld) -> None:
    png = demo_world.samples["licence-sz-business.qr.png"]
    for mode in ("L", "P", "RGBA"):
        out = io.BytesIO()
        Image.open(io.BytesIO(png)).convert(mode).save(out, "PNG")
        assert read_qr(out.getvalue()) == _text(demo_world, "licence-sz-business")
