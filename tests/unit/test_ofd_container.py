"""One reading of an OFD package (issue 12, class 2): a hostile-package corpus built from a
passing stamped document, each case FAILED FORMAT_FAILURE with its own check code, and a
differential check: whenever huren's reading, a streaming local-header walk, Python's zipfile
and Debian's unzip disagree about a package's names or bytes, huren refuses it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support import ofd_corpus
from tests.support.national_world import vector
from tests.support.ofd_corpus import Case, Item, central_read, stream_read, zip_bytes
from tests.unit.test_national_documents import failing, stamped_files, verify
from verifier import Indication, SubIndication
from verifier.national import container
from verifier.national.container import OfdError
from verifier.national.ofd import OfdPackage, looks_like_ofd

F, P = Indication.FAILED, Indication.PASSED
CASES = ofd_corpus.container_cases(stamped_files())
VECTORS = ["DigitalSign.ofd", "SESV4SignDoc.ofd", "allprotected.ofd", "n.ofd", "v4signed.ofd"]


def test_the_hand_written_zip_of_a_stamped_document_passes() -> None:
    data = zip_bytes(ofd_corpus.items(stamped_files()))
    doc = verify(data)
    assert doc.overall.indication is P, [failing(s.verdict) for s in doc.signatures]
    assert stream_read(data) == central_read(data)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_each_hostile_package_is_refused_with_its_code(case: Case) -> None:
    doc = verify(case.data)
    assert (doc.overall.indication, doc.overall.sub_indication) == (F, SubIndication.FORMAT_FAILURE)
    last = doc.overall.checks[-1]
    assert last.code == case.code, (last.code, last.message_en)
    assert last.message_zh and last.message_en and "{" not in last.message_en + last.message_zh


def test_the_glued_forgery_reads_as_two_documents_elsewhere() -> None:
    """The review's case: zipfile reads the signed document, a streaming reader the forgery."""
    glued = next(c for c in CASES if c.name == "forged OFD glued in front").data
    central, streamed = central_read(glued), stream_read(glued)
    assert central is not None and streamed is not None
    assert central[ofd_corpus.PAGE] != streamed[ofd_corpus.PAGE]


def _unzip_names(data: bytes) -> list[str] | None:
    """Debian's unzip (Info-ZIP), when installed: its listing, or None when it refuses."""
    if shutil.which("unzip") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.zip"
        path.write_bytes(data)
        run = subprocess.run(["unzip", "-Z1", str(path)], capture_output=True, check=False)
    if run.returncode not in (0, 1):  # 1: warnings (e.g. extra bytes), still listed
        return ["<refused>"]
    return sorted(n for n in run.stdout.decode("utf-8", "replace").splitlines() if n[-1:] != "/")


def _readings(data: bytes) -> list[object]:
    out: list[object] = []
    for reader in (stream_read, central_read):
        got = reader(data)
        out.append(None if got is None else sorted(got.items()))
    names = _unzip_names(data)
    central = central_read(data)
    if names is not None:
        out.append(names if central is None else (names == sorted(central)))
    return out


@pytest.mark.parametrize(
    "data",
    [c.data for c in CASES] + [vector("ofd", v) for v in VECTORS],
    ids=[c.name for c in CASES] + VECTORS,
)
def test_readers_that_disagree_are_refused(data: bytes) -> None:
    stream, central, *unzip = _readings(data)
    agree = stream is not None and stream == central and all(u is True for u in unzip)
    try:
        OfdPackage(data).finish()
        accepted = True
    except OfdError:
        accepted = False
    if not agree:
        assert not accepted, "readers disagree, yet huren accepted the package"
    if accepted:
        assert agree


def test_streams_must_end_where_their_entries_end() -> None:
    files = stamped_files()
    data = next(c for c in CASES if c.name == "data after the deflate stream").data
    pkg = OfdPackage(data)
    assert pkg.read("OFD.xml") == files["OFD.xml"]  # what is read is checked as it is read
    with pytest.raises(OfdError) as err:
        pkg.finish()  # the rest, before the verdict
    assert err.value.code == "ofd.zip_data"


def test_data_descriptors_as_real_producers_write_them() -> None:
    """ofdrw's v4signed.ofd uses data descriptors (flag bit 3); so may any streaming writer."""
    files = stamped_files()
    data = zip_bytes([Item(n, d, descriptor=True) for n, d in files.items()])
    entries = container.read_entries(data)
    assert len(entries) == len(files)
    assert verify(data).overall.indication is P
    for v in VECTORS:
        assert container.read_entries(vector("ofd", v))


def test_every_entry_is_inflated_once_and_sniffing_still_works() -> None:
    files = stamped_files()
    data = zip_bytes(ofd_corpus.items(files))
    pkg = OfdPackage(data)
    pkg.read("OFD.xml")
    first = pkg.digest("OFD.xml")
    assert pkg.digest("OFD.xml") == first  # memoised
    pkg.finish()
    assert pkg.inflated_bytes == sum(len(d) for d in files.values())
    assert looks_like_ofd(data)
    assert looks_like_ofd(b"JUNK" + data) is False
    glued = next(c for c in CASES if c.name == "forged OFD glued in front").data
    assert looks_like_ofd(glued)  # refused by the verifier with its reason, not as unknown input


def test_mutated_packages_never_raise_and_never_pass_changed_content() -> None:
    import random

    files = stamped_files()
    data = zip_bytes(ofd_corpus.items(files))
    rng = random.Random(1212)
    for _ in range(300):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        if rng.random() < 0.2:
            cut = rng.randrange(len(mutated))
            mutated = mutated[:cut] + mutated[cut + rng.randint(1, 64) :]
        doc = verify(bytes(mutated))  # never raises
        if doc.overall.indication is P:  # only a change no reader sees (e.g. a timestamp)
            assert central_read(bytes(mutated)) == stream_read(bytes(mutated)) == files
