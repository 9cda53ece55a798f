"""Adversarial review of issue 12 (stamped OFD documents that cannot be forged): each test is a
package a second reader reads differently from huren, built from a passing stamped document."""

from __future__ import annotations

import struct
import zlib
from dataclasses import replace

from tests.support import ofd_corpus
from tests.support.ofd_corpus import central_read, stream_read, zip_bytes
from tests.unit.test_national_documents import make_seal, stamped_files, verify
from verifier import Indication, SubIndication

F = Indication.FAILED


def _two_documents_refused_as_zip64(data: bytes) -> None:
    """The central directory and the local headers read different pages, and huren refuses the
    file for its zip64 records."""
    central, streamed = central_read(data), stream_read(data)
    assert central is not None and streamed is not None
    assert central[ofd_corpus.PAGE] != streamed[ofd_corpus.PAGE]  # two documents in one file
    doc = verify(data)
    assert (doc.overall.indication, doc.overall.sub_indication) == (F, SubIndication.FORMAT_FAILURE)
    assert doc.overall.checks[-1].code == "ofd.zip_large_format"


def _zip64_with_hidden_package() -> bytes:
    """The signed package with zip64 end records whose 'extensible data sector' holds a second,
    forged package and a second zip64 end record for it, just before the locator: where
    Python's zipfile (and readers that assume no extensible data) looks for the zip64 end
    record, while huren follows the locator's offset to the real one."""
    files = stamped_files()
    real = zip_bytes(ofd_corpus.items(files))[:-22]  # locals + central directory
    _, _, _, _, n, cd_size, cd_offset, _ = struct.unpack(
        "<4sHHHHIIH", zip_bytes(ofd_corpus.items(files))[-22:]
    )
    fake_zip = zip_bytes(ofd_corpus.items(ofd_corpus._edit_page(files)))
    _, _, _, _, fn, fcd_size, fcd_offset, _ = struct.unpack("<4sHHHHIIH", fake_zip[-22:])
    fake = fake_zip[:-22]  # its locals + central directory, offsets relative to its start
    fake64 = struct.pack(
        "<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, fn, fn, fcd_size, fcd_offset
    )
    ext = fake + fake64
    offset64 = len(real)
    end64 = struct.pack(
        "<4sQHHIIQQQQ", b"PK\x06\x06", 44 + len(ext), 45, 45, 0, 0, n, n, cd_size, cd_offset
    )
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, offset64, 1)
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return real + end64 + ext + locator + end


def test_zip64_extensible_data_hiding_a_second_package_is_refused() -> None:
    data = _zip64_with_hidden_package()
    _two_documents_refused_as_zip64(data)


def _upath(name: str, version: int = 1) -> bytes:
    """An Info-ZIP Unicode Path extra field (0x7075) naming `name`, valid for `raw`."""
    body = bytes([version]) + struct.pack("<I", 0) + name.encode()
    return struct.pack("<HH", 0x7075, len(body)) + body


def _with_crc(field: bytes, raw: str) -> bytes:
    """The field with the CRC of the header's own name, as readers require to use it."""
    return field[:5] + struct.pack("<I", zlib.crc32(raw.encode())) + field[9:]


PAGE_1 = "Doc_0/Pages/Page_1/Content.xml"


def _pages_swapped(**where: bool) -> bytes:
    """Each page entry carrying a Unicode Path naming the other page: a reader that honours
    the field (commons-compress's ZipArchiveInputStream, libarchive) shows the pages swapped."""
    out = []
    for it in ofd_corpus.items(stamped_files()):
        other = {ofd_corpus.PAGE: PAGE_1, PAGE_1: ofd_corpus.PAGE}.get(it.name)
        if other is None:
            out.append(it)
            continue
        field = _with_crc(_upath(other), it.name)
        own = _with_crc(_upath(it.name), it.name)
        local = field if where.get("local") else b""
        central = field + own if where.get("central") else b""
        out.append(replace(it, local_extra=local, extra=central))
    return zip_bytes(out)


def test_a_unicode_path_in_a_local_header_naming_another_file_is_refused() -> None:
    doc = verify(_pages_swapped(local=True))
    assert (doc.overall.indication, doc.overall.sub_indication) == (F, SubIndication.FORMAT_FAILURE)
    assert doc.overall.checks[-1].code == "ofd.zip_name"


def test_an_extra_field_given_twice_is_refused() -> None:
    """Two Unicode Path fields in the central directory, the first naming the other page: huren
    read the last, readers that look the tag up read the first."""
    doc = verify(_pages_swapped(central=True))
    assert (doc.overall.indication, doc.overall.sub_indication) == (F, SubIndication.FORMAT_FAILURE)
    assert doc.overall.checks[-1].code == "ofd.zip_mismatch"


