"""Hostile OFD packages built from a passing stamped document, one per rule of
docs/national-formats.md ("Container rules", "Locations", "Coverage"), and two independent zip
readers to compare huren with.

`zip_bytes` writes a zip by hand so that every field can be made to lie; `stream_read` walks the
local headers front to back as a streaming reader (java.util.zip.ZipInputStream, extract-then-
render tools) does; `central_read` is Python's zipfile (central directory). Used by
tests/unit/test_ofd_container.py, tests/unit/test_ofd_coverage.py and bench/national.py (the CPU
figure)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from io import BytesIO
from typing import Any
from zipfile import BadZipFile, ZipFile

from issuing import national as issue

PAGE = "Doc_0/Pages/Page_0/Content.xml"
SIGN_DIR = "Doc_0/Signs/Sign_0"
Stamp = Callable[..., dict[str, bytes]]  # issue.stamp_ofd with the signer's material bound


@dataclass(frozen=True)
class Item:
    """One entry as written; the optional fields make one header lie."""

    name: str
    data: bytes
    method: int = 8
    flags: int = 0x800
    descriptor: bool = False  # flag bit 3: sizes and CRC after the data
    local_name: str | None = None
    local_crc: int | None = None
    local_method: int | None = None
    payload: bytes | None = None  # the compressed bytes, instead of deflate(data)
    raw_name: bytes | None = None  # the name's bytes, instead of UTF-8
    extra: bytes = b""  # the central directory's extra field
    local_extra: bytes = b""


def _compress(item: Item) -> bytes:
    if item.payload is not None:
        return item.payload
    if item.method == 0:
        return item.data
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(item.data) + c.flush()


def zip_bytes(
    items: list[Item],
    *,
    prefix: bytes = b"",
    gaps: Mapping[int, bytes] | None = None,
    comment: bytes = b"",
    offsets: Mapping[int, int] | None = None,
    count: int | None = None,
) -> bytes:
    """A zip of `items`. `gaps[i]`: bytes put before item i's local header; `offsets[i]`: the
    central directory's offset for item i instead of the real one; `count`: the end record's
    entry count."""
    gaps = gaps or {}
    offsets = offsets or {}
    out = bytearray(prefix)
    central = bytearray()
    for i, it in enumerate(items):
        out += gaps.get(i, b"")
        payload = _compress(it)
        crc = zlib.crc32(it.data)
        flags = it.flags | (0x8 if it.descriptor else 0)
        name = it.raw_name if it.raw_name is not None else it.name.encode()
        lname = it.local_name.encode() if it.local_name is not None else name
        lcrc = it.local_crc if it.local_crc is not None else crc
        sizes = (len(payload), len(it.data))
        local_sizes = (0, 0, 0) if it.descriptor else (lcrc, *sizes)
        offset = len(out) - len(prefix)
        out += struct.pack(
            "<4sHHHHHIIIHH",
            b"PK\x03\x04",
            20,
            flags,
            it.local_method if it.local_method is not None else it.method,
            0,
            0x5C21,
            *local_sizes,
            len(lname),
            len(it.local_extra),
        )
        out += lname + it.local_extra + payload
        if it.descriptor:
            out += struct.pack("<4sIII", b"PK\x07\x08", crc, *sizes)
        central += struct.pack(
            "<4sHHHHHHIIIHHHHHII",
            b"PK\x01\x02",
            0x031E,
            20,
            flags,
            it.method,
            0,
            0x5C21,
            crc,
            *sizes,
            len(name),
            len(it.extra),
            0,
            0,
            0,
            0o100644 << 16,
            offsets.get(i, offset),
        )
        central += name + it.extra
    cd_offset = len(out) - len(prefix)
    n = len(items) if count is None else count
    end = struct.pack(
        "<4sHHHHIIH", b"PK\x05\x06", 0, 0, n, n, len(central), cd_offset, len(comment)
    )
    return bytes(out + central + end + comment)


def items(files: Mapping[str, bytes]) -> list[Item]:
    """The files as entries, OFD.xml first (as issue.package orders them)."""
    return [Item(n, files[n]) for n in sorted(files, key=lambda n: (n != "OFD.xml", n))]


# -- independent readers -------------------------------------------------------------------------


def stream_read(data: bytes) -> dict[str, bytes] | None:
    """Entries as a streaming reader sees them: local headers from offset 0, each deflate stream
    read to its end, a data descriptor skipped; stops at the first other signature. None when
    it cannot read the file at all."""
    out: dict[str, bytes] = {}
    pos = 0
    try:
        while data[pos : pos + 4] == b"PK\x03\x04":
            _, _, flags, method, _, _, _, csize, _, nlen, elen = struct.unpack_from(
                "<4sHHHHHIIIHH", data, pos
            )
            name = data[pos + 30 : pos + 30 + nlen].decode("utf-8", "replace")
            pos += 30 + nlen + elen
            if method == 8:
                d = zlib.decompressobj(-15)
                body = d.decompress(data[pos:])
                used = len(data) - pos - len(d.unused_data)
            elif method == 0 and not flags & 0x8:
                body, used = data[pos : pos + csize], csize
            else:
                return None
            pos += used
            if flags & 0x8:
                pos += 16 if data[pos : pos + 4] == b"PK\x07\x08" else 12
            if not name.endswith("/"):
                out[name] = out.get(name, body)  # the first of a name, as extraction keeps
    except (struct.error, zlib.error):
        return None
    return out if out else None


def central_read(data: bytes) -> dict[str, bytes] | None:
    """Entries as Python's zipfile (the central directory) sees them."""
    try:
        with ZipFile(BytesIO(data)) as zf:
            return {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}
    except (BadZipFile, ValueError, OSError, EOFError, NotImplementedError, zlib.error):
        return None
    except RuntimeError:  # encrypted
        return None


