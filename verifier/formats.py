"""The three signed document formats (docs/formats.md) and their strict claim parsers.

Each is a compact JWS with its own `typ`, so that one can never be accepted as another. Claims are
read strictly: required members present and typed, unknown members refused, sizes bounded.
Identifier check characters are not judged here but by the verifier (a wrong one is reported as
its own check, identifier.uscc / identifier.pid)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

import orjson

from keys import KeyMaterialError, PublicKey, public_key_from_jwk
from keys.frozen import positional_maker
from trust_lists.timeutil import LAST_EPOCH_SECOND

LICENCE_TYP: Final = "huren-licence+jwt"
SEAL_TYP: Final = "huren-seal+jwt"
SEALED_DOC_TYP: Final = "huren-sealed-doc+jwt"

# What each known typ is, for messages when one is presented as another.
KNOWN_TYPS: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        LICENCE_TYP: ("电子证照", "an e-licence"),
        SEAL_TYP: ("企业电子印章", "an enterprise e-seal"),
        SEALED_DOC_TYP: ("盖章文档的签名", "a sealed-document signature"),
        "statuslist+jwt": ("状态列表", "a status list"),
    }
)

# Seal types of GB/T 38540 practice; the catalogue (data) decides which are recognised where.
SEAL_TYPES: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        "official": ("公章", "official seal"),
        "contract": ("合同专用章", "contract seal"),
        "finance": ("财务专用章", "finance seal"),
        "invoice": ("发票专用章", "invoice seal"),
        "legal_rep": ("法定代表人名章", "legal representative's seal"),
    }
)

MAX_TEXT = 256
MAX_DATA_FIELDS = 64
MAX_DATA_VALUE = 1024
MAX_URI = 512
MAX_STATUS_INDEX = 2**31 - 1
MAX_NUMERIC_DATE = LAST_EPOCH_SECOND  # 9999-12-31T23:59:59Z, the last second datetime can hold

_JURISDICTION = re.compile(r"\A[1-9][0-9]{5}\Z")
_IDENT = re.compile(r"\A[a-z0-9][a-z0-9._-]{0,63}\Z")
_SHA256_HEX = re.compile(r"\A[0-9a-f]{64}\Z")


class ClaimError(ValueError):
    """The claims are not the documented form; the message names the member."""


@dataclass(frozen=True, slots=True)
class Holder:
    """A licence holder or a seal's enterprise: an enterprise (uscc) or a person (pid)."""

    name: str
    uscc: str | None = None
    pid: str | None = None

    @property
    def id(self) -> str:
        return self.uscc if self.uscc is not None else (self.pid or "")


@dataclass(frozen=True, slots=True)
class StatusRef:
    """IETF Token Status List reference: {"status": {"status_list": {"idx", "uri"}}}."""

    idx: int
    uri: str


@dataclass(frozen=True, slots=True)
class LicenceClaims:
    jurisdiction: str
    issuer: str
    number: str
    licence_type: str
    holder: Holder
    issued_at: datetime
    valid_from: datetime
    valid_to: datetime | None  # None: long-term (长期有效)
    data: Mapping[str, str | int | bool]
    status: StatusRef | None


@dataclass(frozen=True, slots=True)
class SealClaims:
    jurisdiction: str
    issuer: str
    seal_id: str
    seal_type: str
    name: str | None
    enterprise: Holder
    image_sha256: str
    image_type: str | None
    key: PublicKey
    issued_at: datetime
    valid_from: datetime
    valid_to: datetime
    status: StatusRef | None


@dataclass(frozen=True, slots=True)
class SealRef:
    seal_id: str
    sha256: str  # hex SHA-256 of the seal token's bytes


@dataclass(frozen=True, slots=True)
class SealedDocClaims:
    doc_sha256: str
    doc_name: str | None
    doc_type: str | None
    seal: str | None  # the seal token, when embedded
    seal_ref: SealRef | None  # or a reference to a seal supplied alongside
    signed_at: datetime


