"""Reading OFD packages (GB/T 33190) safely, and the signature parts of them.

An OFD file is a zip package. It comes from outside, so reading it is bounded and suspicious:
- caps on the file size, the number of entries, each entry's and the total uncompressed size,
  and the compression ratio (zip bombs), enforced while decompressing, not only as declared;
- entry names must be relative POSIX paths without '..', backslashes, drive letters or NUL
  (path traversal), unique even ignoring case (two entries of one name would let a viewer show
  what the signature did not cover), not symlinks, not encrypted, stored or deflated only;
- nothing is ever written to disk;
- XML is parsed with defusedxml with DTDs forbidden: no entities, no external references (XXE).

The signature part (GB/T 33190 clause 18): OFD.xml -> DocBody/Signatures -> Signatures.xml ->
Signature (ID, Type "Seal" or "Sign", BaseLoc) -> Signature.xml: SignedInfo (Provider,
SignatureMethod, SignatureDateTime, References CheckMethod / Reference FileRef + CheckValue, Seal
BaseLoc, StampAnnot) and SignedValue."""

from __future__ import annotations

import posixpath
import re
import stat
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from keys.sm2 import sm3_hash
from verifier import deadline
from verifier.national import container
from verifier.national.container import OfdError

OFD_NS: Final = "http://www.ofdspec.org/2016"


@dataclass(frozen=True, slots=True)
class OfdLimits:
    """Caps on the work one OFD document may cause (docs/national-formats.md, "Caps"); each is
    a FAILED FORMAT_FAILURE verdict (`ofd.limits`) when exceeded, before the work is done where
    the package declares it."""

    max_file_bytes: int = 64 * 1024 * 1024
    max_entries: int = 4096
    max_entry_bytes: int = 64 * 1024 * 1024
    max_total_bytes: int = 256 * 1024 * 1024  # inflated, per document
    max_ratio: int = 200  # inflated / compressed, for every entry whatever its size
    max_package_ratio: int = 32  # all entries inflated / the file's size
    max_hashed_bytes: int = 256 * 1024 * 1024  # hashed for check values, per document
    max_xml_bytes: int = 4 * 1024 * 1024
    max_xml_total_bytes: int = 32 * 1024 * 1024  # XML parsed per document
    max_signatures: int = 64
    max_references: int = 4096

    def __post_init__(self) -> None:
        for name in self.__slots__:
            if getattr(self, name) <= 0:
                raise ValueError(f"OfdLimits.{name} must be positive")


_CAPS: Final = {
    "file bytes": "文件字节数",
    "entries": "条目数",
    "entry bytes": "单个条目解压后的字节数",
    "compression ratio": "单个条目的压缩比",
    "inflated bytes": "解压后的总字节数",
    "package ratio": "整个包的压缩比",
    "hashed bytes": "计算校验值的总字节数",
    "parsed XML bytes": "解析的 XML 总字节数",
    "signatures": "签名数",
    "references of one signature": "单个签名的引用数",
}


def _limit(message: str, what: str, value: int, limit: int) -> OfdError:
    return OfdError(
        f"{message}: {what} {value} over {limit}",
        "ofd.limits",
        what_zh=_CAPS[what],
        what_en=what,
        value=value,
        limit=limit,
    )


def looks_like_ofd(data: bytes) -> bool:
    """A zip package whose entries include OFD.xml (a cheap sniff; reading checks the rest)."""
    if not data.startswith(b"PK\x03\x04"):
        return False
    try:
        return any(e.name == "OFD.xml" for e in container.read_entries(data))
    except OfdError:
        return data.find(b"OFD.xml", 0, 64 * 1024) != -1  # a refused package is still an OFD


