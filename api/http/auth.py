"""API keys and roles.

Keys are stored as the hex SHA-256 of the secret (docs/CONTRACTS.md), never the secret. A caller
presents the secret as `Authorization: Bearer <key>` or `X-API-Key: <key>`; we hash it and compare
against every stored hash with `hmac.compare_digest` (no early exit), so timing tells nothing.

Roles: counter (licences and sealed documents), business (seals and sealed documents), admin
(trust-state uploads, and every verification). With `anonymous_self_check`, the seal self-check
endpoints (seals and sealed documents) also serve callers without a key, rate limited per client
address by a token bucket: IPv4 per address, IPv6 per /64. The client address is the connection's
peer; X-Forwarded-For is read only when the peer is a configured proxy (`forwarded_allow_ips`,
default none)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from api.http.problems import ProblemError

MAX_API_KEYS_BYTES = 1024 * 1024
MAX_SECRET_LENGTH = 512
_HEX64 = re.compile(r"\A[0-9a-f]{64}\Z")
_KEY_ID = re.compile(r"\A[A-Za-z0-9._-]{1,64}\Z")


class ApiKeysError(ValueError):
    """The api-keys file or HUREN_API_KEYS is malformed."""


class Role(StrEnum):
    COUNTER = "counter"
    BUSINESS = "business"
    ADMIN = "admin"


class Permission(StrEnum):
    VERIFY_LICENCE = "verify_licence"
    VERIFY_SEAL = "verify_seal"
    VERIFY_SEALED_DOCUMENT = "verify_sealed_document"
    ADMIN = "admin"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.COUNTER: frozenset({Permission.VERIFY_LICENCE, Permission.VERIFY_SEALED_DOCUMENT}),
    Role.BUSINESS: frozenset({Permission.VERIFY_SEAL, Permission.VERIFY_SEALED_DOCUMENT}),
    Role.ADMIN: frozenset(Permission),
}

# What an anonymous caller may do when anonymous_self_check is on: the seal self-checks.
ANONYMOUS_PERMISSIONS = frozenset({Permission.VERIFY_SEAL, Permission.VERIFY_SEALED_DOCUMENT})


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    role: Role
    sha256: bytes  # raw digest of the secret
    revoked: bool = False

    def __repr__(self) -> str:
        return f"ApiKey(id={self.id!r}, role={self.role.value!r}, revoked={self.revoked})"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a key (id and role) or an anonymous client (by address)."""

    key_id: str | None
    role: Role | None
    client: str

    @property
    def anonymous(self) -> bool:
        return self.key_id is None

    def may(self, permission: Permission) -> bool:
        if self.role is None:
            return permission in ANONYMOUS_PERMISSIONS
        return permission in ROLE_PERMISSIONS[self.role]


def hash_secret(secret: str) -> str:
    """The hex SHA-256 stored in the api-keys file for a secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class KeyRing:
    def __init__(self, keys: Iterable[ApiKey] = ()) -> None:
        self._keys = tuple(keys)
        ids = [k.id for k in self._keys]
        if len(set(ids)) != len(ids):
            raise ApiKeysError("api key ids must be unique")

    def __len__(self) -> int:
        return len(self._keys)

    @classmethod
    def parse(cls, data: bytes | str) -> KeyRing:
        if len(data) > MAX_API_KEYS_BYTES:
            raise ApiKeysError("api keys document is too large")
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiKeysError(f"api keys are not JSON: {exc}") from exc
        if not isinstance(doc, dict) or set(doc) != {"keys"} or not isinstance(doc["keys"], list):
            raise ApiKeysError('api keys must be {"keys": [...]}')
        keys: list[ApiKey] = []
        for i, entry in enumerate(doc["keys"]):
            where = f"keys[{i}]"
            if not isinstance(entry, dict) or not {"id", "role", "sha256"} <= set(entry):
                raise ApiKeysError(f"{where} needs id, role and sha256")
            if set(entry) - {"id", "role", "sha256", "revoked", "note"}:
                raise ApiKeysError(f"{where} has unknown members")
            key_id, role, digest = entry["id"], entry["role"], entry["sha256"]
            revoked = entry.get("revoked", False)
            if not isinstance(key_id, str) or not _KEY_ID.match(key_id):
                raise ApiKeysError(f"{where}.id must be 1..64 of A-Z a-z 0-9 . _ -")
            if role not in {r.value for r in Role}:
                raise ApiKeysError(f"{where}.role must be one of {[r.value for r in Role]}")
            if not isinstance(digest, str) or not _HEX64.match(digest.lower()):
                raise ApiKeysError(f"{where}.sha256 must be 64 hex digits")
            if not isinstance(revoked, bool):
                raise ApiKeysError(f"{where}.revoked must be a boolean")
            keys.append(ApiKey(key_id, Role(role), bytes.fromhex(digest), revoked))
        return cls(keys)

    @classmethod
    def load(cls, *, inline_json: str | None, path: Path | None) -> KeyRing:
        """HUREN_API_KEYS (inline JSON) wins over the file; neither gives an empty ring."""
        if inline_json:
            return cls.parse(inline_json)
        if path is None:
            return cls()
        try:
            return cls.parse(path.read_bytes())
        except OSError as exc:
            raise ApiKeysError(f"cannot read api keys file {path}: {exc.strerror}") from exc

    def authenticate(self, secret: str) -> ApiKey | None:
        """The key whose hash matches, or None. Every stored hash is compared (constant time)."""
        digest = hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()
        found: ApiKey | None = None
        for key in self._keys:
            if hmac.compare_digest(key.sha256, digest):
                found = key
        return found


class TokenBucket:
    """Per-client token buckets: `burst` tokens, refilled at `per_minute`; bounded client table."""

    def __init__(
        self,
        per_minute: int,
        burst: int,
        *,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """0.0 if a token was taken, else the seconds until one is available."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self.rate
            self._buckets[client] = (tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return wait


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def ip_address(text: str) -> IPAddress | None:
    """The address text names exactly (IPv4-mapped IPv6 as IPv4), or None."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def proxy_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Addresses or networks ("10.0.0.0/8", "::1") of trusted proxies; ValueError otherwise."""
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values)


