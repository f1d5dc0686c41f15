"""The registry of step types, filled when Django starts (`register()` / `reset()`)."""
import importlib
import logging

import jsonschema
from django.apps import apps

from engine import conf
from engine.steps.outcomes import outcome_name_problem

logger = logging.getLogger(__name__)

_types = {}
_aliases = {"util/wait": "util/wait-switch"}


def register(cls_or_name):
    """Register a Step subclass under its `type_name`; a class decorator, as `@register` or, naming the
    type, `@register("shop/reserve")` (which sets the class's `type_name`)."""
    if isinstance(cls_or_name, str):
        return lambda cls: _register(cls, cls_or_name)
    return _register(cls_or_name, None)


def _register(cls, name):
    own = cls.__dict__.get("type_name")
    if name is not None:
        if own and own != name:
            raise ValueError(f"{cls.__name__} has type_name {own!r}, not {name!r}")
        cls.type_name = name
    name = getattr(cls, "type_name", None)
    if not name:
        raise ValueError(f"{cls.__name__} has no type_name")
    _check_outcomes(cls)
    schema = getattr(cls, "input_schema", None)
    if schema is not None:
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"{cls.__name__}.input_schema is no JSON Schema: {exc.message}") from exc
    _types[name] = cls
    return cls


def _check_outcomes(cls):
    """Refuse a class whose `outcomes` is not None or a tuple (or list) of outcome names."""
    declared = getattr(cls, "outcomes", None)
    if declared is None:
        return
    if isinstance(declared, str) or not isinstance(declared, tuple | list):
        raise ValueError(f"{cls.__name__}.outcomes must be a tuple of outcome names, not {declared!r}")
    for name in declared:
        problem = outcome_name_problem(name)
        if problem:
            raise ValueError(f"{cls.__name__}.outcomes: {name!r}: {problem}")


def unregister(name):
    _types.pop(name, None)


def get(name):
    """Return the step type class registered under `name` (or an alias), or None."""
    return _types.get(_aliases.get(name, name))


def canonical_name(name):
    return _aliases.get(name, name)


def all_types():
    return dict(sorted(_types.items()))


def known_names():
    """Every name `get` answers: the registered names and the aliases."""
    return [*_types, *_aliases]


def autodiscover():
    """Import the built-ins, every installed app's `steps` module and DATP["STEP_MODULES"]."""
    importlib.import_module("engine.steps.builtin")
    for app in apps.get_app_configs():
        if app.name == "engine":
            continue
        try:
            importlib.import_module(f"{app.name}.steps")
        except ModuleNotFoundError as exc:
            if exc.name != f"{app.name}.steps":
                raise
    for module in conf.get("STEP_MODULES"):
        importlib.import_module(module)
