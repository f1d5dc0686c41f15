"""Relative times for console templates: `{{ moment|relative:now }}` → "in 4 min", "3 h ago"."""
from django import template

register = template.Library()

UNITS = ((86400, "d", 3600, "h"), (3600, "h", 60, "min"), (60, "min", 1, "s"))


def humanize_seconds(seconds):
    """A duration in at most two units: "45 s", "4 min", "3 h 5 min", "1 d 21 h"."""
    seconds = int(abs(seconds))
    for size, name, small, small_name in UNITS:
        if seconds >= size:
            big, rest = divmod(seconds, size)
            rest //= small
            return f"{big} {name} {rest} {small_name}" if rest and big < 10 else f"{big} {name}"
    return f"{seconds} s"


@register.filter
def relative(moment, now):
    """`moment` relative to `now`: "in …" for the future, "… ago" for the past; "" for no moment."""
    if moment is None or now is None:
        return ""
    delta = (moment - now).total_seconds()
    if abs(delta) < 1:
        return "now"
    text = humanize_seconds(delta)
    return f"in {text}" if delta > 0 else f"{text} ago"
