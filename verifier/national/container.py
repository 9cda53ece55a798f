"""One reading of an OFD zip container (docs/national-formats.md, "Container rules").

A zip file has two indexes: the local headers, read front to back by streaming readers
(extract-then-render tools, java.util.zip.ZipInputStream), and the central directory at the end,
read by random-access readers (Python's zipfile, most viewers). A package is accepted only when
both give the same entries with the same bytes:

- the first local header at offset 0, nothing before it (no prepended data);
- exactly one end record, ending the file (no appended data), no end-record signature inside
  its comment; zip64 end records, when used, consistent with it and without an extensible data
  sector (readers that assume none read its last bytes as the zip64 end record);
- central-directory records and local headers agree on name, flags, method, CRC and sizes (a
  data descriptor, when flagged, agrees too); extra fields made of blocks, each tag once, a
  Unicode Path block (either header) naming the entry itself; entries lie in central-directory
  order, each immediately after the previous one, the last ending where the central directory
  starts (no gaps, overlaps or hidden entries);
- every deflate stream ends exactly at its entry's compressed size, and inflates to its declared
  size and CRC (checked when the entry is inflated; `OfdPackage.finish` inflates the rest);
- names: UTF-8 when not ASCII (flag 11), relative POSIX paths without '.', '..', empty
  segments, backslashes, drive letters or NUL, unique after normalisation (case folding, NFC,
  percent-decoding); directories ('/'-ending names) empty; no encryption, stored or deflate
  only, no symlinks.

Each refusal is an OfdError carrying its check code (verifier/national/messages.py)."""

from __future__ import annotations

import struct
import unicodedata
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote

_LOCAL: Final = b"PK\x03\x04"
_CENTRAL: Final = b"PK\x01\x02"
_END: Final = b"PK\x05\x06"
_END64: Final = b"PK\x06\x06"
_LOCATOR64: Final = b"PK\x06\x07"
_DESCRIPTOR: Final = b"PK\x07\x08"
_LOCAL_FMT: Final = struct.Struct("<4sHHHHHIIIHH")  # 30 bytes
_CENTRAL_FMT: Final = struct.Struct("<4sHHHHHHIIIHHHHHII")  # 46 bytes
_END_FMT: Final = struct.Struct("<4sHHHHIIH")  # 22 bytes
_END64_FMT: Final = struct.Struct("<4sQHHIIQQQQ")  # 56 bytes
_LOCATOR64_FMT: Final = struct.Struct("<4sIQI")  # 20 bytes
_U16: Final = 0xFFFF
_U32: Final = 0xFFFFFFFF
STORED: Final = 0
DEFLATED: Final = 8
_ENCRYPTED: Final = 0x0001 | 0x0040 | 0x2000  # traditional, strong, central-directory
_HAS_DESCRIPTOR: Final = 0x0008
_UTF8: Final = 0x0800
_CHUNK: Final = 64 * 1024


