"""Imports follow the layers (docs/decisions.md, "Where notices and the step context live"): step types
import no service, model or runtime module; services reach the runtime only through its dispatch
function (and its named fault points); the API and the console do not import the runtime. Imports inside
functions count too."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name):
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported(source, module, is_package=False):
    """Every module `source` imports, anywhere in it: `from a import b` names `a.b` when that is a module,
    else `a`; `importlib.import_module("a.b")` with a literal name counts as an import of `a.b`."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")
                package = package[: len(package) - node.level + (1 if is_package else 0)]
                base = ".".join(package + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if is_module(full) else base)
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.add(node.args[0].value)
    return found


def imports_under(folder):
    """{module: the modules it imports} for every module under `folder` (a path relative to the root)."""
    return {
        module_name(path): imported(path.read_text(), module_name(path), is_package=path.name == "__init__.py")
        for path in sorted((ROOT / folder).rglob("*.py"))
    }


def within(name, prefix):
    return name == prefix or name.startswith(prefix + ".")


def test_the_import_reader_sees_imports_inside_functions_and_relative_ones():
    source = "def f():\n    from engine.runtime import executor\n\nfrom . import registry\nimport engine.models\n"
    assert imported(source, "engine.steps.base") == {"engine.runtime.executor", "engine.steps.registry",
                                                     "engine.models"}


def test_step_types_import_no_service_model_or_runtime_module():
    forbidden = ("engine.services", "engine.models", "engine.runtime", "django_q")
    offending = {module: sorted(name for name in names if any(within(name, f) for f in forbidden))
                 for module, names in imports_under("engine/steps").items()}
    assert {module: names for module, names in offending.items() if names} == {}


def test_services_reach_the_runtime_only_through_its_dispatch_module():
    # and its named fault points (engine.runtime.faults imports nothing of the engine: no layer is crossed back)
    allowed = ("engine.runtime.dispatch", "engine.runtime.faults")
    offending = {module: sorted(name for name in names
                                if within(name, "engine.runtime") and name not in allowed)
                 for module, names in imports_under("engine/services").items()}
    assert {module: names for module, names in offending.items() if names} == {}


def test_the_api_and_the_console_do_not_import_the_runtime():
    offending = {module: sorted(name for name in names if within(name, "engine.runtime") or within(name, "django_q"))
                 for folder in ("engine/api", "monitoring") for module, names in imports_under(folder).items()}
    assert {module: names for module, names in offending.items() if names} == {}
