"""What to do about a step type name the registry does not know: the class defined for it but not
registered, or the registered name it is close to."""
import difflib
import importlib.util
import re
import sys
from pathlib import PurePath

from engine.steps import registry
from engine.steps.base import Step

CUTOFF = 0.6  # difflib's own: below it two names are not alike enough to suggest one for the other


def _squash(text):
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _where(cls):
    """Return the file that defines `cls`, as the path of its module (`shop/steps.py`)."""
    module = sys.modules.get(cls.__module__)
    file = getattr(module, "__file__", None)
    if not file:
        return cls.__module__
    depth = cls.__module__.count(".") + 1 + (PurePath(file).stem == "__init__")
    return PurePath(*PurePath(file).parts[-depth:]).as_posix()


def unregistered_for(name):
    """Return the Step subclass that is defined but registered under no name and that `name` most likely
    means, or None: its own `type_name` is `name`; else its class name is the whole name (`shop/reserve`
    ↔ `ShopReserve`); else the part after the last `/`, with or without a `Step` suffix (`Reserve`,
    `ReserveStep`)."""
    registered = set(map(id, registry.all_types().values()))
    candidates = sorted((cls for cls in _subclasses(Step) if id(cls) not in registered),
                        key=lambda cls: (cls.__module__, cls.__qualname__))
    whole, last = _squash(name), _squash(name.rsplit("/", 1)[-1])
    tiers = (
        lambda cls: cls.__dict__.get("type_name") == name,
        lambda cls: _squash(cls.__name__) == whole,
        lambda cls: last and _squash(cls.__name__) in (last, f"{last}step"),
    )
    for matches in tiers:
        found = [cls for cls in candidates if matches(cls)]
        if found:
            return found[0]
    return None


def unimported_module(name):
    """Return the dotted name of a `steps` module that exists for the namespace of step type `name`
    (`shipping.steps` for `shipping/quote`) but was never imported, so nothing in it is registered; or None."""
    space = name.rpartition("/")[0].replace("-", "_")
    if not space.isidentifier():
        return None
    dotted = f"{space}.steps"
    if dotted in sys.modules:
        return None
    try:
        found = importlib.util.find_spec(dotted)
    except (ImportError, ValueError):  # no package of that name, or one that fails to import
        return None
    return dotted if found is not None else None


def unimported_hint(name):
    """Say how to import the `steps` module that most likely defines step type `name`; "" when none."""
    dotted = unimported_module(name)
    if dotted is None:
        return ""
    package = dotted.rpartition(".")[0]
    return (f"`{dotted.replace('.', '/')}.py` exists but is never imported, so nothing in it is registered: "
            f"add `\"{package}\"` to INSTALLED_APPS, or `{dotted}` to DATP[\"STEP_MODULES\"] "
            f"(environment: DATP_STEP_MODULES), or import it in your test")


def _likeness(name, known):
    """How alike two step type names are, from 0 to 1. In the same namespace only the part after it counts
    (else every `util/…` looks like every other), and a part that begins the other (`child` of
    `child-pipeline`) counts as close."""
    space, _, tail = name.rpartition("/")
    known_space, _, known_tail = known.rpartition("/")
    if space != known_space:
        return difflib.SequenceMatcher(None, name, known).ratio()
    ratio = difflib.SequenceMatcher(None, tail, known_tail).ratio()
    begins = len(tail) >= 3 and known_tail.startswith(tail)
    return max(ratio, CUTOFF) if begins else ratio


def closest(name, known):
    """Return the name in `known` most like `name`, or None if none is alike enough."""
    scored = sorted(((_likeness(name, other), other) for other in known), key=lambda pair: (-pair[0], pair[1]))
    return scored[0][1] if scored and scored[0][0] >= CUTOFF else None


def unregistered_hint(name):
    """Name the class defined for step type `name` but not registered, and the line that registers it;
    "" when there is none."""
    cls = unregistered_for(name) if isinstance(name, str) and name else None
    if cls is None:
        return ""
    return f"`{cls.__name__}` is defined in `{_where(cls)}` but not registered: add `@register(\"{name}\")`"


def unknown_hint(name):
    """Say what to do about step type `name` that is not registered: register the class that is defined for
    it, import the app's steps module that was never imported, or use the registered name it is close to. Return "" when there is nothing to suggest."""
    if not isinstance(name, str) or not name:
        return ""
    unregistered = unregistered_hint(name) or unimported_hint(name)
    if unregistered:
        return unregistered
    close = closest(name, registry.known_names())
    return f"did you mean `{registry.canonical_name(close)}`?" if close else ""


def unknown_message(name):
    """The problem text for an unknown step type `name`, with its hint when there is one."""
    hint = unknown_hint(name)
    return f"unknown step type {name!r}" + (f": {hint}" if hint else "")
