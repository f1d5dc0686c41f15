"""Step types: the base class, the context, the registry and the built-ins."""
from engine.steps.base import Step, register

__all__ = ["Step", "register"]
