"""ISO 8601 durations and timestamps: parsing, and calendar arithmetic in UTC (isodate)."""
from datetime import UTC, datetime, timedelta

import isodate

from engine.errors import InvalidRequest


class BadDuration(ValueError):
    pass


def parse_duration(value):
    """Return a timedelta or an isodate.Duration (months, years) for an ISO 8601 string or seconds."""
    if isinstance(value, bool):
        raise BadDuration("not an ISO 8601 duration")
    if isinstance(value, int | float):
        if value < 0 or value != value or value in (float("inf"),):
            raise BadDuration("a duration in seconds must be a finite number >= 0")
        return timedelta(seconds=value)
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str) or not value.startswith("P"):
        raise BadDuration("not an ISO 8601 duration")
    try:
        parsed = isodate.parse_duration(value)
    except (isodate.ISO8601Error, ValueError, OverflowError) as exc:
        raise BadDuration("not an ISO 8601 duration") from exc
    probe = parsed if isinstance(parsed, timedelta) else parsed.totimedelta(start=datetime(2000, 1, 1))
    if probe < timedelta(0):
        raise BadDuration("a duration must not be negative")
    return parsed


def is_duration(value):
    try:
        parse_duration(value)
    except BadDuration:
        return False
    return True


def add(moment, value):
    """Return `moment` plus the duration `value`, with months and years as UTC calendar arithmetic."""
    duration = parse_duration(value)
    base = moment.astimezone(UTC)
    try:
        return base + duration
    except OverflowError as exc:
        raise BadDuration("the duration is too long") from exc


def seconds(value, start):
    """Return the length in seconds of `value` when measured from `start`."""
    return (add(start, value) - start).total_seconds()


def parse_timestamp(value):
    """Return an aware UTC datetime for an ISO 8601 timestamp string (or an aware datetime)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise BadDuration("not an ISO 8601 timestamp") from exc
    else:
        raise BadDuration("not an ISO 8601 timestamp")
    if moment.tzinfo is None:
        raise BadDuration("a timestamp needs a time zone (for example Z)")
    return moment.astimezone(UTC)


def resolve_deadline(value, now, field="deadline"):
    """Turn a duration from now or a timestamp into an absolute time; None stays None."""
    if value is None:
        return None
    try:
        if isinstance(value, str) and value.startswith("P"):
            return add(now, value)
        return parse_timestamp(value)
    except BadDuration as exc:
        raise InvalidRequest(
            f"{field}: not an ISO 8601 duration or timestamp.",
            fields={field: ["Not an ISO 8601 duration or timestamp."]},
        ) from exc
