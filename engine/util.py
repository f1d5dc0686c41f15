"""Small pure helpers: deep merge and dotted paths over JSON objects."""
import copy

_MISSING = object()


def deep_merge(base, update):
    """Return a copy of `base` with `update` merged in; nested objects merge, later keys win."""
    result = copy.deepcopy(base) if isinstance(base, dict) else {}
    for key, value in (update or {}).items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def get_path(data, path, default=None):
    """Return the value at a dotted `path` of `data`, or `default` when any part is absent."""
    current = data
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return default
    return current


def has_path(data, path):
    return get_path(data, path, _MISSING) is not _MISSING
