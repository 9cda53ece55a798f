"""Pictures of QR codes as a counter meets them: a phone photo (rotated, noisy, JPEG, a few
megapixels, the code small in it), two codes in one picture, no code at all. Used by the image
tests, the browser tests and the bench (bench/qr.py); and the Base45 decoders side by side."""

from __future__ import annotations

import io
import random

import base45
from PIL import Image, ImageFilter

from verifier import hr1


def photo(
    png: bytes,
    *,
    size: tuple[int, int] = (1600, 1200),
    angle: float = 17.0,
    noise: float = 24.0,
    quality: int = 72,
    seed: int = 7,
) -> bytes:
    """`png` (a QR code) as a JPEG phone photo: on a grey, noisy background, rotated, slightly
    blurred, with sensor noise, at `size` pixels (1600x1200 = 1.9 MP)."""
    rng = random.Random(seed)
    code = Image.open(io.BytesIO(png)).convert("L")
    side = min(size) // 2
    code = code.resize((side, side), Image.Resampling.BILINEAR)
    code = code.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    canvas = Image.effect_noise(size, noise).point(lambda v: 150 + v // 4)
    x = rng.randint(0, size[0] - code.width)
    y = rng.randint(0, size[1] - code.height)
    mask = Image.new("L", (side, side), 255).rotate(angle, expand=True, fillcolor=0)
    canvas.paste(code, (x, y), mask)
    grain = Image.effect_noise(size, noise).point(lambda v: v - 128)
    noisy = Image.blend(canvas, grain.point(lambda v: (v + 128) % 256), 0.12)
    noisy = noisy.filter(ImageFilter.GaussianBlur(0.8)).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, "JPEG", quality=quality)
    return out.getvalue()


def side_by_side(first: bytes, second: bytes) -> bytes:
    """Two pictures next to each other on white, as PNG."""
    a, b = Image.open(io.BytesIO(first)), Image.open(io.BytesIO(second))
    canvas = Image.new("L", (a.width + b.width, max(a.height, b.height)), 255)
    canvas.paste(a.convert("L"), (0, 0))
    canvas.paste(b.convert("L"), (a.width, 0))
    out = io.BytesIO()
    canvas.save(out, "PNG")
    return out.getvalue()


def blank(size: tuple[int, int] = (800, 600)) -> bytes:
    """A photo of nothing (noise), as JPEG."""
    out = io.BytesIO()
    Image.effect_noise(size, 40).convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue()


def b45_both(raw: bytes) -> tuple[bytes | None, bytes | None]:
    """What the `base45` package and huren's strict decoder make of `raw` (None: refused), for
    tests that hold the two to one answer."""
    try:
        expected: bytes | None = base45.b45decode(raw)
    except ValueError:
        expected = None
    try:
        got: bytes | None = hr1.b45decode(raw)
    except hr1.LayerError:
        got = None
    return expected, got
