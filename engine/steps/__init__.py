"""Step types: the base class, the outcomes, the registry and the built-ins (the context they are handed
lives beside their caller, in `engine.runtime.context`)."""
from engine.steps.base import Step, register
from engine.steps.errors import InvalidInput, PermanentError

__all__ = ["InvalidInput", "PermanentError", "Step", "register"]
