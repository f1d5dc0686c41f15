"""The built-in util/* step types, written with the public context alone."""
from engine.steps.builtin import basic, callbacks, children, choice, fanout, waiting  # noqa: F401
