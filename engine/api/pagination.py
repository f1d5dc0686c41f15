"""Keyset pagination for `{"results": [...], "next": <url or null>}`: `?limit=` and an opaque `?cursor=`."""
from django.http import QueryDict

from engine import keyset
from engine.errors import InvalidRequest

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def page_limit(request):
    raw = request.query_params.get("limit")
    if raw in (None, ""):
        return DEFAULT_LIMIT
    digits = raw.lstrip("0")
    if not (raw.isascii() and raw.isdigit()) or not digits:  # ASCII: "²" is a digit that int() refuses
        raise InvalidRequest("limit: a positive integer.", fields={"limit": ["Must be a positive integer."]})
    return MAX_LIMIT if len(digits) > 6 else min(int(digits), MAX_LIMIT)  # int() refuses 4,300 digits


def encode_cursor(values):
    return keyset.pack(values)


def decode_cursor(request, shape):
    """Return the cursor's values (a list matching the types in `shape`), or None on the first page."""
    raw = request.query_params.get("cursor")
    if raw in (None, ""):
        return None
    try:
        values = keyset.unpack(raw)
    except ValueError:
        values = None
    if not isinstance(values, list) or len(values) != len(shape) or not all(
        isinstance(value, kind) and not isinstance(value, bool) for value, kind in zip(values, shape, strict=True)
    ):
        raise InvalidRequest("cursor: not a cursor this list gave.", fields={"cursor": ["Not a valid cursor."]})
    return values


def next_url(request, values):
    """The URL of the page after the one that ended at `values`."""
    query = QueryDict(mutable=True)
    query.update(request.query_params)
    query["cursor"] = encode_cursor(values)
    return f"{request.path}?{query.urlencode()}"


def paged(request, rows, limit, key, render):
    """Build the page body from `rows` (fetched with limit + 1, to know whether more follow)."""
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "results": [render(row) for row in rows],
        "next": next_url(request, key(rows[-1])) if more and rows else None,
    }