class OfdPackage:
    """The files of an OFD package (one reading of the container, verifier/national/container.py),
    inflated on demand within the limits: each entry at most once, its SM3 digest memoised."""

    def __init__(self, data: bytes, limits: OfdLimits | None = None) -> None:
        self.limits = limits or OfdLimits()
        lim = self.limits
        if len(data) > lim.max_file_bytes:
            raise _limit("file too large", "file bytes", len(data), lim.max_file_bytes)
        if data.startswith(b"PK\x03\x04"):  # else read_entries says why not
            declared_entries = container.entry_count(data)  # before reading them one by one
            if declared_entries > lim.max_entries:
                raise _limit("too many entries", "entries", declared_entries, lim.max_entries)
        entries = container.read_entries(data)
        self._data = data
        self._files: dict[str, container.Entry] = {}
        self._by_key: dict[str, str] = {}
        declared = 0
        for e in entries:
            if e.is_dir:
                continue
            if e.mode and stat.S_ISLNK(e.mode):
                shown = e.name[:80]
                raise OfdError(f"{shown!r} is a symbolic link", "ofd.zip_symlink", name=shown)
            if e.size > lim.max_entry_bytes:
                raise _limit("entry too large", "entry bytes", e.size, lim.max_entry_bytes)
            if e.size > lim.max_ratio * max(e.compressed, 1):
                ratio = e.size // max(e.compressed, 1)
                raise _limit("zip bomb", "compression ratio", ratio, lim.max_ratio)
            declared += e.size
            self._files[e.name] = e
            self._by_key[container.name_key(e.name)] = e.name
        if declared > lim.max_total_bytes:
            raise _limit("too much data", "inflated bytes", declared, lim.max_total_bytes)
        if declared > lim.max_package_ratio * max(len(data), 1):
            ratio = declared // max(len(data), 1)
            raise _limit("zip bomb", "package ratio", ratio, lim.max_package_ratio)
        self._bytes: dict[str, bytes] = {}
        self._digests: dict[str, bytes] = {}
        self._inflated: set[str] = set()
        self._parsed: dict[str, Element] = {}
        self.located: dict[tuple[str, str, str | None], str | None] = {}  # ofd.locate's
        self.inflated_bytes = 0
        self.hashed_bytes = 0
        self.parsed_bytes = 0

    @property
    def names(self) -> list[str]:
        return list(self._files)

    def exists(self, path: str) -> bool:
        return path in self._files

    def entry_for(self, key: str) -> str | None:
        """The entry whose normalised name (container.name_key) is `key`: at most one."""
        return self._by_key.get(key)

    def _info(self, path: str) -> container.Entry:
        info = self._files.get(path)
        if info is None:
            raise OfdError(f"{path} is not in the package")
        return info

    def _inflate(self, path: str, sink: Any) -> None:
        """Inflate one entry; read() keeps what fits in max_xml_bytes and read() and digest()
        go through it, so no entry is inflated twice."""
        info = self._info(path)
        deadline.check()  # every entry a verification reads, hashes or checks passes here
        self._inflated.add(path)
        self.inflated_bytes += info.size  # the declared size; inflate() refuses any other
        container.inflate(self._data, info, sink)

    def read(self, path: str) -> bytes:
        """The entry's bytes (an XML or signature file: at most max_xml_bytes), kept."""
        data = self._bytes.get(path)
        if data is not None:
            return data
        info = self._info(path)
        if info.size > self.limits.max_xml_bytes:
            raise OfdError(f"{path} is larger than {self.limits.max_xml_bytes} bytes")
        out = bytearray()
        self._inflate(path, out.extend)
        data = self._bytes[path] = bytes(out)
        return data

    def digest(self, path: str) -> bytes:
        """SM3 of the entry, computed once per document (streaming unless already read)."""
        known = self._digests.get(path)
        if known is not None:
            return known
        info = self._info(path)
        lim = self.limits
        if self.hashed_bytes + info.size > lim.max_hashed_bytes:
            total = self.hashed_bytes + info.size
            raise _limit("too much to hash", "hashed bytes", total, lim.max_hashed_bytes)
        self.hashed_bytes += info.size
        h = sm3_hash()
        if path in self._bytes or info.size <= _KEEP_HASHED:  # small: kept, a later
            h.update(self.read(path))  # signature may read it (Signature.xml, SignedValue)
        else:  # streamed, not held: a later read of it (a large signature file named by an
            self._inflate(path, h.update)  # earlier signature) inflates it once more
        value = self._digests[path] = h.finalize()
        return value

    def finish(self) -> None:
        """Inflate every entry not inflated yet (without hashing): each deflate stream must end
        where its entry ends, with its size and CRC, or a streaming reader could read others."""
        for path in self._files:
            if path not in self._inflated:
                self._inflate(path, _discard)

    def xml(self, path: str) -> Element:
        """The entry parsed (once; the tree is never changed)."""
        root = self._parsed.get(path)
        if root is None:
            data = self.read(path)
            self.parsed_bytes += len(data)
            cap = self.limits.max_xml_total_bytes
            if self.parsed_bytes > cap:
                raise _limit("too much XML", "parsed XML bytes", self.parsed_bytes, cap)
            root = self._parsed[path] = parse_xml(data, path)
        return root


