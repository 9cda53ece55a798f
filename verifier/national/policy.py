"""What a national verification applies: the policy (size caps, clock skew, the seal-type
table) that NationalVerifier is configured with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Final

from verifier.national import asn1, ofd

# Seal types (SES_ESPropertyInfo.type) as written by GB/T 38540 producers, mapped to catalogue
# codes: the public-security coding 1 official (法定名称章/公章), 2 finance, 3 invoice,
# 4 contract, 5 legal representative's name seal. Seen in real files: a 合同专用章 with type 4, a
# 发票监制章 with type 3. A relying jurisdiction may configure another mapping.
DEFAULT_SEAL_TYPES: Final[Mapping[int, str]] = MappingProxyType(
    {1: "official", 2: "finance", 3: "invoice", 4: "contract", 5: "legal_rep"}
)


@dataclass(frozen=True, slots=True)
class NationalPolicy:
    max_seal_bytes: int = asn1.MAX_SEAL_BYTES
    max_clock_skew: timedelta = timedelta(minutes=5)
    ofd_limits: ofd.OfdLimits = field(default_factory=ofd.OfdLimits)
    seal_types: Mapping[int, str] = field(default_factory=lambda: DEFAULT_SEAL_TYPES)
    # A bare SM2 "Sign" signature names no signer: at most this many trusted keys of each
    # jurisdiction are tried.
    max_trial_keys: int = 32
