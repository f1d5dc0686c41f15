"""ISO 8601 durations and timestamps: the one place that parses them and knows their bounds (what a
`datetime`, and so every time column, can hold), and calendar arithmetic in UTC (isodate).

Its parsers raise `BadDuration` (whose text is the user's message) and nothing else; `field_error` turns
one into the `InvalidRequest` that names the field."""
import math
import threading
from datetime import UTC, datetime, timedelta
from decimal import InvalidOperation

import isodate

from engine.errors import InvalidRequest

# A day inside what `datetime` can hold at either end, so that showing a time in any zone and the
# engine's own small additions (leases, poll intervals) never overflow. PostgreSQL's timestamptz and
# SQLite's text reach further: `datetime` is the narrower limit.
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, tzinfo=UTC)
# The longest wait Python can hand to a lock or a socket (about 292 years on Linux).
MAX_WAIT_SECONDS = math.floor(threading.TIMEOUT_MAX)
MAX_TEXT = 64  # characters of a duration or timestamp text; the longest valid one is far shorter

NOT_A_DURATION = "Not an ISO 8601 duration."
NOT_A_TIMESTAMP = "Not an ISO 8601 timestamp."
NOT_EITHER = "Not an ISO 8601 duration or timestamp."
NEGATIVE = "A duration must not be negative."
TOO_LONG = "Too long: it would end after 9999-12-31T00:00:00Z."
TOO_LATE = "Too far in the future: the latest time is 9999-12-31T00:00:00Z."
TOO_EARLY = "Too far in the past: the earliest time is 0001-01-02T00:00:00Z."
NO_ZONE = "A timestamp needs a time zone (for example Z)."


class BadDuration(ValueError):
    """A duration or timestamp that is garbage, negative or out of bounds; `str()` is the message."""


def _number(value):
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int past what a float holds
        finite = True
    if not finite:
        raise BadDuration("A duration in seconds must be a finite number.")
    if value < 0:
        raise BadDuration(NEGATIVE)
    try:
        return timedelta(seconds=value)
    except OverflowError as exc:
        raise BadDuration(TOO_LONG) from exc


def _plain(value):
    """A text short enough, of printable ASCII only (datetime and isodate take other digits and a NUL)."""
    return len(value) <= MAX_TEXT and value.isascii() and value.isprintable()


def _text(value):
    if value.startswith("-P") and _plain(value):
        raise BadDuration(NEGATIVE)
    if not _plain(value) or not value.startswith("P"):
        raise BadDuration(NOT_A_DURATION)
    try:
        return isodate.parse_duration(value)
    except (isodate.ISO8601Error, ValueError, OverflowError, InvalidOperation) as exc:
        raise BadDuration(NOT_A_DURATION) from exc


def _shift(moment, duration):
    """`moment` + `duration`, in bounds; BadDuration (too long) when it passes what datetime can hold."""
    try:
        end = moment + duration
    except (OverflowError, ValueError, InvalidOperation) as exc:
        if "fractional" in str(exc):
            raise BadDuration("Years and months must be whole numbers.") from exc
        raise BadDuration(TOO_LONG) from exc
    if end > LATEST:
        raise BadDuration(TOO_LONG)
    return end


def parse_duration(value):
    """Return a timedelta or an isodate.Duration (months, years) for an ISO 8601 string or seconds.

    Refuses garbage, negative durations and any duration longer than the span `datetime` can hold.
    """
    if isinstance(value, bool):
        raise BadDuration(NOT_A_DURATION)
    if isinstance(value, int | float):
        duration = _number(value)
    elif isinstance(value, timedelta | isodate.Duration):
        duration = value
    elif isinstance(value, str):
        duration = _text(value)
    else:
        raise BadDuration(NOT_A_DURATION)
    if isinstance(duration, timedelta) and duration < timedelta(0):
        raise BadDuration(NEGATIVE)
    if _shift(EARLIEST, duration) < EARLIEST:
        raise BadDuration(NEGATIVE)
    return duration


def is_duration(value):
    try:
        parse_duration(value)
    except BadDuration:
        return False
    return True


def _in_bounds(moment):
    if moment < EARLIEST:
        raise BadDuration(TOO_EARLY)
    if moment > LATEST:
        raise BadDuration(TOO_LATE)
    return moment


def add(moment, value):
    """Return `moment` plus the duration `value`, with months and years as UTC calendar arithmetic."""
    duration = parse_duration(value)
    return _shift(_in_bounds(moment.astimezone(UTC)), duration)


def before(moment, value):
    """Return `moment` minus the length of `value` measured from `moment` (retention cut-offs)."""
    base = _in_bounds(moment.astimezone(UTC))
    span = add(base, value) - base
    if base - EARLIEST < span:
        raise BadDuration("Too long: it would start before 0001-01-02T00:00:00Z.")
    return base - span


def seconds(value, start):
    """Return the length in seconds of `value` when measured from `start`."""
    return (add(start, value) - start).total_seconds()


def capped_seconds(value, start, *, cap, field):
    """Seconds of `value` from `start`, at most those of `cap` (a setting); InvalidRequest naming `field`."""
    try:
        length = seconds(value, start)
    except BadDuration as exc:
        raise field_error(field, exc) from exc
    return min(length, seconds(cap, start))


def wait_seconds(value, start):
    """Seconds for a wait Python can hand to a lock or a socket: `seconds()`, at most MAX_WAIT_SECONDS."""
    length = seconds(value, start)
    if length > MAX_WAIT_SECONDS:
        raise BadDuration(f"Too long for a wait: at most {MAX_WAIT_SECONDS} seconds.")
    return length


def seconds_value(value):
    """Return `value`, a number of seconds for a wait or a lease (settings), or raise BadDuration:
    a finite number from 0 to MAX_WAIT_SECONDS (not a string, not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadDuration("Not a number of seconds.")
    if _number(value) > timedelta(seconds=MAX_WAIT_SECONDS):
        raise BadDuration(f"Too long for a wait: at most {MAX_WAIT_SECONDS} seconds.")
    return value


def parse_timestamp(value, *, naive_is_utc=False):
    """Return an aware UTC datetime for an ISO 8601 timestamp string (or a datetime), in bounds.

    A timestamp without a zone is refused, or read as UTC with `naive_is_utc` (console forms).
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and _plain(value):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise BadDuration(NOT_A_TIMESTAMP) from exc
    else:
        raise BadDuration(NOT_A_TIMESTAMP)
    if moment.tzinfo is None:
        if not naive_is_utc:
            raise BadDuration(NO_ZONE)
        moment = moment.replace(tzinfo=UTC)
    try:
        return _in_bounds(moment.astimezone(UTC))
    except OverflowError as exc:  # a zone's offset carried it past year 1 or 9999
        raise BadDuration(TOO_EARLY if moment.year < 2 else TOO_LATE) from exc


def field_error(field, exc):
    """The InvalidRequest naming `field` for a BadDuration."""
    return InvalidRequest(f"{field}: {exc}", fields={field: [str(exc)]})


def resolve_deadline(value, now, field="deadline"):
    """Turn a duration from now or a timestamp into an absolute time; None stays None."""
    if value is None:
        return None
    try:
        if isinstance(value, str) and value.startswith(("P", "-P")):
            return add(now, value)
        return parse_timestamp(value)
    except BadDuration as exc:
        message = str(exc) if str(exc) not in (NOT_A_DURATION, NOT_A_TIMESTAMP) else NOT_EITHER
        raise field_error(field, message) from exc