# -- the corpus ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    code: str  # the check that refuses it
    indication: str = "FAILED"


def _edit_page(files: dict[str, bytes], text: str = "伪造的第一页") -> dict[str, bytes]:
    out = dict(files)
    out[PAGE] = out[PAGE].replace("合同第一页".encode(), text.encode())
    assert out[PAGE] != files[PAGE]
    return out


def container_cases(files: Mapping[str, bytes]) -> list[Case]:
    """Class 2: one reading of the package. `files` are a passing stamped document's."""
    good = items(files)
    page = next(i for i, it in enumerate(good) if it.name == PAGE)
    plain = zip_bytes(good)
    forged = issue.package(issue.make_ofd(["伪造的合同"], doc_id="contract-1"))
    inner = zip_bytes([Item("Doc_0/Res/inner.xml", b"<x/>", method=0)])[:-22]
    cd_start = len(inner) - 46 - len("Doc_0/Res/inner.xml")
    hidden_local = inner[:cd_start]  # a complete local entry, as a streaming reader reads it

    def swap(i: int, **changes: Any) -> list[Item]:
        out = list(good)
        out[i] = replace(out[i], **changes)
        return out

    blob = Item("Doc_0/Res/blob.bin", b"x" * 16 + hidden_local + b"y" * 16, method=0)
    inner_item = Item("Doc_0/Res/inner.xml", b"<x/>", method=0)
    laid = zip_bytes([*good, blob, inner_item])
    inside_blob = laid.find(b"Doc_0/Res/blob.bin") + len("Doc_0/Res/blob.bin") + 16
    overlap = zip_bytes([*good, blob, inner_item], offsets={len(good) + 1: inside_blob})
    deflated = zlib.compressobj(6, zlib.DEFLATED, -15)
    tail_payload = deflated.compress(b"<x/>") + deflated.flush() + hidden_local
    end_record = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0, 0, 0, 0, 0)
    return [
        Case("prepended data", b"JUNK" + plain, "ofd.zip_start"),
        Case("forged OFD glued in front", forged + plain, "ofd.zip_central"),
        Case("appended data", plain + b"trailing", "ofd.zip_end"),
        Case("end record in the comment", zip_bytes(good, comment=end_record), "ofd.zip_end"),
        Case(
            "local name differs",
            zip_bytes(swap(page, local_name=PAGE.replace("Page_0", "Page_9"))),
            "ofd.zip_mismatch",
        ),
        Case("local CRC differs", zip_bytes(swap(page, local_crc=1)), "ofd.zip_mismatch"),
        Case("local method differs", zip_bytes(swap(page, local_method=0)), "ofd.zip_mismatch"),
        Case("overlapping entries", overlap, "ofd.zip_layout"),
        Case("hidden entry in a gap", zip_bytes(good, gaps={page: hidden_local}), "ofd.zip_layout"),
        Case(
            "data after the deflate stream",
            zip_bytes([*good, Item("Doc_0/Res/tail.xml", b"<x/>", payload=tail_payload)]),
            "ofd.zip_data",
        ),
        Case(
            "duplicate name",
            zip_bytes([*good, Item(PAGE, _edit_page(dict(files))[PAGE])]),
            "ofd.zip_duplicate",
        ),
        Case(
            "case variant of a name",
            zip_bytes([*good, Item(PAGE.lower(), files[PAGE])]),
            "ofd.zip_duplicate",
        ),
        Case(
            "percent-encoded variant of a name",
            zip_bytes([*good, Item(PAGE.replace("/", "%2F"), files[PAGE])]),
            "ofd.zip_duplicate",
        ),
        Case(
            "percent-encoded .. in a name",
            zip_bytes([*good, Item("Doc_0/%2E%2E/%2E%2E/evil.xml", b"<x/>")]),
            "ofd.zip_name",
        ),
        Case(
            "Unicode NFC and NFD spellings of one name",
            zip_bytes(
                [
                    *good,
                    Item("Doc_0/Res/\u00e9.png", b"a"),
                    Item("Doc_0/Res/e\u0301.png", b"b"),
                ]
            ),
            "ofd.zip_duplicate",
        ),
        Case(
            "backslash name",
            zip_bytes([*good, Item(PAGE.replace("/", "\\"), files[PAGE])]),
            "ofd.zip_name",
        ),
        Case(
            "non-UTF-8 name without the flag",
            zip_bytes([*good, Item("x", b"<x/>", flags=0, raw_name="第.xml".encode("gbk"))]),
            "ofd.zip_name",
        ),
        Case("encrypted entry", zip_bytes(swap(page, flags=0x801)), "ofd.zip_encrypted"),
        Case("bzip2 entry", zip_bytes(swap(page, method=12, local_method=12)), "ofd.zip_method"),
        Case(
            "zip64 count without its record", zip_bytes(good, count=0xFFFF), "ofd.zip_large_format"
        ),
        Case(
            "stored entry with a data descriptor",
            zip_bytes(swap(page, method=0, descriptor=True)),
            "ofd.zip_layout",
        ),
    ]


