"""The registry of step types, filled when Django starts (`register()` / `reset()`)."""
import importlib
import logging

from django.apps import apps

from engine import conf

logger = logging.getLogger(__name__)

_types = {}
_aliases = {"util/wait": "util/wait-switch"}


def register(cls):
    """Register a Step subclass under its `type_name`; usable as a class decorator."""
    name = getattr(cls, "type_name", None)
    if not name:
        raise ValueError(f"{cls.__name__} has no type_name")
    _types[name] = cls
    return cls


def unregister(name):
    _types.pop(name, None)


def get(name):
    """Return the step type class registered under `name` (or an alias), or None."""
    return _types.get(_aliases.get(name, name))


def canonical_name(name):
    return _aliases.get(name, name)


def all_types():
    return dict(sorted(_types.items()))


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
