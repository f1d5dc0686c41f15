"""The errors a step may raise on purpose (`PermanentError`, `InvalidInput`), and `Raised`: what a step
raised, as a retry policy matches it (by class name or dotted path, through the class's ancestors)."""
from dataclasses import dataclass


class PermanentError(Exception):
    """Raise from a step to say that running it again cannot help (the input is bad): it is never retried,
    whatever its retry policy, and the step run and the transaction end `failed` (routable with `on.failed`)."""

    code = "permanent_error"


class InvalidInput(PermanentError):
    """A step's input does not match its step type's `input_schema`: `problems` lists each
    (JSON pointer of the failing value, jsonschema's message)."""

    code = "invalid_input"

    def __init__(self, problems):
        self.problems = list(problems)
        listed = "; ".join(f"{pointer or '(root)'}: {message}" for pointer, message in self.problems)
        super().__init__(f"the input does not match the step type's input_schema: {listed}")


def _names_of(cls):
    return {cls.__name__, cls.__qualname__, f"{cls.__module__}.{cls.__qualname__}"}


@dataclass(frozen=True)
class Raised:
    """An exception a step raised: its class name, the names of that class and its ancestors, and
    whether it is a PermanentError."""

    name: str
    names: frozenset = frozenset()
    permanent: bool = False

    @classmethod
    def of(cls, exc):
        lineage = [klass for klass in type(exc).__mro__ if klass is not object]
        names = frozenset(name for klass in lineage for name in _names_of(klass))
        return cls(type(exc).__name__, names, isinstance(exc, PermanentError))

    def listed_in(self, entries):
        """Return the first of `entries` (class names or dotted paths) that this exception's class or an
        ancestor of it answers to, or None."""
        return next((entry for entry in entries if entry in self.names), None)
