"""Reading the QR code in a photo or a scan (server side, for the API and `huren verify`).

zxing-cpp decodes; Pillow opens the image with a pixel cap first, so a small file claiming a huge
canvas (a decompression bomb) is refused before any pixel is decoded. Exactly one QR code must be
found: none or several is the caller's to report (the API answers 422), never a guess."""

from __future__ import annotations

import io
import warnings
from typing import Final

# A phone photo is 1-12 MP; 40 MP leaves room and bounds the memory of one decode (~120 MB RGB).
MAX_PIXELS: Final = 40_000_000
# Photos larger than this are decoded at a smaller size (JPEG draft mode).
DECODE_PIXELS: Final = 3_000_000


class ScanError(ValueError):
    """No verdict can be given on the picture; `code` is the API's stable error code."""

    code = "qr_unreadable"


class NotAnImage(ScanError):
    code = "image_unreadable"


class NoCode(ScanError):
    code = "qr_not_found"


class SeveralCodes(ScanError):
    code = "qr_several"


def read_qr(image: bytes) -> str:
    """The text of the one QR code in `image` (PNG, JPEG, ...), or ScanError."""
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(image))
            width, height = picture.size
            if width * height > MAX_PIXELS:
                raise NotAnImage(
                    f"the picture has {width}x{height} pixels, over {MAX_PIXELS:,}; send a "
                    "smaller photo"
                )
            if picture.format == "JPEG":
                # A photo: decoded straight to grey, at 1/2, 1/4 or 1/8 size while it stays
                # above DECODE_PIXELS (the JPEG decoder scales for free; a QR code in a photo
                # keeps enough pixels per module).
                scale = 1
                while width * height // (4 * scale * scale) >= DECODE_PIXELS and scale < 8:
                    scale *= 2
                picture.draft("L", (width // scale, height // scale))
            picture.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise NotAnImage(f"the picture has too many pixels (over {MAX_PIXELS:,})") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        if isinstance(exc, ScanError):
            raise
        raise NotAnImage("the file is not a picture huren can read (PNG, JPEG, ...)") from exc
    pixels = picture if picture.mode in ("L", "RGB") else picture.convert("RGB")
    codes = zxingcpp.read_barcodes(
        pixels, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    )
    texts = [c.text for c in codes if c.valid]
    if not texts:
        raise NoCode("no QR code was found in the picture; take the photo again, closer and sharp")
    if len(texts) > 1:
        raise SeveralCodes(
            f"{len(texts)} QR codes were found in the picture; photograph only one licence"
        )
    return texts[0]


__all__ = ["MAX_PIXELS", "NoCode", "NotAnImage", "ScanError", "SeveralCodes", "read_qr"]
