"""RFC 3339 UTC timestamps, the only time form in huren's signed documents."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_RFC3339_Z = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\Z")


def parse_time(value: object, field: str) -> datetime:
    """Parse 'YYYY-MM-DDTHH:MM:SSZ' (UTC, whole seconds) strictly."""
    if not isinstance(value, str) or not _RFC3339_Z.match(value):
        raise ValueError(f"{field} must be a UTC time like 2026-01-31T08:00:00Z")
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"{field}: {exc}") from exc


def format_time(value: datetime) -> str:
    return require_aware(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def require_aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not accepted; pass an aware UTC time")
    return value


def from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
