"""A schedule's calendar: when its runs are due, from a cron expression read in a time zone (cronsim, with
Debian cron's rules across daylight-saving changes) or an ISO 8601 interval, between a start and an end, each
run late by a jitter of its own. Pure: no database (engine.services.schedules stores and fires schedules).

Cron: a time skipped by a change to summer time runs once, at the first minute after the gap; a time that
occurs twice when the clocks go back runs once, the first time (a job of every minute or hour runs at each
real minute or hour instead). An interval without days, months or years (`PT15M`) is real time, counted from
the schedule's start or else from 1970-01-01T00:00Z, so `PT15M` falls at :00, :15, :30 and :45; one with days,
months or years (`P1D`, `P1M`) is wall-clock time in the zone, counted from the start or else from
1970-01-01T00:00 there, so `P1D` stays at the same time of day across a change of the clocks (a wall time the
change skips runs as the zone reads it: 02:30 is 03:30).
"""
import hashlib
import math
import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from cronsim import CronSim, CronSimError

from engine import durations

OVERLAPS = ("skip", "buffer_one", "allow", "cancel_previous")
DEFAULT_OVERLAP = "skip"
DEFAULT_CATCHUP_WINDOW = "PT1H"
MAX_CRON = 120  # characters
# cron's nicknames, as Debian cron and croniter read them (cronsim reads fields only)
NICKNAMES = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
             "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
SHORTEST_INTERVAL = timedelta(seconds=1)
LONGEST_JITTER = timedelta(days=1)
LONGEST_WINDOW = timedelta(days=366)
# The last due time a schedule may have: a day before the last moment the engine stores, so that its jitter
# and the engine's own small additions never pass it.
LAST_DUE = durations.LATEST - timedelta(days=2)
EPOCH = datetime(1970, 1, 1)
# How many due times one look at a schedule walks at most; a schedule down longer than that many of its runs
# counts the rest as missed at once (engine.services.schedules).
MAX_WALK = 1000