def path_cases(unsigned: Mapping[str, bytes], stamp: Stamp) -> list[Case]:
    """Class 1 and coverage: one reading of every location, and everything shown protected.
    `unsigned` are a document's files before stamping; `stamp(files, **options)` stamps them."""
    signed = stamp(dict(unsigned))
    cases: list[Case] = []

    def shadowed(file_ref: Callable[[str], str], target: str = PAGE) -> dict[str, bytes]:
        """Signed with FileRefs as `file_ref` writes them; then the original `target` copied to
        where the signature's folder reading finds it, and the real one edited."""
        files = stamp(dict(unsigned), file_ref=file_ref)
        files[f"{SIGN_DIR}/{target}"] = files[target]
        if target == PAGE:
            return _edit_page(files)
        forged = files[target].replace(b"Doc_0/Document.xml", b"Doc_1/Document.xml")
        files[target] = forged
        for name, data in issue.make_ofd(["伪造的合同"]).items():
            if name.startswith("Doc_0/"):
                files["Doc_1/" + name.removeprefix("Doc_0/")] = data
        return files

    for label, ref in (
        ("relative", lambda p: p),
        ("./", lambda p: "./" + p),
        ("backslash", lambda p: p.replace("/", "\\")),
        ("%2F", lambda p: p.replace("/", "%2F")),
    ):
        cases.append(
            Case(
                f"{label} FileRef, shadow copy, page edited",
                _pkg(shadowed(ref)),
                "ofd.path_ambiguous",
            )
        )
    cases.append(
        Case(
            "relative FileRef, shadow OFD.xml, DocRoot changed",
            _pkg(shadowed(lambda p: p, "OFD.xml")),
            "ofd.path_ambiguous",
        )
    )
    root_shadow = dict(signed)
    root_shadow["Pages/Page_0/Content.xml"] = _edit_page(signed)[PAGE]  # Document.xml's reading
    cases.append(
        Case("page at the root reading of BaseLoc", _pkg(root_shadow), "ofd.path_ambiguous")
    )
    case_variant = stamp(dict(unsigned), file_ref=lambda p: "/" + p.lower())
    case_variant = _edit_page(case_variant)
    case_variant[PAGE.lower()] = signed[PAGE]
    cases.append(Case("case-variant FileRef and entry", _pkg(case_variant), "ofd.zip_duplicate"))
    cases.append(Case("replaced page", _pkg(_edit_page(signed)), "ofd.references"))

    # Coverage: a signature that leaves part of what is shown unprotected.
    open_doc = stamp(dict(unsigned), unprotected={"Doc_0/Document.xml"})
    added = dict(open_doc)
    added["Doc_0/Document.xml"] = added["Doc_0/Document.xml"].replace(
        b"</ofd:Pages>", b'<ofd:Page ID="9" BaseLoc="Pages/Page_9/Content.xml"/></ofd:Pages>'
    )
    added["Doc_0/Pages/Page_9/Content.xml"] = _edit_page(signed)[PAGE]
    cases.append(Case("added page", _pkg(added), "ofd.coverage"))
    open_root = stamp(dict(unsigned), unprotected={"OFD.xml"})
    moved = dict(open_root)
    moved["OFD.xml"] = moved["OFD.xml"].replace(b"Doc_0/Document.xml", b"Doc_1/Document.xml")
    for name, data in issue.make_ofd(["伪造的合同"]).items():
        if name.startswith("Doc_0/"):
            moved["Doc_1/" + name.removeprefix("Doc_0/")] = data
    cases.append(Case("changed DocRoot", _pkg(moved), "ofd.coverage"))
    annotated = dict(unsigned)
    annotated["Doc_0/Document.xml"] = annotated["Doc_0/Document.xml"].replace(
        b"</ofd:Document>",
        b"<ofd:Annotations>Annots/Annotations.xml</ofd:Annotations></ofd:Document>",
    )
    ns = b'xmlns:ofd="http://www.ofdspec.org/2016"'
    annotated["Doc_0/Annots/Annotations.xml"] = (
        b"<ofd:Annotations " + ns + b'><ofd:Page PageID="2"><ofd:FileLoc>Page_0/Annotation.xml'
        b"</ofd:FileLoc></ofd:Page></ofd:Annotations>"
    )
    annotation = "Doc_0/Annots/Page_0/Annotation.xml"
    annotated[annotation] = b"<ofd:PageAnnot " + ns + b"/>"
    annotated = stamp(annotated, unprotected={annotation})
    annotated[annotation] = (
        b"<ofd:PageAnnot " + ns + b'><ofd:Annot ID="50" Type="Stamp"/></ofd:PageAnnot>'
    )
    cases.append(
        Case(
            "annotation added after signing",
            _pkg(annotated),
            "ofd.coverage_partial",
            "INDETERMINATE",
        )
    )
    extra = dict(signed)
    extra["Doc_0/Res/added.bin"] = b"added after signing"
    cases.append(
        Case("file added after signing", _pkg(extra), "ofd.coverage_partial", "INDETERMINATE")
    )
    return cases


