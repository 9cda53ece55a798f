"""`huren verify` through its real entry points (main() and the installed console script): one exit
status per indication (0 PASSED, 1 FAILED, 3 INDETERMINATE) and 2 when no verdict can be given,
SES_Signature values (.dat) with and without the data they sign, and unsupported formats."""

from __future__ import annotations

import functools
import io
import json
import struct
import subprocess
import sys
import zipfile
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from demo.national import SAMPLE_OFD, SAMPLE_SEAL, SAMPLE_SIGNATURE, SAMPLE_SIGNED_DATA
from demo.world import ZHONGSHAN, build_demo_world, write_demo
from tests.support.cli_support import run_cli as run
from tests.support.national_world import IN_2021, SZ, default_world, vector
from tests.support.vectors import vector_path
from verifier import Indication
from verifier.verdict import SubIndication

HUREN = Path(sys.executable).parent / "huren"
V4_DAT = vector_path("ofdrw", "seals", "SignedValueV4.dat")
V4_XML = vector_path("ofdrw", "seals", "Signature.xml")


@functools.cache
def _demo(root: Path) -> Path:
    d = root / "demo"
    write_demo(d, build_demo_world(datetime.now(UTC).replace(microsecond=0)))
    return d


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _demo(tmp_path_factory.mktemp("verify"))


def sample(demo: Path, name: str) -> Path:
    return demo / "samples" / name