_KEEP_HASHED: Final = 256 * 1024


def _discard(_: bytes) -> None:
    return None


def parse_xml(data: bytes, what: str) -> Element:
    """XML without DTDs, entities or external references (defusedxml)."""
    try:
        root: Element = fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as exc:
        raise OfdError(f"{what}: DTDs and entities are not allowed ({type(exc).__name__})") from exc
    except (ParseError, ValueError, LookupError) as exc:  # LookupError: an unknown encoding
        raise OfdError(f"{what} is not well-formed XML ({exc})") from exc
    return root


# -- locations (ST_Loc) -----------------------------------------------------------------------


def _path_error(loc: str, why_en: str, why_zh: str) -> OfdError:
    return OfdError(
        f"location {loc[:80]!r} {why_en}", "ofd.path", loc=loc[:80], why=why_zh, why_en=why_en
    )


def _normalise(joined: str, loc: str) -> str:
    """'/'-joined path -> the entry key: '\\' as '/', percent-escapes decoded, NFC, case
    folded, '.' dropped, '..' applied (never above the root)."""
    text = joined.replace("\\", "/")
    if "%" in text:
        text = unquote(text)
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    parts: list[str] = []
    for p in text.casefold().split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            if not parts:
                raise _path_error(loc, "leaves the package", "超出了包的根目录")
            parts.pop()
        else:
            parts.append(p)
    if not parts:
        raise _path_error(loc, "names no file", "没有指向任何文件")
    return "/".join(parts)


def _check_loc(loc: str) -> str:
    loc = loc.strip()
    if not loc or "\x00" in loc or "://" in loc or len(loc) > 1024:
        raise _path_error(loc, "is not a usable path", "不是可用的路径")
    return loc


def resolve(base_file: str, loc: str) -> str:
    """The standard reading of an ST_Loc (GB/T 33190): absolute ('/Doc_0/..') from the package
    root, else relative to the folder of `base_file`; normalised as an entry key. Never leaves
    the package."""
    loc = _check_loc(loc)
    joined = loc if loc.startswith("/") else posixpath.join(posixpath.dirname(base_file), loc)
    return _normalise(joined, loc)


def locate(pkg: OfdPackage, base_file: str, loc: str, *, folder: str | None = None) -> str | None:
    """The one entry a location names, or None when it names none.

    The standard reading (`resolve`; relative locations from `folder` when given, e.g. a
    resource file from its Res BaseLoc) is what counts; the readings other software uses for
    relative locations (from the package root, as some producers write FileRefs; from the
    referencing file's own folder) are computed too, and when two readings name two different
    entries the package is refused: there is no "first that exists"."""
    absolute = loc.strip().startswith("/")
    memo = ("" if absolute else posixpath.dirname(base_file), loc, folder)
    if memo in pkg.located:  # sixty-four signatures may name the same files
        return pkg.located[memo]
    found = _locate(pkg, base_file, loc, folder)
    if len(pkg.located) < _MAX_LOCATED:
        pkg.located[memo] = found
    return found


_MAX_LOCATED: Final = 65536


