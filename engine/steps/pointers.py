"""JSON pointers (RFC 6901) into a step's input: check one's spelling, and look up the value it names."""
import re

MISSING = object()
# "" names the whole document; else "/"-separated tokens in which "~" appears only as "~0" or "~1".
POINTER_PATTERN = r"^(/([^~]|~[01])*)*$"
POINTER_MAX = 500  # characters: far more than any real path, and a bound on the work a lookup does
_POINTER_RE = re.compile(POINTER_PATTERN)
_INDEX_RE = re.compile(r"^(0|[1-9][0-9]*)$")


def pointer_problem(pointer):
    """Return why `pointer` is not a JSON pointer this engine follows, or None."""
    if not isinstance(pointer, str):
        return "must be a JSON pointer (text such as \"/customer/id\")"
    if len(pointer) > POINTER_MAX:
        return f"a JSON pointer of at most {POINTER_MAX} characters"
    if not _POINTER_RE.match(pointer):
        return (f"{pointer!r} is not a JSON pointer: it starts with \"/\" (or is \"\" for the whole input), "
                "and \"~\" is written only as \"~0\" (for ~) or \"~1\" (for /)")
    return None


def tokens(pointer):
    """Return the reference tokens of a valid `pointer`, unescaped (`~1` is `/`, then `~0` is `~`)."""
    if pointer == "":
        return []
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def lookup(data, pointer):
    """Return the value `pointer` names in `data`, or MISSING when there is none.

    An array index is a non-negative whole number without leading zeros; `-` (past the end) names nothing.
    """
    current = data
    for token in tokens(pointer):
        if isinstance(current, dict):
            if token not in current:
                return MISSING
            current = current[token]
        elif isinstance(current, list):
            if not _INDEX_RE.match(token) or int(token) >= len(current):
                return MISSING
            current = current[int(token)]
        else:
            return MISSING
    return current
