"""RFC 3339 UTC timestamps, the only time form in huren's signed documents; and the validation
times a caller names (any RFC 3339 offset, within the accepted range), read the same by the
HTTP API and the `huren verify` command."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final

# ASCII digits only: `\d`, int() and strptime also take full-width and Arabic-Indic digits, so
# "２０２６-..." would be signed as one text and shown as another (issue 19, finding 6).
_RFC3339_Z = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\Z")


def parse_time(value: object, field: str) -> datetime:
    """Parse 'YYYY-MM-DDTHH:MM:SSZ' (UTC, whole seconds, ASCII digits) strictly: exactly the text
    `format_time` writes for the instant returned."""
    if not isinstance(value, str) or not _RFC3339_Z.match(value):
        raise ValueError(f"{field} must be a UTC time like 2026-01-31T08:00:00Z")
    try:
        return datetime(
            int(value[0:4]),
            int(value[5:7]),
            int(value[8:10]),
            int(value[11:13]),
            int(value[14:16]),
            int(value[17:19]),
            tzinfo=UTC,
        )
    except ValueError as exc:  # a month 13, a 31 February, a second 60, a year 0
        raise ValueError(f"{field}: {exc}") from exc


# Recently formatted instants (equal aware datetimes are the same instant, so the same text).
# Verdicts format the same issue, validity and freshness times again and again.
_FORMATTED: dict[datetime, str] = {}
_FORMATTED_MAX = 4096


def format_time(value: datetime) -> str:
    text = _FORMATTED.get(value)  # a naive datetime never equals an aware key
    if text is not None:
        return text
    if value.microsecond and value.tzinfo is UTC:
        # A clock's "now": the text is its whole second's (isoformat truncates the rest).
        return format_time(value.replace(microsecond=0))
    utc = require_aware(value).astimezone(UTC)
    # Always four year digits ("+00:00" -> "Z"): strftime writes years before 1000 with fewer,
    # which parse_time would refuse.
    text = utc.isoformat(timespec="seconds")[:-6] + "Z"
    if value.microsecond == 0:  # document and trust-list times; not the ever-new "now"
        if len(_FORMATTED) >= _FORMATTED_MAX:
            _FORMATTED.clear()
        _FORMATTED[value] = text
    return text


# The first and last instants a datetime holds, in UTC. Time arithmetic on times read from
# outside (a list valid until 9999, a validation time near the end of time) saturates here.
TIME_MIN: Final = datetime.min.replace(tzinfo=UTC)
TIME_MAX: Final = datetime.max.replace(tzinfo=UTC)
LAST_EPOCH_SECOND: Final = 253402300799  # 9999-12-31T23:59:59Z, the last whole second of TIME_MAX


def shift(when: datetime, delta: timedelta) -> datetime:
    """`when + delta`, saturated at TIME_MIN / TIME_MAX instead of raising OverflowError: "after
    the last representable instant" is read as that instant, and comparisons stay exact
    everywhere below it. Every addition of a grace, skew or validity to a time goes through here."""
    try:
        return when + delta
    except OverflowError:
        return TIME_MAX if delta > timedelta(0) else TIME_MIN


def issued_in_future(issued: datetime, now: datetime, skew: timedelta) -> bool:
    """The one clock-skew rule: something claiming to be issued (or signed) at `issued` is not
    yet issued at `now` when it lies more than `skew` after it. Trust lists, status lists,
    catalogues and every document the verifiers judge read it here."""
    return issued > shift(now, skew)


def require_aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not accepted; pass an aware UTC time")
    return value


def from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


# -- validation times named by callers --------------------------------------------------------

_RFC3339 = re.compile(  # re.ASCII: digits 0-9 only, as RFC 3339 says
    r"\A(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})\Z",
    re.ASCII,
)

# The validation times the API and the CLI accept (docs/service.md): from the first instant a
# NumericDate can name to the last one datetime holds (the API answers others with 422
# validation_time_out_of_range).
EARLIEST_VALIDATION_TIME = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_VALIDATION_TIME = TIME_MAX


class TimeOutOfRange(ValueError):
    """A well-formed date-time outside the accepted validation times."""


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 date-time with an offset, as an aware UTC datetime (leap second 60 -> 59).
    TimeOutOfRange when the offset carries it beyond what a datetime holds in UTC."""
    m = _RFC3339.match(text)
    if not m:
        raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2026-05-01T08:00:00Z")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction, offset = m.group(7), m.group(8)
    normalised = (
        f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{min(second, 59):02d}"
        + (fraction[:7] if fraction else "")
        + ("+00:00" if offset in {"Z", "z"} else offset)
    )
    try:
        value = datetime.fromisoformat(normalised)
    except ValueError as exc:
        raise ValueError(f"not a valid date-time: {exc}") from exc
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # an offset carrying year 1 or 9999 past datetime's range
        raise TimeOutOfRange(_RANGE_MESSAGE) from exc


_RANGE_MESSAGE = (
    f"must lie between {format_time(EARLIEST_VALIDATION_TIME)} and "
    f"{format_time(LATEST_VALIDATION_TIME)} (UTC)"
)


def validation_time(text: str) -> datetime:
    """A request's validation_time: parse_rfc3339, within the accepted range (TimeOutOfRange)."""
    at = parse_rfc3339(text)
    if not EARLIEST_VALIDATION_TIME <= at <= LATEST_VALIDATION_TIME:
        raise TimeOutOfRange(_RANGE_MESSAGE)
    return at
