"""Times for console templates: `{{ moment|relative:now }}` → "in 4 min", "3 h ago"; `{{ moment|stamp }}` →
"2025-01-31 14:05:09 UTC"; `{{ moment|local:zone }}` → "2025-01-31 15:05 CET". A moment is a datetime or the
ISO 8601 text the selectors' dicts hold."""
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import template

from engine.selectors import why

register = template.Library()


def _moment(value):
    """`value` as an aware datetime (from a datetime or ISO 8601 text), or None."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


@register.filter
def relative(moment, now):
    """`moment` relative to `now`, worded as the transaction page's why-line words it; "" for no moment."""
    moment = _moment(moment)
    if moment is None or now is None:
        return ""
    return why.relative(moment, now=now)


@register.filter
def stamp(moment):
    """`moment` as the console writes a moment (in UTC); "" for no moment."""
    moment = _moment(moment)
    return why.stamp(moment) if moment is not None else ""


@register.filter
def local(moment, zone):
    """`moment` on the wall clock of the IANA `zone`, with the zone's abbreviation; "" for no moment or zone."""
    moment = _moment(moment)
    try:
        found = ZoneInfo(zone) if moment is not None and zone else None
    except (ZoneInfoNotFoundError, ValueError):
        found = None
    return moment.astimezone(found).strftime("%Y-%m-%d %H:%M %Z") if found is not None else ""
