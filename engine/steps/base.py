"""The Step base class that every step type extends, and `register`."""
import jsonschema

from engine.steps.references import resolve
from engine.steps.errors import InvalidInput
from engine.steps.registry import register

__all__ = ["Step", "register"]


MESSAGE_MAX = 200  # jsonschema's messages quote the value, which may be large


def _pointer(path):
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def _shortened(message):
    return message if len(message) <= MESSAGE_MAX else message[:MESSAGE_MAX - 1] + "…"


class Step:
    """A step type: `invoke(ctx)` does the work and returns one outcome built from `ctx`.

    A step type holds no per-transaction state on `self`; everything comes through the context.
    """

    type_name = None
    config_schema = {"type": "object"}
    # JSON Schema (draft 2020-12) of the step's input, checked before each run; None accepts any input.
    input_schema = None
    description = None
    # The outcomes it may end with, fixed (`success`, ...) and named (`approved`): loading refuses a route
    # on any other name, and ending with an undeclared named outcome fails the step. None: any name.
    outcomes = None
    # Settings always taken as written: any other may be given as {"from": "/json/pointer"} into the input.
    fixed_settings = ()

    def invoke(self, ctx):
        raise NotImplementedError

    @classmethod
    def check_input(cls, data):
        """Raise InvalidInput, naming the JSON pointer and the problem of each value `input_schema`
        refuses, unless `data` matches it."""
        if cls.input_schema is None:
            return
        validator = jsonschema.Draft202012Validator(cls.input_schema)
        errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
        if errors:
            raise InvalidInput([(_pointer(error.absolute_path), _shortened(error.message)) for error in errors])

    @classmethod
    def config_problems(cls, config):
        """Return the problems of a `config` that passed config_schema, each with its path in the config
        (`rules[0].when.gt: ...`); a step type whose settings need more than JSON Schema overrides this."""
        return []

    @classmethod
    def resolve_config(cls, config, data, *, now):
        """Return `config` with each setting given as {"from": pointer} replaced by the value at that
        pointer in `data` (the step's input), checked against config_schema. Raise SettingFromDataError
        (a PermanentError: never retried) naming the setting and the pointer when it cannot be."""
        return resolve(config, data, schema=cls.config_schema, fixed=cls.fixed_settings, now=now)

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
