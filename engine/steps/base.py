"""The Step base class that every step type extends, and `register`."""
from engine.steps.registry import register

__all__ = ["Step", "register"]


class Step:
    """A step type: `invoke(ctx)` does the work and returns one outcome built from `ctx`.

    A step type holds no per-transaction state on `self`; everything comes through the context.
    """

    type_name = None
    config_schema = {"type": "object"}
    description = None
    # The outcomes it may end with, fixed (`success`, ...) and named (`approved`): loading refuses a route
    # on any other name, and ending with an undeclared named outcome fails the step. None: any name.
    outcomes = None

    def invoke(self, ctx):
        raise NotImplementedError

    @classmethod
    def pipelines_named(cls, config):
        """Return `(path within config, pipeline name)` for each pipeline a step of this type with the
        (valid) `config` may start as a child, so loading can refuse a name that does not exist."""
        return []

    @classmethod
    def outcomes_for(cls, config):
        """Return the outcomes a step of this type with the (valid) `config` may end with (None: any name);
        `outcomes` unless the config names them (a step type whose rules name outcomes overrides this)."""
        return None if cls.outcomes is None else tuple(cls.outcomes)

    @classmethod
    def describe(cls):
        text = cls.description or (cls.__doc__ or "").strip()
        return " ".join(text.split())
