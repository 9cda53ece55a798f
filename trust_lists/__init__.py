"""Signed trust lists: the model, its verification and rotation rules, status lists, the
recognition catalogue, the trust store and its durable storage."""

from trust_lists.anchors import anchors_to_json, load_anchors, parse_anchors
from trust_lists.catalogue import Catalogue, DocumentType, Recognition, SignedCatalogue
from trust_lists.errors import (
    AlreadyExpired,
    CatalogueOverreach,
    DirectoryServed,
    DocumentTooLarge,
    DuplicateKeyId,
    JurisdictionMismatch,
    KeyOfOtherJurisdiction,
    MalformedDocument,
    NotYetIssued,
    Rollback,
    RotationNotAuthorised,
    StatusUriClaimed,
    StorageError,
    ThresholdNotMet,
    TrustStateError,
    UnknownJurisdiction,
    UntrustedSigner,
)
from trust_lists.items import DataIncludes, ItemRule, ServiceItem
from trust_lists.model import (
    KeyEntry,
    KeyState,
    KeyStatus,
    OperatorPolicy,
    ServiceKey,
    ServiceKind,
    StatusChange,
    TrustedService,
    TrustList,
)
from trust_lists.signed import Anchor, SignedTrustList, SignerSet, check_successor, is_stale
from trust_lists.status_list import Status, StatusList, sign_status_list
from trust_lists.storage import TrustDirectory
from trust_lists.store import IssuedStatusList, TrustState, TrustStore
from trust_lists.uscc import is_valid_uscc, make_uscc

__all__ = [
    "AlreadyExpired",
    "Anchor",
    "Catalogue",
    "CatalogueOverreach",
    "DataIncludes",
    "DirectoryServed",
    "DocumentTooLarge",
    "DocumentType",
    "DuplicateKeyId",
    "IssuedStatusList",
    "ItemRule",
    "JurisdictionMismatch",
    "KeyEntry",
    "KeyOfOtherJurisdiction",
    "KeyState",
    "KeyStatus",
    "MalformedDocument",
    "NotYetIssued",
    "OperatorPolicy",
    "Recognition",
    "Rollback",
    "RotationNotAuthorised",
    "ServiceItem",
    "ServiceKey",
    "ServiceKind",
    "SignedCatalogue",
    "SignedTrustList",
    "SignerSet",
    "Status",
    "StatusChange",
    "StatusList",
    "StatusUriClaimed",
    "StorageError",
    "ThresholdNotMet",
    "TrustDirectory",
    "TrustList",
    "TrustState",
    "TrustStateError",
    "TrustStore",
    "TrustedService",
    "UnknownJurisdiction",
    "UntrustedSigner",
    "anchors_to_json",
    "check_successor",
    "is_stale",
    "is_valid_uscc",
    "load_anchors",
    "make_uscc",
    "parse_anchors",
    "sign_status_list",
]