# Positional makers (keys/frozen.py): every licence builds these.
_make_holder = positional_maker(Holder)
_make_status = positional_maker(StatusRef)
_make_licence = positional_maker(LicenceClaims)


def _members(
    value: object, where: str, required: frozenset[str], optional: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """`value` as a JSON object with all of `required`, and nothing outside `optional`.
    Set operations, not a loop: this runs for every document."""
    if type(value) is not dict:
        raise ClaimError(f"{where or 'claims'} must be a JSON object")
    keys = value.keys()
    if not keys >= required:
        raise ClaimError(f"{where}{sorted(required - keys)[0]} is missing")
    if len(keys) > len(required) and not keys <= _allowed(required, optional):
        unknown = sorted(keys - required - optional)[:8]
        raise ClaimError(f"{where or 'claims: '}unknown members {unknown}")
    return value


_ALLOWED: dict[tuple[frozenset[str], frozenset[str]], frozenset[str]] = {}


def _allowed(required: frozenset[str], optional: frozenset[str]) -> frozenset[str]:
    """required | optional, built once per pair (the pairs are this module's constants)."""
    both = _ALLOWED.get((required, optional))
    if both is None:
        both = _ALLOWED[(required, optional)] = required | optional
    return both


def _text(value: object, where: str, max_len: int = MAX_TEXT) -> str:
    if type(value) is not str or not 0 < len(value) <= max_len:
        raise ClaimError(f"{where} must be a string of 1..{max_len} characters")
    return value


def _match(value: object, pattern: re.Pattern[str], where: str, what: str) -> str:
    if type(value) is not str or not pattern.match(value):
        raise ClaimError(f"{where} must be {what}")
    return value


def _time(value: object, where: str) -> datetime:
    # type() is int excludes bool (true is not 1 here) and floats.
    if type(value) is not int or not 0 <= value <= MAX_NUMERIC_DATE:
        raise ClaimError(f"{where} must be a NumericDate (whole seconds)")
    return datetime.fromtimestamp(value, UTC)


def _window(c: dict[str, Any]) -> tuple[datetime, datetime, datetime | None]:
    iat = _time(c["iat"], "iat")
    nbf = _time(c["nbf"], "nbf")
    raw_exp = c.get("exp")
    exp = _time(raw_exp, "exp") if raw_exp is not None else None
    if exp is not None and exp <= nbf:
        raise ClaimError("exp must be after nbf")
    return iat, nbf, exp


_NAME = frozenset({"name"})
_HOLDER_IDS = frozenset({"uscc", "pid"})
_ENTERPRISE = frozenset({"name", "uscc"})


def _holder(value: object) -> Holder:
    h = _members(value, "holder.", _NAME, _HOLDER_IDS)
    uscc, pid = h.get("uscc"), h.get("pid")
    if (uscc is None) == (pid is None):
        raise ClaimError("holder needs exactly one of uscc (enterprise) and pid (person)")
    return _make_holder(
        _text(h["name"], "holder.name"),
        _text(uscc, "holder.uscc", 64) if uscc is not None else None,
        _text(pid, "holder.pid", 64) if pid is not None else None,
    )


def _enterprise(value: object) -> Holder:
    e = _members(value, "ent.", _ENTERPRISE)
    return _make_holder(_text(e["name"], "ent.name"), _text(e["uscc"], "ent.uscc", 64), None)


_STATUS = frozenset({"status_list"})
_STATUS_LIST = frozenset({"idx", "uri"})


def _status(value: object) -> StatusRef:
    outer = _members(value, "status.", _STATUS)
    inner = _members(outer["status_list"], "status.status_list.", _STATUS_LIST)
    idx, uri = inner["idx"], _text(inner["uri"], "status.status_list.uri", MAX_URI)
    if type(idx) is not int or not 0 <= idx <= MAX_STATUS_INDEX:
        raise ClaimError("status.status_list.idx must be a non-negative integer")
    if not uri.startswith("https://"):
        raise ClaimError("status.status_list.uri must be an https URI")
    return _make_status(idx, uri)


def _data(value: object) -> Mapping[str, str | int | bool]:
    if type(value) is not dict or len(value) > MAX_DATA_FIELDS:
        raise ClaimError(f"data must be an object of at most {MAX_DATA_FIELDS} members")
    for k, v in value.items():
        if not 0 < len(k) <= 64:
            raise ClaimError("data member names are 1..64 characters")
        t = type(v)
        if t is str:
            if len(v) > MAX_DATA_VALUE:
                raise ClaimError(f"data.{k[:64]} is longer than {MAX_DATA_VALUE} characters")
        elif t is int:
            if not -(2**53) < v < 2**53:
                raise ClaimError(f"data.{k[:64]} is outside the safe integer range")
        elif t is not bool:
            raise ClaimError(f"data.{k[:64]} must be a string, an integer or a boolean")
    return MappingProxyType(value)


_LICENCE_REQUIRED = frozenset({"jur", "iss", "lic_no", "lic_type", "holder", "iat", "nbf"})
_LICENCE_OPTIONAL = frozenset({"exp", "data", "status"})
_N_REQUIRED = len(_LICENCE_REQUIRED)  # _licence_fast reads the members of both by name


def parse_licence_claims(claims: object) -> LicenceClaims:
    fast = _licence_fast(claims)
    return fast if fast is not None else _licence_long(claims)


# (jur, iss, lic_type) triples that matched their patterns: a few issuers and types make all
# the licences, so the three matches are mostly one set lookup. Pure: never invalidated.
_GOOD_CODES: set[tuple[str, str, str]] = set()
_GOOD_CODES_MAX = 4096


def _licence_fast(c: object) -> LicenceClaims | None:
    """_licence_long's answer for claims that break no rule but perhaps one of their data, in
    a few calls instead of some thirty; None at the first doubt, and the long way then decides
    with its message. The data is the long way's own function, reached only once all else
    passed: what it raises is what the long way raises (the data is its last rule but one, and
    the last, the status, has passed)."""
    if type(c) is not dict:
        return None
    try:
        jur, iss, number, lic_type = c["jur"], c["iss"], c["lic_no"], c["lic_type"]
        h, iat, nbf = c["holder"], c["iat"], c["nbf"]
    except KeyError:
        return None
    # All seven required members are there: nothing else but the optional ones iff the count
    # adds up (cheaper than comparing key sets).
    if len(c) != _N_REQUIRED + ("exp" in c) + ("data" in c) + ("status" in c):
        return None
    exp = c.get("exp")
    if not (type(jur) is str and type(iss) is str and type(lic_type) is str):
        return None  # (and so never an unhashable list or object in the set lookup)
    codes = (jur, iss, lic_type)
    if codes not in _GOOD_CODES:
        if not (_JURISDICTION.match(jur) and _IDENT.match(iss) and _IDENT.match(lic_type)):
            return None
        if len(_GOOD_CODES) >= _GOOD_CODES_MAX:
            _GOOD_CODES.clear()  # bounded; a refill costs three matches per issuer and type
        _GOOD_CODES.add(codes)
    if not (
        type(number) is str
        and 0 < len(number) <= 64
        and type(h) is dict
        and "name" in h
        and len(h) == 1 + ("uscc" in h) + ("pid" in h)
        and type(iat) is int
        and 0 <= iat <= MAX_NUMERIC_DATE
        and type(nbf) is int
        and 0 <= nbf <= MAX_NUMERIC_DATE
        and (exp is None or (type(exp) is int and nbf < exp <= MAX_NUMERIC_DATE))
    ):
        return None
    name, uscc, pid = h["name"], h.get("uscc"), h.get("pid")
    if not (type(name) is str and 0 < len(name) <= MAX_TEXT):
        return None
    if uscc is not None:
        if pid is not None or type(uscc) is not str or not 0 < len(uscc) <= 64:
            return None
    elif type(pid) is not str or not 0 < len(pid) <= 64:
        return None
    status: StatusRef | None = None
    raw_status = c.get("status")
    if raw_status is not None:
        ref = raw_status.get("status_list") if type(raw_status) is dict else None
        if type(ref) is not dict or len(raw_status) != 1 or len(ref) != 2:
            return None
        idx, uri = ref.get("idx"), ref.get("uri")
        if not (
            type(idx) is int
            and 0 <= idx <= MAX_STATUS_INDEX
            and type(uri) is str
            and 0 < len(uri) <= MAX_URI
            and uri.startswith("https://")
        ):
            return None
        status = _make_status(idx, uri)
    raw_data = c.get("data")
    data = _data(raw_data) if raw_data is not None else _NO_DATA
    issued = datetime.fromtimestamp(iat, UTC)
    return _make_licence(
        jur,
        iss,
        number,
        lic_type,
        _make_holder(name, uscc, pid),
        issued,
        issued if nbf == iat else datetime.fromtimestamp(nbf, UTC),  # often the same second
        datetime.fromtimestamp(exp, UTC) if exp is not None else None,
        data,
        status,
    )


def usual_licence_json(payload: bytes, max_bytes: int) -> LicenceClaims | None:
    """strict_json_loads(payload) read by parse_licence_claims, in one pass for the payload an
    issuer writes (canonical JSON: orjson writes the parsed value back to exactly these bytes);
    None for anything else, which that strict route then accepts or refuses (and names the
    fault). The round trip stands for the strict reader's checks: a member named twice, an
    integer beyond 64 bits or a byte orjson reads otherwise would not come back the same; no
    backslash, so no escape; and _licence_fast's claims nest three deep at most."""
    if len(payload) > max_bytes or payload.find(b"\\") >= 0:
        return None
    try:
        value = orjson.loads(payload)
        licence = _licence_fast(value)
        if licence is None or orjson.dumps(value) != payload:
            return None
    except (orjson.JSONDecodeError, orjson.JSONEncodeError, ClaimError):
        return None  # the strict route names the fault
    return licence


def _licence_long(claims: object) -> LicenceClaims:
    """Every rule in turn, each failure with its own message."""
    c = _members(claims, "", _LICENCE_REQUIRED, _LICENCE_OPTIONAL)
    jur = _match(c["jur"], _JURISDICTION, "jur", "a six-digit GB/T 2260 jurisdiction code")
    iss = _match(c["iss"], _IDENT, "iss", "a trust-list service id")
    number = _text(c["lic_no"], "lic_no", 64)
    lic_type = _match(c["lic_type"], _IDENT, "lic_type", "a catalogue licence type code")
    holder = _holder(c["holder"])
    iat, nbf, exp = _window(c)
    raw_data, raw_status = c.get("data"), c.get("status")
    data = _data(raw_data) if raw_data is not None else _NO_DATA
    status = _status(raw_status) if raw_status is not None else None
    return _make_licence(jur, iss, number, lic_type, holder, iat, nbf, exp, data, status)


_NO_DATA: Mapping[str, str | int | bool] = MappingProxyType({})
_SEAL_REQUIRED = frozenset(
    {"jur", "iss", "seal_id", "seal_type", "ent", "img", "cnf", "iat", "nbf", "exp"}
)
_SEAL_OPTIONAL = frozenset({"name", "status"})
_IMG_REQUIRED = frozenset({"sha256"})
_IMG_OPTIONAL = frozenset({"type"})
_CNF = frozenset({"jwk"})


def parse_seal_claims(claims: object) -> SealClaims:
    c = _members(claims, "", _SEAL_REQUIRED, _SEAL_OPTIONAL)
    jur = _match(c["jur"], _JURISDICTION, "jur", "a six-digit GB/T 2260 jurisdiction code")
    iss = _match(c["iss"], _IDENT, "iss", "a trust-list service id")
    seal_id = _text(c["seal_id"], "seal_id", 64)
    seal_type = _match(c["seal_type"], _IDENT, "seal_type", "a catalogue seal type code")
    raw_name = c.get("name")
    name = _text(raw_name, "name") if raw_name is not None else None
    enterprise = _enterprise(c["ent"])
    img = _members(c["img"], "img.", _IMG_REQUIRED, _IMG_OPTIONAL)
    image_sha256 = _match(img["sha256"], _SHA256_HEX, "img.sha256", "64 lower-case hex digits")
    raw_type = img.get("type")
    image_type = _text(raw_type, "img.type", 64) if raw_type is not None else None
    jwk = _members(c["cnf"], "cnf.", _CNF)["jwk"]
    try:
        key = public_key_from_jwk(jwk)
    except KeyMaterialError as exc:
        raise ClaimError(f"cnf.jwk: {exc}") from exc
    iat, nbf, exp = _window(c)
    if exp is None:
        raise ClaimError("exp is missing")
    raw_status = c.get("status")
    status = _status(raw_status) if raw_status is not None else None
    return SealClaims(
        jur,
        iss,
        seal_id,
        seal_type,
        name,
        enterprise,
        image_sha256,
        image_type,
        key,
        iat,
        nbf,
        exp,
        status,
    )


_SEALED_REQUIRED = frozenset({"doc", "iat"})
_SEALED_OPTIONAL = frozenset({"seal", "seal_ref"})
_DOC_REQUIRED = frozenset({"sha256"})
_DOC_OPTIONAL = frozenset({"name", "type"})
_REF = frozenset({"seal_id", "sha256"})


def parse_sealed_doc_claims(claims: object, *, max_seal_bytes: int) -> SealedDocClaims:
    c = _members(claims, "", _SEALED_REQUIRED, _SEALED_OPTIONAL)
    doc = _members(c["doc"], "doc.", _DOC_REQUIRED, _DOC_OPTIONAL)
    doc_sha256 = _match(doc["sha256"], _SHA256_HEX, "doc.sha256", "64 lower-case hex digits")
    raw_name, raw_type = doc.get("name"), doc.get("type")
    doc_name = _text(raw_name, "doc.name") if raw_name is not None else None
    doc_type = _text(raw_type, "doc.type", 64) if raw_type is not None else None
    raw_seal, raw_ref = c.get("seal"), c.get("seal_ref")
    seal = _text(raw_seal, "seal", max_seal_bytes) if raw_seal is not None else None
    signed_at = _time(c["iat"], "iat")
    ref: SealRef | None = None
    if raw_ref is not None:
        r = _members(raw_ref, "seal_ref.", _REF)
        ref = SealRef(
            _text(r["seal_id"], "seal_ref.seal_id", 64),
            _match(r["sha256"], _SHA256_HEX, "seal_ref.sha256", "64 lower-case hex digits"),
        )
    if (seal is None) == (ref is None):
        raise ClaimError("exactly one of seal (embedded) and seal_ref is required")
    return SealedDocClaims(doc_sha256, doc_name, doc_type, seal, ref, signed_at)


# GB 11643-1999: 17 digits (region, birth date, sequence) and an ISO 7064 MOD 11-2 check.
_PID = re.compile(r"\A[0-9]{17}[0-9X]\Z")
_PID_WEIGHTS: Final = tuple(pow(2, 17 - i, 11) for i in range(17))
_PID_CHECK: Final = "10X98765432"


def is_valid_pid(pid: str) -> bool:
    if not _PID.match(pid):
        return False
    total = sum(int(c) * w for c, w in zip(pid[:17], _PID_WEIGHTS, strict=True))
    return _PID_CHECK[total % 11] == pid[17]


def make_pid(first17: str) -> str:
    """first17 followed by its GB 11643 check character (for demo and test data)."""
    total = sum(int(c) * w for c, w in zip(first17, _PID_WEIGHTS, strict=True))
    return first17 + _PID_CHECK[total % 11]


__all__ = [
    "KNOWN_TYPS",
    "LICENCE_TYP",
    "SEALED_DOC_TYP",
    "SEAL_TYP",
    "SEAL_TYPES",
    "ClaimError",
    "Holder",
    "LicenceClaims",
    "SealClaims",
    "SealRef",
    "SealedDocClaims",
    "StatusRef",
    "is_valid_pid",
    "make_pid",
    "parse_licence_claims",
    "parse_seal_claims",
    "parse_sealed_doc_claims",
    "usual_licence_json",
]
