"""Deprecated spellings: each warns once per process (a DeprecationWarning naming the new spelling)."""
import warnings

_warned = set()


def warn_once(old, new, *, stacklevel=3):
    """Warn that `old` is deprecated in favour of `new`, the first time only in this process."""
    if old in _warned:
        return
    _warned.add(old)
    warnings.warn(f"{old} is deprecated; use {new}.", DeprecationWarning, stacklevel=stacklevel)


def reset():
    """Forget which warnings were given (for tests that check the first one)."""
    _warned.clear()