def _locate(pkg: OfdPackage, base_file: str, loc: str, folder: str | None) -> str | None:
    loc = _check_loc(loc)
    if loc.startswith("/"):
        readings = [_normalise(loc, loc)]
    else:
        base = folder if folder is not None else posixpath.dirname(base_file)
        readings = [_normalise(posixpath.join(base, loc), loc)]
        for other in (posixpath.join(posixpath.dirname(base_file), loc), loc):
            try:
                readings.append(_normalise(other, loc))
            except OfdError:  # that reading leaves the package: it names nothing
                continue
    found = {name for name in map(pkg.entry_for, readings) if name is not None}
    if len(found) > 1:
        a, b = sorted(found)[:2]
        raise OfdError(
            f"{base_file} names {loc[:80]!r}, which reads as both {a} and {b}",
            "ofd.path_ambiguous",
            loc=loc[:80],
            file="/" + base_file,
            a="/" + a,
            b="/" + b,
        )
    return found.pop() if found else None


def _must_locate(pkg: OfdPackage, base_file: str, loc: str) -> str:
    path = locate(pkg, base_file, loc)
    if path is None:
        raise OfdError(f"{loc[:80]}, named in {base_file}, is not in the package")
    return path


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: Element, name: str) -> Iterator[Element]:
    for child in el:
        if isinstance(child.tag, str) and _local(child.tag) == name:
            yield child


def _child(el: Element, name: str) -> Element | None:
    return next(_children(el, name), None)


def _text(el: Element | None) -> str | None:
    if el is None or el.text is None:
        return None
    return el.text.strip()


@dataclass(frozen=True, slots=True)
class SignatureRef:
    """One <ofd:Signature> of a Signatures.xml."""

    id: str
    type: str  # "Seal" or "Sign"
    path: str  # the Signature.xml
    doc_index: int


@dataclass(frozen=True, slots=True)
class Reference:
    file_ref: str  # as written
    path: str  # resolved in the package
    check_value: str  # base64, as written


@dataclass(frozen=True, slots=True)
class SignatureInfo:
    """A parsed Signature.xml."""

    path: str
    provider: dict[str, str]
    signature_method: str | None
    signature_datetime: str | None
    check_method: str | None
    references: tuple[Reference, ...]
    seal_path: str | None
    signed_value_path: str
    stamp_pages: tuple[str, ...] = field(default=())


def _root(pkg: OfdPackage) -> Element:
    if not pkg.exists("OFD.xml"):
        raise OfdError("no OFD.xml entry point")
    root = pkg.xml("OFD.xml")
    if _local(root.tag) != "OFD":
        raise OfdError("OFD.xml's root element is not ofd:OFD")
    return root


def signatures(pkg: OfdPackage) -> list[SignatureRef]:
    """Every signature of every document of the package, in document order."""
    root = _root(pkg)
    out: list[SignatureRef] = []
    for i, body in enumerate(_children(root, "DocBody")):
        loc = _text(_child(body, "Signatures"))
        if not loc:
            continue
        sigs_path = _must_locate(pkg, "OFD.xml", loc)
        sigs = pkg.xml(sigs_path)
        if _local(sigs.tag) != "Signatures":
            raise OfdError(f"{sigs_path}'s root element is not ofd:Signatures")
        for el in _children(sigs, "Signature"):
            sid = (el.get("ID") or "").strip()
            base = (el.get("BaseLoc") or "").strip()
            sig_type = (el.get("Type") or "Seal").strip()  # a seal, or a signature without one
            if not sid or not base:
                raise OfdError(f"{sigs_path}: a Signature without ID or BaseLoc")
            if sig_type not in ("Seal", "Sign"):
                raise OfdError(f"{sigs_path}: signature {sid} has unknown Type {sig_type[:20]!r}")
            path = locate(pkg, sigs_path, base) or base.lstrip("/")
            out.append(SignatureRef(sid[:64], sig_type, path, i))
            limit = pkg.limits.max_signatures
            if len(out) > limit:
                raise _limit("too many signatures", "signatures", len(out), limit)
    if len({s.id for s in out}) != len(out):
        raise OfdError("two signatures share one ID")
    return out


