"""Relative times for console templates: `{{ moment|relative:now }}` → "in 4 min", "3 h ago"."""
from django import template

from engine.selectors import why

register = template.Library()


@register.filter
def relative(moment, now):
    """`moment` relative to `now`, worded as the transaction page's why-line words it; "" for no moment."""
    if moment is None or now is None:
        return ""
    return why.relative(moment, now=now)