class BadSchedule(ValueError):
    """A field of a schedule that cannot be: `field` names it, `str()` is the message."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field


def zone(name):
    """The ZoneInfo of an IANA time zone name, or BadSchedule naming `timezone`."""
    if not isinstance(name, str) or not name or len(name) > 64 or not name.isascii() or ".." in name:
        raise BadSchedule("timezone", "Not an IANA time zone name (for example Europe/Paris or UTC).")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        hint = _zone_hint(name)
        raise BadSchedule("timezone", f"Unknown time zone {name!r}" + (f": did you mean `{hint}`?" if hint else
                                                                        " (an IANA name, for example Europe/Paris).")
                          ) from exc


def _zone_hint(name):
    folded = name.lower().replace(" ", "_")
    return next((known for known in sorted(available_timezones()) if known.lower() == folded), None)


def check_cron(expression):
    """Return the cron expression, stripped, or raise BadSchedule naming `cron`."""
    if not isinstance(expression, str) or not expression.strip() or len(expression) > MAX_CRON:
        raise BadSchedule("cron", f"A cron expression is a text of 5 fields (minute hour day month weekday), "
                                  f"at most {MAX_CRON} characters.")
    text = " ".join(expression.split())
    text = NICKNAMES.get(text.lower(), text)
    try:
        CronSim(_nearest_weekday(text)[0], EPOCH.replace(tzinfo=UTC))
    except (CronSimError, ValueError, IndexError) as exc:
        raise BadSchedule("cron", f"Not a cron expression: {exc or 'bad field'}.") from exc
    if len(text.split()) not in (5, 6):
        raise BadSchedule("cron", "A cron expression has 5 fields (or 6, with seconds first).")
    return text


NEAREST_WEEKDAY = re.compile(r"^([1-9]|[12][0-9]|3[01])W$", re.IGNORECASE)


def _nearest_weekday(text):
    """Quartz's `nW` day of the month (the weekday nearest the n-th, in the same month: `1W` is the first working
    day), which cronsim does not read: (the expression cronsim reads, with the days around n instead, and n), or
    (`text`, None). Only with every weekday (`*` or `?`), as in Quartz."""
    fields = text.split()
    day = len(fields) - 3  # day of month: the third field of five, the fourth of six
    found = NEAREST_WEEKDAY.match(fields[day]) if len(fields) in (5, 6) else None
    if found is None:
        return text, None
    if fields[-1] not in ("*", "?"):
        raise CronSimError("nW (the nearest weekday) needs * as the day of the week")
    nth = int(found.group(1))
    fields[day], fields[-1] = f"{max(1, nth - 2)}-{min(31, nth + 2)}", "*"
    return " ".join(fields), nth


def nearest_weekday(year, month, nth):
    """The day of the month of the weekday nearest the `nth` (Quartz's `nW`), never in another month; None when the
    month has no `nth` day."""
    last = monthrange(year, month)[1]
    if nth > last:
        return None
    weekday = date(year, month, nth).weekday()
    if weekday == 5:  # Saturday: the Friday before, or the Monday after when the 1st
        return nth - 1 if nth > 1 else nth + 2
    if weekday == 6:  # Sunday: the Monday after, or the Friday before when the last day
        return nth + 1 if nth < last else nth - 2
    return nth


def check_interval(text):
    """Return the parsed interval (a timedelta or an isodate.Duration), or raise BadSchedule naming `interval`."""
    if not isinstance(text, str):
        raise BadSchedule("interval", "An interval is an ISO 8601 duration text, for example PT15M or P1D.")
    try:
        interval = durations.parse_duration(text)
    except durations.BadDuration as exc:
        raise BadSchedule("interval", str(exc)) from exc
    if _length(interval) < SHORTEST_INTERVAL:
        raise BadSchedule("interval", "An interval must be at least one second (PT1S).")
    return interval


def check_jitter(value):
    """Return the jitter as a timedelta (no jitter: zero), or raise BadSchedule naming `jitter`."""
    if value in (None, ""):
        return timedelta(0)
    try:
        jitter = durations.parse_duration(value)
    except durations.BadDuration as exc:
        raise BadSchedule("jitter", str(exc)) from exc
    if not isinstance(jitter, timedelta) or jitter > LONGEST_JITTER:
        raise BadSchedule("jitter", "A jitter is at most one day (P1D), without months or years.")
    return jitter


def check_window(value):
    """Return the catch-up window as a timedelta, or raise BadSchedule naming `catchup_window`."""
    try:
        window = durations.parse_duration(DEFAULT_CATCHUP_WINDOW if value in (None, "") else value)
    except durations.BadDuration as exc:
        raise BadSchedule("catchup_window", str(exc)) from exc
    if not isinstance(window, timedelta) or window > LONGEST_WINDOW:
        raise BadSchedule("catchup_window", "A catch-up window is at most P366D, without months or years "
                                            "(PT1H, P7D).")
    return window


def _length(interval):
    """The length of `interval` from the year 1 (months and years vary; this is for checks and estimates)."""
    start = durations.EARLIEST  # parse_duration let no duration carry it past what a datetime holds
    return (start + interval) - start


def _wall(interval):
    """Whether `interval` counts wall-clock time (it has days, months or years) rather than real time."""
    if isinstance(interval, timedelta):
        return interval.days > 0
    return bool(interval.years or interval.months or interval.tdelta.days)


@dataclass(frozen=True)
class Calendar:
    """When a schedule's runs are due: `cron` or `interval` (exactly one), read in `timezone`, from `start_at`
    (inclusive) to `end_at` (inclusive); both aware datetimes or None."""

    cron: str | None
    interval: str | None
    timezone: str = "UTC"
    start_at: datetime | None = None
    end_at: datetime | None = None

    def __post_init__(self):
        if (self.cron is None) == (self.interval is None):
            raise BadSchedule("cron", "Give exactly one of cron and interval.")
        if self.start_at is not None and self.end_at is not None and self.end_at < self.start_at:
            raise BadSchedule("end_at", "The end must not come before the start.")

    @classmethod
    def of(cls, schedule):
        """The calendar of a Schedule row (or anything with its fields)."""
        return cls(cron=schedule.cron, interval=schedule.interval, timezone=schedule.timezone,
                   start_at=schedule.start_at, end_at=schedule.end_at)

    def next_after(self, moment):
        """The first due time strictly after `moment` (aware), in UTC, or None when none is left."""
        if self.start_at is not None and moment < self.start_at:
            moment = self.start_at - timedelta(microseconds=1)
        try:
            found = self._cron_after(moment) if self.cron is not None else self._interval_after(moment)
        except (OverflowError, ValueError):  # past what a datetime holds: no due time is left
            return None
        if found is None or found > LAST_DUE or (self.end_at is not None and found > self.end_at):
            return None
        return found

    def due_between(self, after, until, *, limit=MAX_WALK):
        """The due times in (`after`, `until`], oldest first, at most `limit` of them."""
        found, moment = [], after
        while len(found) < limit:
            moment = self.next_after(moment)
            if moment is None or moment > until:
                break
            found.append(moment)
        return found

    def _cron_after(self, moment):
        local = moment.astimezone(zone(self.timezone))
        expression, nth = _nearest_weekday(self.cron)
        for found in CronSim(expression, local):  # the days around an nW day, until the nearest weekday itself
            if nth is None or found.day == nearest_weekday(found.year, found.month, nth):
                return found.astimezone(UTC)
        return None  # cronsim found no time left before year 9999 (e.g. 30 February)

    def _interval_after(self, moment):
        interval = check_interval(self.interval)
        tz = zone(self.timezone)
        if not _wall(interval):  # real time: a multiple of the interval after the anchor
            anchor = self.start_at or EPOCH.replace(tzinfo=UTC)
            count = max(0, math.floor((moment - anchor) / interval) + 1)
            return (anchor + interval * count).astimezone(UTC)
        # wall-clock time in the zone: estimate the count, then step to the first after `moment`
        anchor = (self.start_at.astimezone(tz).replace(tzinfo=None) if self.start_at is not None else EPOCH)
        wall = moment.astimezone(tz).replace(tzinfo=None)
        count = max(0, math.floor((wall - anchor) / _length(interval)) - 2)
        while True:
            due = (anchor + interval * count).replace(tzinfo=tz).astimezone(UTC)
            if due > moment:
                return due
            count += 1


def jitter_of(name, due, jitter):
    """How late the run of schedule `name` due at `due` fires: a fixed share of `jitter` (a timedelta) drawn from
    the name and the due time, so every node computes the same moment."""
    if not jitter:
        return timedelta(0)
    digest = hashlib.sha256(f"{name}|{due.astimezone(UTC).isoformat()}".encode()).digest()
    steps = int(jitter / timedelta(milliseconds=1))
    return timedelta(milliseconds=int.from_bytes(digest[:8], "big") % (steps + 1))


def external_id(name, due):
    """The external id of the transaction a schedule starts for a due time: one per schedule and due time."""
    return f"schedule:{name}:{stamp(due)}"


def stamp(moment):
    """A due time as its external id and the API write it: UTC, to the second (milliseconds if it has them)."""
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
