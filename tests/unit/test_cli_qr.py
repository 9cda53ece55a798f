"""`huren licence qr` (a JWS licence into its QR form) and `huren verify` given a licence's QR
form: the HR1: text as the argument or in a file, or a photo of the code."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from demo.world import build_demo_world, write_demo
from tests.support.cli_support import run_cli as run
from tests.support.qr_support import blank, photo
from verifier.scan import read_qr


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("qr") / "demo"
    write_demo(d, build_demo_world(datetime.now(UTC).replace(microsecond=0)))
    return d


def test_licence_qr_writes_text_png_and_svg(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png, svg, txt = tmp_path / "l.png", tmp_path / "l.svg", tmp_path / "l.txt"
    status, out, err = run(
        capsys,
        "licence", "qr", demo / "samples" / "licence-sz-business.jws",
        "--key", demo / "keys" / "440300-issuer.pem",
        "--png", png, "--svg", svg, "--out", txt,
    )  # fmt: skip
    assert status == 0, err
    text = txt.read_text().strip()
    assert text.startswith("HR1:") and out == ""
    version = int(err.split("version ")[1].split()[0])
    assert version <= 20 and "error correction M" in err
    assert read_qr(png.read_bytes()) == text
    assert svg.read_bytes().startswith(b"<?xml")
    status, out, _ = run(capsys, "verify", txt, "--config", demo, "--relying", "442000")
    assert status == 0 and out.startswith("verdict: PASSED")


def test_licence_qr_refuses_another_issuers_key(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(
        capsys,
        "licence", "qr", demo / "samples" / "licence-sz-business.jws",
        "--key", demo / "keys" / "442000-issuer.pem",
    )  # fmt: skip
    assert status == 2 and "did not sign" in err


def test_verify_takes_the_text_itself(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (demo / "samples" / "licence-zs-food.hr1.txt").read_text().strip()
    status, out, _ = run(capsys, "verify", text, "--config", demo, "--json")
    assert status == 0 and '"indication": "PASSED"' in out
    status, out, _ = run(capsys, "verify", text[:-3] + "AAA", "--config", demo)
    assert status == 1 and "FAILED" in out


@pytest.mark.parametrize("kind", ["png", "jpeg-photo"])
def test_verify_takes_a_picture(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    png = (demo / "samples" / "licence-sz-business.qr.png").read_bytes()
    picture = tmp_path / ("code.png" if kind == "png" else "photo.jpg")
    picture.write_bytes(png if kind == "png" else photo(png))
    status, out, _ = run(capsys, "verify", picture, "--config", demo, "--relying", "442000")
    assert status == 0 and "91440300MA5G2U8T1P" in out


def test_a_picture_without_a_code_gets_no_verdict(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    picture = tmp_path / "nothing.jpg"
    picture.write_bytes(blank())
    status, out, err = run(capsys, "verify", picture, "--config", demo)
    assert status == 2 and out == "" and "no QR code was found" in err


def test_the_default_level_is_the_issuers() -> None:
    from cli.licence import DEFAULT_ERROR
    from issuing.qr import DEFAULT_ERROR as ISSUING_DEFAULT

    assert DEFAULT_ERROR == ISSUING_DEFAULT == "M"


def test_verify_takes_a_text_too_long_for_a_file_name(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A scanned text with no "/" for 300 characters is no path (ENAMETOOLONG), just text."""
    status, out, _ = run(capsys, "verify", "HR1:" + "0" * 300, "--config", demo)
    assert status == 1 and "format.qr_" in out