def signature_info(pkg: OfdPackage, ref: SignatureRef) -> SignatureInfo:
    path = ref.path
    if not pkg.exists(path):
        raise OfdError(f"{path} is not in the package")
    root = pkg.xml(path)
    if _local(root.tag) != "Signature":
        raise OfdError(f"{path}'s root element is not ofd:Signature")
    signed_info = _child(root, "SignedInfo")
    if signed_info is None:
        raise OfdError(f"{path} has no SignedInfo")
    provider: dict[str, str] = {}
    prov = _child(signed_info, "Provider")
    if prov is not None:
        for key in ("ProviderName", "Company", "Version"):
            value = prov.get(key) or _text(_child(prov, key))
            if value:
                provider[key] = value[:256]
    refs_el = _child(signed_info, "References")
    if refs_el is None:
        raise OfdError(f"{path} has no References")
    check_method = refs_el.get("CheckMethod")
    references: list[Reference] = []
    for r in _children(refs_el, "Reference"):
        file_ref = (r.get("FileRef") or "").strip()
        value = _text(_child(r, "CheckValue"))
        if not file_ref or not value:
            raise OfdError(f"{path}: a Reference without FileRef or CheckValue")
        # A missing file keeps its name as written: the verdict names it.
        located = locate(pkg, path, file_ref) or file_ref.lstrip("/")
        references.append(Reference(file_ref, located, value))
        limit = pkg.limits.max_references
        if len(references) > limit:
            raise _limit(
                "too many references", "references of one signature", len(references), limit
            )
    if not references:
        raise OfdError(f"{path} protects no file")
    if len({r.path for r in references}) != len(references):
        raise OfdError(f"{path} references one file twice")
    seal_el = _child(signed_info, "Seal")
    seal_loc = _text(_child(seal_el, "BaseLoc")) if seal_el is not None else None
    value_loc = _text(_child(root, "SignedValue"))
    if not value_loc:
        raise OfdError(f"{path} has no SignedValue")
    pages = tuple((a.get("PageRef") or "")[:32] for a in _children(signed_info, "StampAnnot"))
    return SignatureInfo(
        path=path,
        provider=provider,
        signature_method=_text(_child(signed_info, "SignatureMethod")),
        signature_datetime=_text(_child(signed_info, "SignatureDateTime")),
        check_method=check_method.strip() if check_method is not None else None,
        references=tuple(references),
        seal_path=_must_locate(pkg, path, seal_loc) if seal_loc else None,
        signed_value_path=_must_locate(pkg, path, value_loc),
        stamp_pages=pages,
    )


def unprotected(pkg: OfdPackage, info: SignatureInfo) -> list[str]:
    """Files of the package this signature does not cover (besides its own files and the
    Signatures.xml that later signatures extend): added after signing, or never signed."""
    covered = {r.path for r in info.references} | {info.path, info.signed_value_path}
    return sorted(n for n in pkg.names if n not in covered and not n.endswith("Signatures.xml"))


def describe(info: SignatureInfo) -> dict[str, Any]:
    return {
        "signature_xml": info.path,
        "signed_value": info.signed_value_path,
        "seal_file": info.seal_path,
        "provider": dict(info.provider),
        "signature_method": info.signature_method,
        "signature_datetime": info.signature_datetime,
        "check_method": info.check_method,
        "protected_files": [r.path for r in info.references],
    }


# -- what a viewer renders --------------------------------------------------------------------

# Elements whose text is a location, and elements whose BaseLoc attribute is one (GB/T 33190:
# OFD.xml, Document.xml, pages and templates, resources, annotations, attachments, custom tags,
# extensions). The files they name are read and followed when they are XML of the document.
_LOC_TEXT: Final = frozenset(
    {
        "DocRoot", "PublicRes", "DocumentRes", "PageRes", "Annotations", "Attachments",
        "CustomTags", "Extensions", "FileLoc", "MediaFile", "FontFile", "ICCFile", "SchemaLoc",
        "ExtendData",
    }
)  # fmt: skip
_LOC_ATTR: Final = frozenset({"Page", "TemplatePage", "Version"})
_FOLLOW: Final = frozenset(
    {"DocRoot", "PublicRes", "DocumentRes", "PageRes", "Annotations", "Attachments",
     "CustomTags", "Extensions", "Page", "TemplatePage", "Version"}
)  # fmt: skip
_RESOURCE_FILES: Final = frozenset({"MediaFile", "FontFile", "ICCFile"})


