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


class AliasedDict(dict):
    """A dict whose deprecated keys (`aliases`: old -> new) still read their new key's value and warn once.
    Only the new keys are stored: iterating, comparing or serializing it sees no old name."""

    def __init__(self, values, *, aliases, owner):
        super().__init__(values)
        self._aliases, self._owner = aliases, owner

    def _warn(self, key):
        warn_once(f"{self._owner}[{key!r}]", f"{self._owner}[{self._aliases[key]!r}]", stacklevel=4)

    def __getitem__(self, key):
        if key in self._aliases and not super().__contains__(key):
            self._warn(key)
            return super().__getitem__(self._aliases[key])
        return super().__getitem__(key)

    def get(self, key, default=None):
        if key in self._aliases and not super().__contains__(key):
            self._warn(key)
            return super().get(self._aliases[key], default)
        return super().get(key, default)