def test_exit_status_per_indication(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trust = ("--trust", demo, "--relying", ZHONGSHAN)
    dat, xml = sample(demo, SAMPLE_SIGNATURE), sample(demo, SAMPLE_SIGNED_DATA)
    # PASSED: the demo's stamped contract, and its signature with the data it signs.
    assert run(capsys, "verify", sample(demo, SAMPLE_OFD), *trust)[0] == 0
    status, out, _ = run(capsys, "verify", dat, "--data", xml, *trust)
    assert (status, out.splitlines()[0]) == (0, "verdict: PASSED"), out
    # INDETERMINATE: the same signature without its data; signature and seal judged.
    status, out, _ = run(capsys, "verify", dat, *trust, "--lang", "en")
    assert status == 3, out
    assert "verdict: INDETERMINATE / SIGNED_DATA_NOT_FOUND" in out
    assert "ses.signed_data" in out and "seal: " in out
    # FAILED: the signature with data it does not sign; the data's own name in the reason.
    status, out, _ = run(capsys, "verify", dat, "--data", sample(demo, "contract.txt"), *trust)
    assert status == 1 and "FAILED / HASH_FAILURE" in out and "contract.txt" in out, out
    # ofdrw's SignedValueV4.dat: its dataHash matches nothing.
    status, out, _ = run(capsys, "verify", V4_DAT, "--data", V4_XML, *trust)
    assert status == 1 and "FAILED / HASH_FAILURE" in out, out


def test_no_verdict_is_exit_2(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trust = ("--trust", demo)
    # Unsupported formats: named, with the supported ones; never exit 1 (FAILED).
    (demo / "form.pdf").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")
    status, out, err = run(capsys, "verify", demo / "form.pdf", *trust)
    assert status == 2 and out == "", (out, err)
    assert "unsupported format" in err and "a PDF document" in err and ".esl" in err
    status, _, err = run(capsys, "verify", sample(demo, "seal-sz-official.png"), *trust)
    assert status == 2 and "a PNG image" in err
    status, _, err = run(capsys, "verify", sample(demo, "contract.txt"), *trust)
    assert status == 2 and "Supported:" in err
    # --data only with a .dat; a missing file; a missing option; an unconfigured jurisdiction.
    status, _, err = run(capsys, "verify", sample(demo, SAMPLE_SEAL), "--data", V4_XML, *trust)
    assert status == 2 and "usage error" in err and "--data" in err
    dat = sample(demo, SAMPLE_SIGNATURE)
    status, _, err = run(capsys, "verify", dat, "--data", sample(demo, SAMPLE_OFD), *trust)
    assert status == 2 and "verify the .ofd itself" in err  # never "altered"
    status, _, err = run(capsys, "verify", demo / "missing.ofd", *trust)
    assert status == 2 and "missing.ofd" in err
    assert run(capsys, "verify", sample(demo, SAMPLE_SEAL))[0] == 2
    assert run(capsys, "verify", sample(demo, SAMPLE_SEAL), *trust, "--relying", "110000")[0] == 2
    for _, _, err in (run(capsys, "verify", demo / "form.pdf", *trust),):
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_licence_is_labelled_licence(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "verify", sample(demo, "licence-sz-business.jws"), "--trust", demo)
    assert status == 0
    labels = [line.split(":", 1)[0].strip() for line in out.splitlines()[2:]]
    assert "licence" in labels and "seal" not in labels, out
    status, out, _ = run(capsys, "verify", sample(demo, SAMPLE_SEAL), "--trust", demo)
    assert status == 0 and "\n  seal: " in out


def test_detailed_adds_the_passing_checks(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The simple report (default) prints the checks that did not pass; --detailed every check,
    as text (per signature of an OFD too) and as JSON."""
    trust = ("--trust", demo, "--relying", ZHONGSHAN, "--lang", "en")
    licence = sample(demo, "licence-sz-business.jws")
    out = {
        flags: run(capsys, "verify", licence, *trust, *flags)
        for flags in ((), ("--detailed",), ("--json",), ("--json", "--detailed"))
    }
    assert all(status == 0 for status, _, _ in out.values())
    assert "signature.valid" not in out[()][1]
    assert "  PASSED        signature.valid: " in out[("--detailed",)][1]
    simple = json.loads(out[("--json",)][1])["verdict"]
    detailed = json.loads(out[("--json", "--detailed")][1])["verdict"]
    assert simple["indication"] == "PASSED" and simple["checks"] == []
    assert {"key.found", "signature.valid"} <= {c["code"] for c in detailed["checks"]}
    assert simple.keys() == detailed.keys()
    status, text, _ = run(capsys, "verify", sample(demo, SAMPLE_OFD), *trust, "--detailed")
    assert status == 0 and "    PASSED        " in text, text


def test_a_document_failed_after_its_signatures_names_the_reason(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stamped OFD whose signature verifies but whose package holds an entry nothing reads
    with a wrong CRC: FAILED, and the report gives the package's reason (the overall verdict
    the service answers with), not a PASSED signature alone."""
    stamped = zipfile.ZipFile(io.BytesIO(sample(demo, SAMPLE_OFD).read_bytes()))
    content = b"<x>" + b"a" * 1000 + b"</x>"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in stamped.infolist():
            z.writestr(info, stamped.read(info.filename))
        z.writestr("Doc_0/Res/unused.xml", content)
    crc = struct.pack("<I", zlib.crc32(content))
    data = out.getvalue()
    assert data.count(crc) == 2  # the local header and the central directory
    bad = tmp_path / "bad-crc.ofd"
    bad.write_bytes(data.replace(crc, struct.pack("<I", zlib.crc32(content) ^ 1)))
    status, text, _ = run(capsys, "verify", bad, "--trust", demo, "--relying", ZHONGSHAN)
    lines = text.splitlines()
    assert status == 1 and lines[0] == "verdict: FAILED / FORMAT_FAILURE", text
    assert lines[1].startswith("  FAILED        ofd.zip_data: "), text


def test_help_documents_the_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "verify", "--help")
    assert status == 0
    for line in ("0  PASSED", "1  FAILED", "3  INDETERMINATE", "2  no verdict", "--data"):
        assert line in out, out


def test_console_script(demo: Path) -> None:
    """The installed `huren` as a script calls it: the statuses survive the process boundary."""
    dat, xml = sample(demo, SAMPLE_SIGNATURE), sample(demo, SAMPLE_SIGNED_DATA)
    cases = [
        ([dat, "--data", xml], 0),
        ([dat], 3),
        ([dat, "--data", sample(demo, "contract.txt")], 1),
        ([sample(demo, "seal-sz-official.png")], 2),
    ]
    for argv, expected in cases:
        p = subprocess.run(
            [str(HUREN), "verify", *map(str, argv), "--trust", str(demo)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert p.returncode == expected, (argv, p.stdout, p.stderr)


def test_ses_signature_value_in_the_verifier() -> None:
    """ofdrw's SignedValueV4.dat against its trusted world in 2021: integrity first."""
    nv = default_world().verifier
    dat = vector("seals", "SignedValueV4.dat")
    with_data = nv.verify_signature(dat, V4_XML.read_bytes(), SZ, IN_2021)
    assert (with_data.indication, with_data.sub_indication) == (
        Indication.FAILED,
        SubIndication.HASH_FAILURE,
    )
    alone = nv.verify_signature(dat, None, SZ, IN_2021)
    assert (alone.indication, alone.sub_indication) == (
        Indication.INDETERMINATE,
        SubIndication.SIGNED_DATA_NOT_FOUND,
    )
    # Everything but the data hash was judged: the signature and the seal passed.
    passed = {c.code for c in alone.checks if c.result.value == "PASSED"}
    assert {"signature.valid", "seal:signature.valid", "seal:ses.maker_chain"} <= passed, passed
    assert alone.document_sha256 != with_data.document_sha256
    # A forged signature byte without data is still FAILED: no missing data hides alteration.
    forged = bytearray(dat)
    forged[-5] ^= 0x01
    bad = nv.verify_signature(bytes(forged), None, SZ, IN_2021)
    assert bad.indication is Indication.FAILED, [c.code for c in bad.checks]