def test_a_directory_entry_with_data_is_refused() -> None:
    """A name ending in '/' holding bytes: a directory to huren (never read, outside coverage),
    a file to readers that do not judge by the name."""
    good = ofd_corpus.items(stamped_files())
    hidden = ofd_corpus.Item("Doc_0/Res/", "<ofd:Page>伪造</ofd:Page>".encode(), method=0)
    doc = verify(zip_bytes([*good, hidden]))
    assert (doc.overall.indication, doc.overall.sub_indication) == (F, SubIndication.FORMAT_FAILURE)
    assert doc.overall.checks[-1].code == "ofd.zip_name"


def test_a_seal_file_no_signature_protects_is_not_passed() -> None:
    """Seal BaseLoc is signed, the seal file's bytes are not when no Reference names it: they
    were set aside as signature machinery, so another company's seal put there PASSED, while a
    viewer's signature panel reads the seal from that file."""
    seal_file = f"{ofd_corpus.SIGN_DIR}/Seal.esl"
    files = stamped_files(unprotected=[seal_file])
    assert verify(files).overall.indication is not F  # the honest document: judged, not failed
    files[seal_file] = make_seal(name="另一家公司合同专用章")
    doc = verify(files)
    assert doc.overall.indication is Indication.INDETERMINATE
    assert "ofd.coverage_partial" in [
        c.code for c in doc.overall.checks if c.result.value != "PASSED"
    ]


def test_too_many_entries_are_refused_from_the_end_record() -> None:
    """The entry cap was checked after every record was read and matched with its local header:
    an 8 MiB body of empty entries cost about a second per request. The declared count now
    refuses first: a package whose records are all malformed after the cap is still refused
    as too many entries (nothing past the end record was read)."""
    many = [ofd_corpus.Item(f"d/{i:05d}", b"", method=0) for i in range(4100)]
    data = bytearray(zip_bytes([ofd_corpus.Item("OFD.xml", b"<x/>", method=0), *many]))
    cd = struct.unpack_from("<I", data, len(data) - 6)[0]
    data[cd + 46 * 2000 : cd + 46 * 2000 + 4] = b"XXXX"  # a record read one by one would fail
    doc = verify(bytes(data))
    assert doc.overall.checks[-1].code == "ofd.limits"


def test_an_xml_file_in_an_unknown_encoding_is_a_verdict_not_a_crash() -> None:
    """expat raises LookupError (neither ParseError nor ValueError) for an encoding it does not
    know: a package whose OFD.xml declared one escaped as an exception (a 500)."""
    files = stamped_files()
    files["OFD.xml"] = files["OFD.xml"].replace(b'encoding="UTF-8"', b'encoding="UgF-8"', 1)
    doc = verify(files)
    assert (doc.overall.indication, doc.overall.sub_indication) == (F, SubIndication.FORMAT_FAILURE)
    assert doc.overall.checks[-1].code == "ofd.package"


def test_a_utf16_page_without_bom_is_read_for_the_files_it_names() -> None:
    """expat reads '<\\0?\\0' as UTF-16LE; the shortcut that skips pages naming no file took its
    first byte '<' for ASCII, missed the PageRes and counted the resource file the page shows as
    an extra file nothing shows (INDETERMINATE) instead of unprotected content (FAILED)."""
    from tests.unit.test_ofd_coverage import stamp, unsigned

    files = unsigned()
    page = files[ofd_corpus.PAGE].decode()
    page = page.replace('encoding="UTF-8"', 'encoding="UTF-16"').replace(
        "<ofd:Content>", "<ofd:PageRes>Res.xml</ofd:PageRes><ofd:Content>"
    )
    files[ofd_corpus.PAGE] = page.encode("utf-16-le")
    res = "Doc_0/Pages/Page_0/Res.xml"
    files[res] = b'<?xml version="1.0"?><ofd:Res xmlns:ofd="http://www.ofdspec.org/2016"/>'
    doc = verify(stamp(files, unprotected=[res]))
    assert doc.overall.indication is F
    assert doc.overall.summary.extra["coverage"]["unprotected"] == [res]


def test_a_zip64_locator_hidden_in_the_last_central_record_is_refused() -> None:
    """No zip64 anywhere, but the last central record's extra field ends with a zip64 end
    record and locator: Python's zipfile always looks for a locator right before the end record
    and, finding one, takes the directory it names (a forged package hidden in the same field)."""
    files = stamped_files()
    fake_zip = zip_bytes(ofd_corpus.items(ofd_corpus._edit_page(files)))
    _, _, _, _, fn, fcd_size, fcd_offset, _ = struct.unpack("<4sHHHHIIH", fake_zip[-22:])
    hidden = (
        fake_zip[:-22]
        + struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, fn, fn, fcd_size, fcd_offset)
        + struct.pack("<4sIQI", b"PK\x06\x07", 0, 0, 1)
    )
    good = ofd_corpus.items(files)
    block = struct.pack("<HH", 0xCAFE, len(hidden)) + hidden
    data = zip_bytes([*good[:-1], replace(good[-1], extra=block)])
    _two_documents_refused_as_zip64(data)
