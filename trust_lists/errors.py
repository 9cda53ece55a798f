"""Why a trust list, status list or catalogue was refused. Each class has a stable `code`."""


class TrustStateError(Exception):
    """Base: a signed trust-state document was refused; nothing was changed."""

    code = "trust_state_invalid"


class MalformedDocument(TrustStateError):
    code = "malformed"


class UnsafeText(MalformedDocument):
    """A name, URI or other displayed string holds a control or hiding character
    (trust_lists/text.py says which)."""

    code = "unsafe_text"


class DocumentTooLarge(TrustStateError):
    code = "too_large"


class ThresholdNotMet(TrustStateError):
    code = "threshold_not_met"


class RotationNotAuthorised(TrustStateError):
    code = "rotation_not_authorised"


class Rollback(TrustStateError):
    code = "rollback"


class JurisdictionMismatch(TrustStateError):
    code = "jurisdiction_mismatch"


class UnknownJurisdiction(TrustStateError):
    code = "unknown_jurisdiction"


class NotYetIssued(TrustStateError):
    code = "issued_in_future"


class AlreadyExpired(TrustStateError):
    code = "already_expired"


class DuplicateKeyId(TrustStateError):
    code = "duplicate_kid"


class UntrustedSigner(TrustStateError):
    code = "untrusted_signer"


# Boundaries between cities: each city's operators govern only their own trust.


class CatalogueOverreach(TrustStateError):
    """The catalogue drops a city's entries without that city's operators' signatures."""

    code = "catalogue_overreach"


class StatusUriClaimed(TrustStateError):
    """The list declares a status-list URI that another service already declares."""

    code = "status_uri_claimed"


class KeyOfOtherJurisdiction(TrustStateError):
    """The list names, as a service key, a key another city's list holds (or the reverse)."""

    code = "key_of_other_jurisdiction"


class StorageError(TrustStateError):
    """The document was valid but could not be stored durably; memory was left unchanged."""

    code = "storage_failed"


class DirectoryServed(StorageError):
    """A running service holds the trust directory: write through its API instead."""

    code = "directory_served"
