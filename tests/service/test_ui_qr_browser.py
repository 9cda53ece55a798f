"""The page at the counter, in Debian's Chromium: "Scan with camera" with a fake camera (a y4m
video of the demo licence's QR code made by Debian's ffmpeg, fed by Chromium's fake capture
device) scans the code with the vendored decoder and shows PASSED; "Upload a photo" sends a noisy
rotated JPEG to the service, which reads the code; a barcode scanner typing into the text box and
pressing Enter verifies too. The decoder is served by huren itself, with its licence."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.service.test_ui_browser import (
    Demo,
    Seen,
    _serve,
    _unavailable,
    clean_page,
    launched,
    open_page,
    shot,
)
from tests.support.api_support import ZS
from tests.support.qr_support import photo

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

# api/static/vendor/README.md: the npm package jsqr 1.4.0, dist/jsQR.js, unchanged.
JSQR_SHA256 = "bc40c8a15196236b2314db0856f72ca0b49980cd5413b8c852a7349f5fee0859"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with _serve(tmp_path_factory.mktemp("ui-qr"), datetime.now(UTC).replace(microsecond=0)) as d:
        yield d


def camera_video(png: Path, target: Path) -> Path:
    """The QR code as a camera would film it: 640x480 y4m (I420), 10 frames a second."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        _unavailable("no ffmpeg to make the fake camera's video (apt-get install -y ffmpeg)")
    subprocess.run(
        [
            ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-loop", "1", "-i", str(png),
            "-vf", "scale=440:440:flags=neighbor,pad=640:480:(ow-iw)/2:(oh-ih)/2:white,"
            "format=yuv420p",
            "-r", "10", "-t", "2", "-f", "yuv4mpegpipe", str(target),
        ],
        check=True,
        timeout=120,
    )  # fmt: skip
    return target


@pytest.fixture(scope="module")
def camera_browser(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    video = camera_video(
        demo.sample("licence-sz-business.qr.png"), tmp_path_factory.mktemp("cam") / "qr.y4m"
    )
    with launched(
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ) as chromium:
        yield chromium


@pytest.fixture
def page(camera_browser: Browser, demo: Demo) -> Iterator[Page]:
    with clean_page(camera_browser, demo, Seen([], [])) as p:
        yield p


def _ready(page: Page, demo: Demo) -> None:
    open_page(page, demo)
    page.fill("#api-key", demo.key("counter"))
    page.select_option("#relying", ZS)


def _passed(page: Page) -> None:
    badge = page.wait_for_selector("#result .badge[data-indication]")
    assert badge is not None and badge.get_attribute("data-indication") == "PASSED"
    summary = page.text_content("#result-summary") or ""
    assert "91440300MA5G2U8T1P" in summary and "营业执照" in summary
    codes = page.eval_on_selector_all(".checks li", "els => els.map(e => e.dataset.code || '')")
    assert codes  # every check listed


def test_scan_with_the_camera(page: Page, demo: Demo) -> None:
    _ready(page, demo)
    page.click("#scan-camera")
    _passed(page)
    text = demo.sample("licence-sz-business.hr1.txt").read_text().strip()
    assert page.input_value("#token-text") == text  # what the camera read, shown
    assert page.is_hidden("#scan-box")  # the camera is off again
    shot(page, "qr-01-scanned-with-camera.png")


def test_upload_a_photo(page: Page, demo: Demo, tmp_path: Path) -> None:
    picture = tmp_path / "counter-photo.jpg"
    picture.write_bytes(photo(demo.sample("licence-sz-business.qr.png").read_bytes()))
    _ready(page, demo)
    page.set_input_files("#photo-input", str(picture))
    _passed(page)
    shot(page, "qr-02-photo-uploaded.png")


def test_a_barcode_scanner_types_and_presses_enter(page: Page, demo: Demo) -> None:
    _ready(page, demo)
    page.click("#token-text")
    text = demo.sample("licence-sz-business.hr1.txt").read_text().strip()
    page.keyboard.insert_text(text)  # a keyboard wedge: the characters, then Enter
    page.keyboard.press("Enter")
    _passed(page)


def test_a_photo_without_a_code_is_named(page: Page, demo: Demo, tmp_path: Path) -> None:
    picture = tmp_path / "seal.png"
    picture.write_bytes(demo.sample("seal-sz-official.png").read_bytes())
    _ready(page, demo)
    page.set_input_files("#photo-input", str(picture))
    page.wait_for_selector("#form-error:not([hidden])")
    assert page.is_hidden("#result")


def test_the_decoder_is_served_here_with_its_licence(demo: Demo) -> None:
    script = httpx.get(demo.url + "/static/vendor/jsQR.js")
    assert script.status_code == 200
    assert hashlib.sha256(script.content).hexdigest() == JSQR_SHA256
    licence = httpx.get(demo.url + "/static/vendor/jsQR-LICENSE.txt")
    assert licence.status_code == 200 and "Apache License" in licence.text
    page = httpx.get(demo.url + "/").text
    assert '<script src="/static/vendor/jsQR.js" defer></script>' in page