def _pkg(files: Mapping[str, bytes]) -> bytes:
    return issue.package(files)


def cost_package(signatures: int = 64, entries: int = 64, size: int = 1024 * 1024) -> bytes:
    """The review's cost case: `signatures` Type="Sign" signatures, each referencing the same
    `entries` entries of `size` bytes with correct check values (no key needed), over a bare
    SM2 value nobody's key verifies. Entries are zeros, as in the review."""
    return _cost(signatures, entries, bytes(size))


def ratio_safe_cost_package(signatures: int = 64, entries: int = 64) -> bytes:
    """The same, each 1 MiB entry repeating 8 KiB of noise: a ratio of ~80, under the per-entry
    cap; only the package-wide ratio and the hashing caps stop it."""
    import random

    block = random.Random(12).randbytes(8192)
    return _cost(signatures, entries, block * 128)


def noise_cost_package(signatures: int = 64, entries: int = 64) -> bytes:
    """The same with 4 KiB entries of noise: nothing to refuse by size or ratio; only the
    signatures' own checks and the memoised hashing bound the work."""
    import random

    return _cost(signatures, entries, random.Random(13).randbytes(4096))


def _cost(signatures: int, entries: int, body: bytes) -> bytes:
    import base64

    from keys.sm2 import sm3

    files = issue.make_ofd(["cost"])
    files["OFD.xml"] = files["OFD.xml"].replace(
        b"</ofd:DocBody>",
        b"<ofd:Signatures>Doc_0/Signs/Signatures.xml</ofd:Signatures></ofd:DocBody>",
    )
    names = [f"Doc_0/Res/pad_{i}.bin" for i in range(entries)]
    digest = base64.b64encode(sm3(body)).decode()
    refs = "".join(
        f'<ofd:Reference FileRef="/{n}"><ofd:CheckValue>{digest}</ofd:CheckValue></ofd:Reference>'
        for n in names
    )
    ns = 'xmlns:ofd="http://www.ofdspec.org/2016"'
    listed = []
    for s in range(signatures):
        base = f"Doc_0/Signs/Sign_{s}"
        files[f"{base}/Signature.xml"] = (
            f"<ofd:Signature {ns}><ofd:SignedInfo><ofd:SignatureMethod>1.2.156.10197.1.501"
            "</ofd:SignatureMethod><ofd:SignatureDateTime>2026-01-01 00:00:00"
            f'</ofd:SignatureDateTime><ofd:References CheckMethod="SM3">{refs}</ofd:References>'
            f"</ofd:SignedInfo><ofd:SignedValue>/{base}/SignedValue.dat</ofd:SignedValue>"
            "</ofd:Signature>"
        ).encode()
        files[f"{base}/SignedValue.dat"] = bytes(range(1, 65))
        listed.append(f'<ofd:Signature ID="{s}" Type="Sign" BaseLoc="/{base}/Signature.xml"/>')
    files["Doc_0/Signs/Signatures.xml"] = (
        f"<ofd:Signatures {ns}>{''.join(listed)}</ofd:Signatures>".encode()
    )
    for n in names:
        files[n] = body
    return issue.package(files)


__all__ = [
    "PAGE",
    "Case",
    "Item",
    "central_read",
    "container_cases",
    "cost_package",
    "items",
    "noise_cost_package",
    "path_cases",
    "ratio_safe_cost_package",
    "stream_read",
    "zip_bytes",
]
