"""Run code blocks of the Markdown docs as tests: compile a block under a name tracebacks can show, and
install a step module from a block as the app module it stands for."""
import gc
import linecache
import sys
import types
from contextlib import contextmanager

from engine.steps import registry


def compiled(code, filename):
    """Compile `code` under `filename`, with its lines known to tracebacks."""
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    return compile(code, filename, "exec")


@contextmanager
def installed_steps(dotted, code, *, type_names):
    """Install `code` as the module `dotted` (e.g. `shop.steps`) of a package, as an installed app would
    provide it; on leaving, unregister `type_names` and put back whatever held those names before (a real
    app of that name, e.g. an example project's, imported in the same session)."""
    package_name, module_name = dotted.split(".")
    package, module = types.ModuleType(package_name), types.ModuleType(dotted)
    package.__path__ = []
    setattr(package, module_name, module)
    before = {name: sys.modules.get(name) for name in (package_name, dotted)}
    sys.modules.update({package_name: package, dotted: module})
    try:
        exec(code, module.__dict__)
        yield module
    finally:
        for type_name in type_names:
            registry.unregister(type_name)
        for name, previous in before.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
        # Let its Step classes die: a stale class would still be found by the "defined but not registered"
        # hint (Step.__subclasses__ holds only weak references).
        module.__dict__.clear()
        gc.collect()