@dataclass(frozen=True, slots=True)
class Rendering:
    """The files a viewer shows, from OFD.xml: `content` (the document itself) and
    `annotations` (reached only through Annotations: overlays added to pages)."""

    content: frozenset[str]
    annotations: frozenset[str]
    signature_lists: frozenset[str]  # the Signatures.xml files (judged with the signatures)

    @property
    def files(self) -> frozenset[str]:
        return self.content | self.annotations


def rendering(pkg: OfdPackage) -> Rendering:
    """Everything reachable from OFD.xml except the signatures (judged on their own): every
    location read by `locate`, so an ambiguous one refuses the package."""
    content: set[str] = set()
    annotations: set[str] = set()
    lists: set[str] = set()
    # (file, reached through annotations); content first so a file reachable both ways is content
    todo: list[tuple[str, bool]] = [("OFD.xml", False)]
    later: list[tuple[str, bool]] = []
    while todo or later:
        path, annot = todo.pop() if todo else later.pop()
        if path in content or (annot and path in annotations):
            continue
        (annotations if annot else content).add(path)
        if path.endswith("/"):
            continue
        if not _is_xml(pkg, path) or not _may_name_files(pkg.read(path)):
            continue
        root = pkg.xml(path)
        folder = posixpath.dirname(path)
        if _local(root.tag) == "Res" and root.get("BaseLoc"):
            folder = _folder(pkg, path, root.get("BaseLoc") or "")
        for el in root.iter():
            if not isinstance(el.tag, str):
                continue
            tag = _local(el.tag)
            if tag == "Signatures" and path == "OFD.xml":
                listed = locate(pkg, path, _text(el) or "")
                if listed is not None:
                    lists.add(listed)
                continue
            loc = el.get("BaseLoc") if tag in _LOC_ATTR else _text(el) if tag in _LOC_TEXT else None
            if not loc:
                continue
            target = locate(pkg, path, loc, folder=folder if tag in _RESOURCE_FILES else None)
            if target is None:
                continue
            follow = tag in _FOLLOW or (tag == "FileLoc" and _local(root.tag) == "Annotations")
            into_annot = annot or tag == "Annotations"
            if not follow:
                (annotations if into_annot else content).add(target)
                continue
            (later if into_annot else todo).append((target, into_annot))
    return Rendering(frozenset(content), frozenset(annotations - content), frozenset(lists))


def _is_xml(pkg: OfdPackage, path: str) -> bool:
    return path.lower().endswith(".xml")


_MARKERS: Final = re.compile(b"|".join(n.encode() for n in (*_LOC_TEXT, "BaseLoc", "Signatures")))


def _may_name_files(data: bytes) -> bool:
    """False only for XML in an ASCII-compatible encoding that holds none of the names a
    location is written under (element names cannot be escaped, DTDs are refused): most pages,
    which need not be parsed then. Any other XML is parsed."""
    head = data[:4].removeprefix(b"\xef\xbb\xbf").lstrip()
    if not head.startswith(b"<") or b"\x00" in head:  # '<\0': UTF-16/32 without a BOM
        return True
    return _MARKERS.search(data) is not None


def _folder(pkg: OfdPackage, res_file: str, base_loc: str) -> str:
    """A Res BaseLoc folder, in the package's spelling where it exists."""
    joined = (
        base_loc
        if base_loc.startswith("/")
        else posixpath.join(posixpath.dirname(res_file), base_loc)
    )
    return _normalise(joined + "/_", base_loc).rsplit("/", 1)[0]


__all__ = [
    "OfdError",
    "OfdLimits",
    "OfdPackage",
    "Reference",
    "Rendering",
    "SignatureInfo",
    "SignatureRef",
    "describe",
    "locate",
    "looks_like_ofd",
    "parse_xml",
    "rendering",
    "resolve",
    "signature_info",
    "signatures",
    "unprotected",
]