class OfdError(ValueError):
    """The package or one of its files cannot be accepted. `code` is the check code reported,
    `params` fill its messages (ofd.package takes a `detail`)."""

    def __init__(self, message: str, code: str = "ofd.package", **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params: dict[str, object] = params or {"detail": message}


def _fail(code: str, message: str, **params: object) -> OfdError:
    return OfdError(message, code, **params)


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry, as both indexes agree it is."""

    name: str
    method: int
    flags: int
    crc: int
    compressed: int
    size: int
    data_start: int  # where its compressed bytes begin
    mode: int  # Unix mode from the external attributes (0 when none)

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")


def name_key(name: str) -> str:
    """The one spelling two names must not share: '\\' as '/', percent-escapes decoded, NFC,
    case folded, '.' and empty segments dropped (a reader on a case-insensitive or
    URI-decoding system opens the same entry for both)."""
    text = name.replace("\\", "/")
    if "%" in text:
        text = unquote(text)
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    return "/".join([p for p in text.casefold().split("/") if p not in _SKIPPED])


_SKIPPED: Final = frozenset({"", "."})
_NOT_NORMAL: Final = frozenset({"", ".", ".."})


def _check_name(name: str) -> None:
    shown = name[:80]
    if not name or len(name) > 1024:
        raise _fail("ofd.zip_name", "an entry has an empty or overlong name", name=shown)
    # as written, and as a URI-decoding reader reads it
    for spelling in (name, unquote(name)) if "%" in name else (name,):
        if "\\" in spelling or "\x00" in spelling or spelling.startswith("/"):
            raise _fail("ofd.zip_name", f"entry name {shown!r} is not relative", name=shown)
        if ":" in spelling.split("/", 1)[0]:
            raise _fail("ofd.zip_name", f"entry name {shown!r} has a drive", name=shown)
        if _NOT_NORMAL.intersection(spelling.removesuffix("/").split("/")):
            raise _fail("ofd.zip_name", f"entry name {shown!r} is not normalised", name=shown)


def _extra_fields(extra: bytes, name: str) -> dict[int, bytes]:
    """The extra field's blocks by tag. Refused unless they fill it exactly, each tag once:
    readers that take the first block of a tag and readers that take the last must agree."""
    fields: dict[int, bytes] = {}
    i = 0
    while i < len(extra):
        if i + 4 > len(extra):
            break
        tag, size = struct.unpack_from("<HH", extra, i)
        if i + 4 + size > len(extra) or tag in fields:
            break
        fields[tag] = extra[i + 4 : i + 4 + size]
        i += 4 + size
    else:
        return fields
    raise _fail("ofd.zip_mismatch", f"{name!r}: a malformed extra field", name=name[:80])


def _check_unicode_path(fields: dict[int, bytes], name: str) -> None:
    """An Info-ZIP Unicode Path (0x7075), in either header, names the entry itself: readers
    that honour it (libarchive, commons-compress) would read another name."""
    upath = fields.get(0x7075)
    if upath is not None and upath[5:] != name.encode("utf-8"):
        raise _fail("ofd.zip_name", f"{name!r} carries a second, different name", name=name[:80])


def _take64(z64: bytes | None, values: list[int], sentinels: list[int], name: str) -> list[int]:
    """Replace the sentinel values by the zip64 extra field's, in the order the format gives."""
    out = []
    pos = 0
    for value, sentinel in zip(values, sentinels, strict=True):
        if value != sentinel:
            out.append(value)
            continue
        if z64 is None or pos + 8 > len(z64):
            raise _fail("ofd.zip_large_format", f"{name!r}: zip64 sizes are missing", name=name)
        out.append(struct.unpack_from("<Q", z64, pos)[0])
        pos += 8
    return out


def _decode_name(raw: bytes, flags: int) -> str:
    if flags & _UTF8 or raw.isascii():
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _fail("ofd.zip_name", "an entry name is not UTF-8", name=repr(raw[:40])) from exc
    else:  # cp437 for zipfile, GBK for many Chinese tools: two readings
        raise _fail(
            "ofd.zip_name", "a non-ASCII entry name without the UTF-8 flag", name=repr(raw[:40])
        )
    return name


def _end_record(data: bytes) -> tuple[int, int, int, int]:
    """(entries, central directory size, offset, where the end records begin)."""
    size = len(data)
    tail_start = max(0, size - _END_FMT.size - _U16)
    found = []
    at = data.find(_END, tail_start)
    while at != -1:
        if at + _END_FMT.size <= size:
            comment_len = _END_FMT.unpack_from(data, at)[7]
            if at + _END_FMT.size + comment_len == size:
                found.append(at)
        at = data.find(_END, at + 1)
    if not found:
        raise _fail("ofd.zip_end", "no end record ends the file (data appended?)")
    if len(found) > 1 or _END in data[found[0] + _END_FMT.size :]:
        raise _fail("ofd.zip_end", "a second end record inside the zip comment")
    end = found[0]
    _, disk, cd_disk, n_disk, n_total, cd_size, cd_offset, _ = _END_FMT.unpack_from(data, end)
    if disk != 0 or cd_disk != 0 or n_disk != n_total:
        raise _fail("ofd.zip_central", "a multi-disk archive")
    loc = end - _LOCATOR64_FMT.size
    has_locator = loc >= 0 and data[loc : loc + 4] == _LOCATOR64
    if _U16 not in (n_total, n_disk) and _U32 not in (cd_size, cd_offset):
        if has_locator:  # Python's zipfile takes it, sentinels or not, and its directory
            raise _fail("ofd.zip_large_format", "a zip64 locator the end record does not use")
        return n_total, cd_size, cd_offset, end
    # zip64: a locator right before the end record, naming the zip64 end record.
    if not has_locator:
        raise _fail("ofd.zip_large_format", "zip64 sizes without a zip64 end record")
    _, disk64, offset64, disks = _LOCATOR64_FMT.unpack_from(data, loc)
    if disk64 != 0 or disks != 1 or offset64 + _END64_FMT.size > loc:
        raise _fail("ofd.zip_large_format", "an inconsistent zip64 end-record locator")
    sig, rec_size, _, _, d64, cd64, nd64, nt64, size64, off64 = _END64_FMT.unpack_from(
        data, offset64
    )
    if sig != _END64 or offset64 + 12 + rec_size != loc or d64 or cd64 or nd64 != nt64:
        raise _fail("ofd.zip_large_format", "an inconsistent zip64 end record")
    if rec_size != _END64_FMT.size - 12:  # readers that assume none (Python's zipfile) read
        raise _fail(  # its last 56 bytes as the zip64 end record: a second directory
            "ofd.zip_large_format", "a zip64 end record with an extensible data sector"
        )
    for small, big, sentinel in ((n_total, nt64, _U16), (cd_size, size64, _U32)):
        if small not in (sentinel, big):
            raise _fail("ofd.zip_large_format", "the end record and the zip64 end record disagree")
    if cd_offset not in (_U32, off64) or off64 + size64 != offset64:
        raise _fail("ofd.zip_large_format", "the end record and the zip64 end record disagree")
    return nt64, size64, off64, offset64


def entry_count(data: bytes) -> int:
    """The entry count the end records declare (cheap: a cap can refuse before the records
    are read one by one)."""
    return _end_record(data)[0]


def read_entries(data: bytes) -> list[Entry]:
    """The entries of the container, refused unless every reader would read the same ones."""
    if not data.startswith(_LOCAL):
        raise _fail("ofd.zip_start", "the file does not start with a local header")
    count, cd_size, cd_offset, end = _end_record(data)
    if cd_offset + cd_size != end:
        raise _fail("ofd.zip_central", "the central directory does not end at the end record")
    entries: list[Entry] = []
    pos = cd_offset
    next_local = 0  # where the next local header must begin
    seen: dict[str, str] = {}
    for _ in range(count):
        if pos + _CENTRAL_FMT.size > end:
            raise _fail("ofd.zip_central", "the central directory is truncated")
        (sig, _, _, flags, method, _, _, crc, csize, usize, nlen, elen, clen, disk, _, ext_attr,
         offset) = _CENTRAL_FMT.unpack_from(data, pos)  # fmt: skip
        if sig != _CENTRAL:
            raise _fail("ofd.zip_central", "a central-directory record is malformed")
        raw_name = data[pos + 46 : pos + 46 + nlen]
        extra = data[pos + 46 + nlen : pos + 46 + nlen + elen]
        pos += 46 + nlen + elen + clen
        if pos > end:
            raise _fail("ofd.zip_central", "the central directory is truncated")
        name = _decode_name(raw_name, flags)
        _check_name(name)
        fields = _extra_fields(extra, name)
        _check_unicode_path(fields, name)
        z64 = fields.get(0x0001)
        usize, csize, offset, disk = _take64(
            z64, [usize, csize, offset, disk], [_U32, _U32, _U32, _U16], name
        )
        if disk != 0:
            raise _fail("ofd.zip_central", "a multi-disk archive")
        if name.endswith("/") and (usize or csize):  # a file to readers that ignore the '/'
            raise _fail("ofd.zip_name", f"directory {name[:80]!r} holds data", name=name[:80])
        entry = _local_entry(
            data,
            name,
            raw_name,
            flags=flags,
            method=method,
            crc=crc,
            csize=csize,
            usize=usize,
            offset=offset,
        )
        if offset != next_local:
            what = "overlaps another" if offset < next_local else "leaves a gap before it"
            raise _fail("ofd.zip_layout", f"entry {name!r} {what}", name=name[:80])
        next_local = _entry_end(data, entry, entries_end=cd_offset)
        key = name_key(name.removesuffix("/"))
        if key in seen:
            raise _fail(
                "ofd.zip_duplicate",
                f"entries {seen[key]!r} and {name!r} name one file",
                name=name[:80],
                other=seen[key][:80],
            )
        seen[key] = name
        entries.append(
            Entry(name, method, flags, crc, csize, usize, entry.data_start, ext_attr >> 16)
        )
    if pos != end:
        raise _fail("ofd.zip_central", "the central directory holds more than its records")
    if next_local != cd_offset:
        last = entries[-1].name[:80] if entries else "-"
        raise _fail("ofd.zip_layout", "data before the central directory", name=last)
    return entries


def _local_entry(
    data: bytes,
    name: str,
    raw_name: bytes,
    *,
    flags: int,
    method: int,
    crc: int,
    csize: int,
    usize: int,
    offset: int,
) -> Entry:
    shown = name[:80]
    if offset + _LOCAL_FMT.size > len(data):
        raise _fail("ofd.zip_layout", f"entry {shown!r} starts past the end", name=shown)
    (sig, _, lflags, lmethod, _, _, lcrc, lcsize, lusize, nlen, elen) = _LOCAL_FMT.unpack_from(
        data, offset
    )
    if sig != _LOCAL:
        raise _fail("ofd.zip_layout", f"no local header for {shown!r}", name=shown)
    lname = data[offset + 30 : offset + 30 + nlen]
    lextra = data[offset + 30 + nlen : offset + 30 + nlen + elen]
    if flags & _ENCRYPTED or lflags & _ENCRYPTED:
        raise _fail("ofd.zip_encrypted", f"entry {shown!r} is encrypted", name=shown)
    if method not in (STORED, DEFLATED):
        raise _fail("ofd.zip_method", f"{shown!r} uses method {method}", name=shown, method=method)
    if lname != raw_name or lflags != flags or lmethod != method:
        raise _fail("ofd.zip_mismatch", f"{shown!r}: headers disagree", name=shown)
    lfields = _extra_fields(lextra, name)
    _check_unicode_path(lfields, name)
    z64 = lfields.get(0x0001)
    if z64 is not None or _U32 in (lcsize, lusize):
        lusize, lcsize = _take64(z64, [lusize, lcsize], [_U32, _U32], name)
    local = (lcrc, lcsize, lusize)
    if flags & _HAS_DESCRIPTOR:
        if method == STORED:  # a streaming reader cannot find where such an entry ends
            raise _fail("ofd.zip_layout", f"stored {shown!r} with a data descriptor", name=shown)
        if local not in ((0, 0, 0), (crc, csize, usize)):
            raise _fail("ofd.zip_mismatch", f"{shown!r}: headers disagree", name=shown)
    elif local != (crc, csize, usize):
        raise _fail("ofd.zip_mismatch", f"{shown!r}: headers disagree", name=shown)
    if method == STORED and csize != usize:
        raise _fail("ofd.zip_mismatch", f"stored {shown!r} changes size", name=shown)
    return Entry(name, method, flags, crc, csize, usize, offset + 30 + nlen + elen, 0)


def _entry_end(data: bytes, entry: Entry, *, entries_end: int) -> int:
    """Where the entry (with its data descriptor) ends: the next local header's offset."""
    end = entry.data_start + entry.compressed
    if end > entries_end:
        shown = entry.name[:80]
        raise _fail("ofd.zip_layout", f"entry {shown!r} overlaps the directory", name=shown)
    if not entry.flags & _HAS_DESCRIPTOR:
        return end
    # The descriptor: optional signature, CRC, then 4- or 8-byte sizes (zip64).
    for has_sig in (True, False):
        start = end + (4 if has_sig else 0)
        if has_sig and data[end : end + 4] != _DESCRIPTOR:
            continue
        for fmt in ("<III", "<IQQ"):
            size = struct.calcsize(fmt)
            if start + size > entries_end:
                continue
            if struct.unpack_from(fmt, data, start) == (entry.crc, entry.compressed, entry.size):
                following = data[start + size : start + size + 4]
                if start + size == entries_end or following == _LOCAL:
                    return start + size
    shown = entry.name[:80]
    raise _fail("ofd.zip_mismatch", f"{shown!r}: the data descriptor disagrees", name=shown)


def inflate(data: bytes, entry: Entry, sink: Callable[[bytes], None]) -> None:
    """Feed the entry's bytes to `sink`, chunk by chunk, checking that the deflate stream ends
    exactly at the compressed size and gives the declared size and CRC (never more)."""
    shown = entry.name[:80]
    view = memoryview(data)[entry.data_start : entry.data_start + entry.compressed]
    produced = 0
    crc = 0
    if entry.method == STORED:
        for i in range(0, len(view), _CHUNK):
            chunk = bytes(view[i : i + _CHUNK])
            crc = zlib.crc32(chunk, crc)
            sink(chunk)
        produced = len(view)
    else:
        d = zlib.decompressobj(-15)
        try:
            for i in range(0, len(view), _CHUNK):
                pending: bytes | memoryview = view[i : i + _CHUNK]
                while pending:
                    if d.eof:
                        raise _fail("ofd.zip_data", f"{shown!r}: data after its end", name=shown)
                    out = d.decompress(pending, _CHUNK)
                    pending = d.unconsumed_tail
                    produced += len(out)
                    if produced > entry.size:
                        raise _fail("ofd.zip_data", f"{shown!r} inflates too far", name=shown)
                    crc = zlib.crc32(out, crc)
                    sink(out)
        except zlib.error as exc:
            raise _fail("ofd.zip_data", f"{shown!r} is not a deflate stream", name=shown) from exc
        if not d.eof or d.unused_data:
            raise _fail("ofd.zip_data", f"{shown!r}: stream and entry end apart", name=shown)
    if produced != entry.size or crc != entry.crc:
        raise _fail("ofd.zip_data", f"{shown!r}: size or CRC differs", name=shown)


__all__ = [
    "DEFLATED",
    "STORED",
    "Entry",
    "OfdError",
    "entry_count",
    "inflate",
    "name_key",
    "read_entries",
]
