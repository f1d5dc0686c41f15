"""Settings from data: a setting written `{"from": "/json/pointer"}` takes its value from the step's input.

At load time `widen` lets a config_schema accept a reference wherever a setting may be one; when the step
runs, `resolve` puts the values in and checks them against the step type's own config_schema, raising
`SettingFromDataError` (naming the setting and the pointer) when a value is missing or not valid.

Where a reference may stand: any top-level setting; deeper, only where the schema takes no object (an
item of a list of names, a value of a map of pipeline names), since inside a free-form object such as
util/set's `values` an object `{"from": ...}` is data like any other.
"""
import copy

import jsonschema

from engine import clock, durations
from engine.steps.errors import PermanentError
from engine.steps.pointers import MISSING, POINTER_MAX, lookup, pointer_problem

REFERENCE_KEY = "from"
REFERENCE_SCHEMA = {
    "type": "object",
    "properties": {
        REFERENCE_KEY: {"type": "string", "format": "json-pointer", "maxLength": POINTER_MAX,
                        "description": "A JSON pointer into the step's input (`/customer/trial_period`); the "
                        "setting takes the value there when the step runs."},
    },
    "required": [REFERENCE_KEY],
    "additionalProperties": False,
    "description": "A setting taken from the step's input when the step runs.",
}
# The shape that makes an object a reference: exactly one key, "from" (is_reference, in JSON Schema).
REFERENCE_SHAPE = {"type": "object", "required": [REFERENCE_KEY], "maxProperties": 1}


class SettingFromDataError(PermanentError):
    """A setting given as a reference has no value at its pointer, or the value there is not valid for it.

    `setting` is the setting's path in the config (`duration`, `map.gold`), `pointer` the JSON pointer
    (None when the problem is in no single reference), `problem` what is wrong, in words.
    """

    code = "setting_from_data"

    def __init__(self, setting, pointer, problem):
        self.setting, self.pointer, self.problem = setting, pointer, problem
        source = f" from `{pointer}`" if pointer is not None else ""
        self.message = f"setting `{setting}`{source}: {problem}"
        super().__init__(self.message)


def is_reference(value):
    """Tell whether `value` is a reference: an object whose one key is `from`."""
    return isinstance(value, dict) and len(value) == 1 and REFERENCE_KEY in value


def _takes_object(schema):
    kinds = schema.get("type")
    if kinds is None:
        return "enum" not in schema and "const" not in schema
    return "object" in kinds if isinstance(kinds, list) else kinds == "object"


def _inner(schema):
    """Yield `(kind, key, sub-schema)` for each place inside `schema` a value of its own may stand."""
    for key, sub in schema.get("properties", {}).items():
        yield "properties", key, sub
    for kind in ("additionalProperties", "items"):
        if isinstance(schema.get(kind), dict):
            yield kind, None, schema[kind]


def _or_reference(schema):
    return {"if": REFERENCE_SHAPE, "then": REFERENCE_SCHEMA, "else": schema}


def _widen_inside(schema):
    widened = dict(schema)
    for kind, key, sub in _inner(schema):
        sub = _widen_inside(sub)
        sub = sub if _takes_object(sub) else _or_reference(sub)
        if kind == "properties":
            widened["properties"] = {**widened["properties"], key: sub}
        else:
            widened[kind] = sub
    return widened


def widen(schema, *, fixed=()):
    """Return a copy of a config_schema that also accepts a reference wherever `resolve` takes one: for
    each top-level setting (except those named in `fixed`), and deeper where the schema takes no object.

    Checks of the config as a whole (`required`, `oneOf` of required settings) still apply. A reference's
    pointer has the format `json-pointer`: a format checker that knows it refuses a misspelt one.
    """
    widened = dict(schema)
    properties = {}
    for name, sub in schema.get("properties", {}).items():
        properties[name] = sub if name in fixed else _or_reference(_widen_inside(sub))
    if "properties" in schema:
        widened["properties"] = properties
    return widened


def _spelled(parts):
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _substitute(value, schema, parts, data, found, top=False):
    """Return `value` with its references replaced; record `(parts, pointer)` of each in `found`."""
    if is_reference(value) and (top or not _takes_object(schema)):
        pointer = value[REFERENCE_KEY]
        problem = pointer_problem(pointer)
        if problem:
            raise SettingFromDataError(_spelled(parts), pointer, problem)
        resolved = lookup(data, pointer)
        if resolved is MISSING:
            raise SettingFromDataError(_spelled(parts), pointer, "no value at that path")
        found.append((parts, pointer))
        return copy.deepcopy(resolved)
    if isinstance(value, dict):
        properties, rest = schema.get("properties", {}), schema.get("additionalProperties")
        return {key: _substitute(item, properties.get(key, rest), [*parts, key], data, found)
                if isinstance(properties.get(key, rest), dict) else item
                for key, item in value.items()}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_substitute(item, schema["items"], [*parts, index], data, found) for index, item in enumerate(value)]
    return value


def _format_checker(now):
    checker = jsonschema.FormatChecker([])

    @checker.checks("duration", raises=durations.BadDuration)
    def _duration(value):
        return not isinstance(value, str) or durations.add(now, value) is not None

    @checker.checks("date-time", raises=durations.BadDuration)
    def _timestamp(value):
        return not isinstance(value, str) or durations.parse_timestamp(value) is not None

    return checker


FORMAT_WORDS = {"duration": "duration (ISO 8601, such as \"P30D\")",
                "date-time": "timestamp (ISO 8601 with a zone, such as \"2030-01-01T00:00:00Z\")"}


def _problem(error):
    if error.validator != "format" or error.validator_value not in FORMAT_WORDS:
        return error.message
    kind = FORMAT_WORDS[error.validator_value]
    reason = str(error.cause or "").rstrip(".")
    if not reason or reason.startswith("Not an ISO 8601"):
        return f"{error.instance!r} is not a valid {kind}"
    return f"{error.instance!r} is not a valid {kind.split(' ')[0]}: {reason[:1].lower()}{reason[1:]}"


def resolve(config, data, *, schema, fixed=(), now=None):
    """Return `config` with every reference replaced by the value its pointer names in `data`, checked
    against `schema` (the step type's config_schema); `config` itself when it holds no reference.

    Raise SettingFromDataError for a pointer with no value, or a value the schema refuses (the first
    problem, in the order of the settings). Settings named in `fixed` are taken as written, as `widen`
    takes them. `now` bounds durations (default: the engine's clock).
    """
    found = []
    properties = schema.get("properties", {})
    resolved = {name: value if name in fixed else
                _substitute(value, properties.get(name, {}), [name], data, found, top=True)
                for name, value in config.items()}
    if not found:
        return config
    validator = jsonschema.Draft202012Validator(schema, format_checker=_format_checker(now or clock.now()))
    for error in sorted(validator.iter_errors(resolved), key=lambda e: list(map(str, e.absolute_path))):
        where = list(error.absolute_path)
        for parts, pointer in found:
            if where[:len(parts)] == parts:
                inside = _spelled(where[len(parts):])
                at = f"at {inside if inside.startswith('[') else '.' + inside}: " if inside else ""
                raise SettingFromDataError(_spelled(parts), pointer, at + _problem(error))
        raise SettingFromDataError(_spelled(where) or "(config)", None, _problem(error))
    return resolved
