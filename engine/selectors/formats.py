"""How the API writes a moment: ISO 8601 in UTC with a `Z`."""


def iso(moment):
    """Format an aware datetime as `2025-01-31T14:05:09Z` (None stays None)."""
    if moment is None:
        return None
    return moment.isoformat().replace("+00:00", "Z")
