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

import io
import posixpath
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from verifier import deadline

OFD_NS: Final = "http://www.ofdspec.org/2016"


class OfdError(ValueError):
    """The package or one of its signature files cannot be accepted (the message says why)."""


@dataclass(frozen=True, slots=True)
class OfdLimits:
    max_file_bytes: int = 64 * 1024 * 1024
    max_entries: int = 4096
    max_entry_bytes: int = 64 * 1024 * 1024
    max_total_bytes: int = 256 * 1024 * 1024
    max_ratio: int = 200  # uncompressed / compressed, for entries over 1 MiB
    max_xml_bytes: int = 4 * 1024 * 1024
    max_signatures: int = 64
    max_references: int = 4096


_CHUNK: Final = 64 * 1024
_ZIP_MAGIC: Final = b"PK\x03\x04"


def looks_like_ofd(data: bytes) -> bool:
    """A zip package whose entries include OFD.xml (a cheap sniff; reading checks the rest)."""
    if not data.startswith(_ZIP_MAGIC):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return any(n.lstrip("/") == "OFD.xml" for n in zf.namelist()[:4096])
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return False


def _check_name(name: str) -> str:
    if not name or len(name) > 1024:
        raise OfdError("an entry has an empty or overlong name")
    if "\\" in name or "\x00" in name or ":" in name.split("/", 1)[0]:
        raise OfdError(f"entry name {name[:80]!r} is not a plain relative path")
    if name.startswith("/"):
        raise OfdError(f"entry name {name[:80]!r} is absolute")
    parts = name.rstrip("/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise OfdError(f"entry name {name[:80]!r} leaves the package or is not normalised")
    return name


class OfdPackage:
    """The files of an OFD package, read on demand within the limits."""

    def __init__(self, data: bytes, limits: OfdLimits | None = None) -> None:
        self.limits = limits or OfdLimits()
        lim = self.limits
        if len(data) > lim.max_file_bytes:
            raise OfdError(
                f"the file is {len(data)} bytes, over the {lim.max_file_bytes}-byte limit"
            )
        if not data.startswith(_ZIP_MAGIC):
            raise OfdError("not a zip package")
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError) as exc:
            raise OfdError(f"not a readable zip package ({exc})") from exc
        if len(infos) > lim.max_entries:
            raise OfdError(f"{len(infos)} entries, over the limit of {lim.max_entries}")
        self._files: dict[str, zipfile.ZipInfo] = {}
        folded: set[str] = set()
        declared = 0
        for info in infos:
            name = _check_name(info.filename)
            if info.is_dir():
                continue
            mode = info.external_attr >> 16
            if mode and stat.S_ISLNK(mode):
                raise OfdError(f"entry {name!r} is a symbolic link")
            if info.flag_bits & 0x1:
                raise OfdError(f"entry {name!r} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise OfdError(f"entry {name!r} uses compression method {info.compress_type}")
            if name.casefold() in folded:
                raise OfdError(f"the package holds two entries named {name!r}")
            folded.add(name.casefold())
            if info.file_size > lim.max_entry_bytes:
                raise OfdError(
                    f"entry {name!r} is {info.file_size} bytes uncompressed, over the limit"
                )
            if info.file_size > 1024 * 1024 and info.file_size > lim.max_ratio * max(
                info.compress_size, 1
            ):
                raise OfdError(f"entry {name!r} has a compression ratio typical of a zip bomb")
            declared += info.file_size
            if declared > lim.max_total_bytes:
                raise OfdError("the package declares more uncompressed data than allowed")
            self._files[name] = info
        self._read_total = 0
        self._cache: dict[str, bytes] = {}

    @property
    def names(self) -> list[str]:
        return list(self._files)

    def exists(self, path: str) -> bool:
        return path in self._files

    def read(self, path: str) -> bytes:
        """The entry's bytes, decompressed within the limits (declared sizes are not trusted)."""
        deadline.check()  # every entry a verification reads or hashes passes here
        if path in self._cache:
            return self._cache[path]
        info = self._files.get(path)
        if info is None:
            raise OfdError(f"{path} is not in the package")
        lim = self.limits
        out = bytearray()
        try:
            with self._zip.open(info) as fh:
                while True:
                    chunk = fh.read(_CHUNK)
                    if not chunk:
                        break
                    out += chunk
                    if len(out) > info.file_size or len(out) > lim.max_entry_bytes:
                        raise OfdError(f"entry {path!r} inflates beyond its declared size")
                    if self._read_total + len(out) > lim.max_total_bytes:
                        raise OfdError("the package inflates to more data than allowed")
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
            if isinstance(exc, OfdError):
                raise
            raise OfdError(f"entry {path!r} cannot be read ({exc})") from exc
        self._read_total += len(out)
        data = bytes(out)
        if len(self._cache) < 256:
            self._cache[path] = data
        return data

    def xml(self, path: str) -> Element:
        data = self.read(path)
        if len(data) > self.limits.max_xml_bytes:
            raise OfdError(f"{path} is larger than {self.limits.max_xml_bytes} bytes")
        return parse_xml(data, path)


def parse_xml(data: bytes, what: str) -> Element:
    """XML without DTDs, entities or external references (defusedxml)."""
    try:
        root: Element = fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as exc:
        raise OfdError(f"{what}: DTDs and entities are not allowed ({type(exc).__name__})") from exc
    except (ParseError, ValueError) as exc:
        raise OfdError(f"{what} is not well-formed XML ({exc})") from exc
    return root


def resolve(base_file: str, loc: str) -> str:
    """An ST_Loc path: absolute ('/Doc_0/..') from the package root, else relative to the
    directory of `base_file`. Never leaves the package."""
    loc = loc.strip()
    if not loc or "\\" in loc or "\x00" in loc or "://" in loc:
        raise OfdError(f"unusable path {loc[:80]!r}")
    joined = loc if loc.startswith("/") else posixpath.join("/", posixpath.dirname(base_file), loc)
    parts: list[str] = []
    for p in joined.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            if not parts:
                raise OfdError(f"path {loc[:80]!r} leaves the package")
            parts.pop()
        else:
            parts.append(p)
    if not parts:
        raise OfdError(f"path {loc[:80]!r} names no file")
    return "/".join(parts)


def resolve_existing(pkg: OfdPackage, base_file: str, loc: str) -> str:
    """resolve(); when that file is absent, the path taken from the package root (some producers
    write root-relative paths such as './Doc_0/Document.xml' in nested files)."""
    path = resolve(base_file, loc)
    if not pkg.exists(path) and not loc.strip().startswith("/"):
        alt = resolve("", loc)
        if pkg.exists(alt):
            return alt
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


def signatures(pkg: OfdPackage) -> list[SignatureRef]:
    """Every signature of every document of the package, in document order."""
    if not pkg.exists("OFD.xml"):
        raise OfdError("no OFD.xml entry point")
    root = pkg.xml("OFD.xml")
    if _local(root.tag) != "OFD":
        raise OfdError("OFD.xml's root element is not ofd:OFD")
    out: list[SignatureRef] = []
    for i, body in enumerate(_children(root, "DocBody")):
        loc = _text(_child(body, "Signatures"))
        if not loc:
            continue
        sigs_path = resolve("OFD.xml", loc)
        if not pkg.exists(sigs_path):
            raise OfdError(f"{sigs_path}, named in OFD.xml, is not in the package")
        sigs = pkg.xml(sigs_path)
        if _local(sigs.tag) != "Signatures":
            raise OfdError(f"{sigs_path}'s root element is not ofd:Signatures")
        for el in _children(sigs, "Signature"):
            sid = (el.get("ID") or "").strip()
            base = (el.get("BaseLoc") or "").strip()
            kind = (el.get("Type") or "Seal").strip()
            if not sid or not base:
                raise OfdError(f"{sigs_path}: a Signature without ID or BaseLoc")
            if kind not in ("Seal", "Sign"):
                raise OfdError(f"{sigs_path}: signature {sid} has unknown Type {kind[:20]!r}")
            out.append(SignatureRef(sid[:64], kind, resolve_existing(pkg, sigs_path, base), i))
            if len(out) > pkg.limits.max_signatures:
                raise OfdError(f"more than {pkg.limits.max_signatures} signatures")
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
        references.append(Reference(file_ref, resolve_existing(pkg, path, file_ref), value))
        if len(references) > pkg.limits.max_references:
            raise OfdError(f"{path}: more than {pkg.limits.max_references} references")
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
        seal_path=resolve_existing(pkg, path, seal_loc) if seal_loc else None,
        signed_value_path=resolve_existing(pkg, path, value_loc),
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
        "provider": dict(info.provider),
        "signature_method": info.signature_method,
        "signature_datetime": info.signature_datetime,
        "check_method": info.check_method,
        "protected_files": [r.path for r in info.references],
    }


__all__ = [
    "OfdError",
    "OfdLimits",
    "OfdPackage",
    "Reference",
    "SignatureInfo",
    "SignatureRef",
    "describe",
    "looks_like_ofd",
    "parse_xml",
    "resolve",
    "signature_info",
    "signatures",
    "unprotected",
]