def bucket_of(client: str) -> str:
    """The rate-limit bucket of a client address: IPv4 per address, IPv6 per /64 (the prefix a
    single subscriber is given: its 2^64 addresses are one client)."""
    address = ip_address(client)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address) if address is not None else client


class ClientAddresses:
    """Where a request comes from: the connection's peer, unless the peer is a configured proxy;
    then the right-most X-Forwarded-For entry that is not a proxy (each proxy appends the address
    it saw, so entries left of it may be written by the client). An entry that is not an address
    stops the walk at the nearest proxy's address: nothing a client writes can pick its bucket."""

    def __init__(self, proxies: Iterable[str] = ()) -> None:
        self.proxies = proxy_networks(proxies)

    def _is_proxy(self, address: IPAddress | None) -> bool:
        return address is not None and any(address in net for net in self.proxies)

    def of(self, scope: Mapping[str, Any]) -> str:
        peer = scope.get("client")
        host = str(peer[0]) if peer else "unknown"
        if not self.proxies or not self._is_proxy(ip_address(host)):
            return host
        forwarded = b",".join(v for k, v in scope.get("headers", ()) if k == b"x-forwarded-for")
        for entry in reversed(forwarded.decode("latin-1").split(",")):
            address = ip_address(entry.strip())
            if address is None:
                return host
            if not self._is_proxy(address):
                return str(address)
            host = str(address)
        return host


def presented_secret(authorization: str | None, x_api_key: str | None) -> str | None:
    """The secret from the headers; ProblemError 401 for a malformed Authorization header."""
    if authorization is not None:
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value:
            raise unauthorized("the Authorization header must be 'Bearer <api key>'")
        secret = value
    elif x_api_key is not None:
        secret = x_api_key.strip()
    else:
        return None
    if not secret or len(secret) > MAX_SECRET_LENGTH:
        raise unauthorized("unknown API key")
    return secret


def unauthorized(detail: str) -> ProblemError:
    return ProblemError(
        401, "unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="huren"'}
    )


class Authoriser:
    def __init__(
        self,
        keys: KeyRing,
        *,
        anonymous_self_check: bool,
        limiter: TokenBucket,
        addresses: ClientAddresses | None = None,
    ) -> None:
        self.keys = keys
        self.anonymous_self_check = anonymous_self_check
        self.limiter = limiter
        self.addresses = addresses or ClientAddresses()

    def authorise(
        self,
        permission: Permission,
        *,
        authorization: str | None,
        x_api_key: str | None,
        client: str,
        anonymous_allowed: bool = False,
    ) -> Principal:
        """The caller, if allowed; else ProblemError 401 (who?), 403 (not you) or 429."""
        secret = presented_secret(authorization, x_api_key)
        if secret is None:
            if anonymous_allowed and self.anonymous_self_check:
                wait = self.limiter.take(bucket_of(client))
                if wait > 0:
                    raise ProblemError(
                        429,
                        "rate_limited",
                        "too many anonymous self-checks from this address; retry later",
                        headers={"Retry-After": str(max(1, math.ceil(wait)))},
                    )
                return Principal(None, None, client)
            raise unauthorized("an API key is required")
        key = self.keys.authenticate(secret)
        if key is None:
            raise unauthorized("unknown API key")
        if key.revoked:
            raise unauthorized("this API key has been revoked")
        principal = Principal(key.id, key.role, client)
        if not principal.may(permission):
            raise ProblemError(
                403,
                "forbidden",
                f"role {key.role.value!r} may not {permission.value.replace('_', ' ')}",
            )
        return principal


__all__ = [
    "ANONYMOUS_PERMISSIONS",
    "ROLE_PERMISSIONS",
    "ApiKey",
    "ApiKeysError",
    "Authoriser",
    "ClientAddresses",
    "KeyRing",
    "Permission",
    "Principal",
    "Role",
    "TokenBucket",
    "bucket_of",
    "hash_secret",
    "ip_address",
    "presented_secret",
    "proxy_networks",
]
