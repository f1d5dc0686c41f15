"""The import graph of engine/ (tests/import_graph.py), imports inside functions included: no cycle, and
every import inside a function says why it is there. The reader is first proven on small packages."""
import textwrap
from pathlib import Path

from tests.import_graph import cycles, graph, imports, modules, unexplained

ENGINE = Path(__file__).resolve().parent.parent / "engine"


def write(root, files):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return modules(root / "pkg")


def edges_of(found):
    return {module: set(targets) for module, targets in graph(found).items() if targets}


def test_imports_resolve_to_modules_whether_absolute_relative_or_from_a_package(tmp_path):
    found = write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/sub/__init__.py": "from .mod import thing\n",
        "pkg/sub/mod.py": "import os\nthing = 1\n",
        "pkg/a.py": "from pkg.sub import mod\nfrom pkg.sub import thing\nimport pkg.b\n",
        "pkg/b.py": "from .sub.mod import thing\nfrom . import c\n",
        "pkg/c.py": "from ..elsewhere import x\nfrom .sub import *\n",
        "pkg/migrations/0001_initial.py": "from pkg import a\n",
    })
    assert "pkg.migrations.0001_initial" not in found
    assert edges_of(found) == {
        "pkg.sub": {"pkg.sub.mod"},
        "pkg.a": {"pkg.sub", "pkg.sub.mod", "pkg.b"},
        "pkg.b": {"pkg.sub.mod", "pkg", "pkg.c"},
        "pkg.c": {"pkg.sub"},
    }
    assert cycles(graph(found)) == []


def test_a_cycle_closed_by_an_import_inside_a_function_is_found(tmp_path):
    found = write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg import b\n",
        "pkg/b.py": "from pkg.c import f\n",
        "pkg/c.py": """\
            class Thing:
                def method(self):
                    from pkg.a import g
            def f():
                async def inner():
                    import pkg.d
            """,
        "pkg/d.py": "from . import e\n",
        "pkg/e.py": "import pkg.d\n",
        "pkg/lone.py": "from pkg import a\n",
    })
    edges = graph(found)
    assert cycles(edges) == [["pkg.a", "pkg.b", "pkg.c"], ["pkg.d", "pkg.e"]]
    assert [(s.line, s.in_function) for s in edges["pkg.c"]["pkg.a"]] == [(3, True)]
    assert [(s.line, s.in_function) for s in edges["pkg.b"]["pkg.c"]] == [(1, False)]
    assert cycles(edges, within=lambda module: module in {"pkg.a", "pkg.b", "pkg.lone"}) == []


def test_an_import_inside_a_function_needs_a_comment_on_its_line_or_alone_just_above(tmp_path):
    found = write(tmp_path, {
        "pkg/__init__.py": "import json\n",
        "pkg/m.py": """\
            def above():
                # Imported here: pkg.n imports this module.
                from pkg import n
                from pkg import o
                import json

            def same_line():
                import json  # only the JSON pages need it

            def bare():
                x = 1
                import json

            def directive_only():
                import json  # noqa: F401

            def comment_after_code_above():
                x = 1  # a number
                import json

            def multi_line():
                from pkg import (
                    n,  # n is heavy to load
                )

            def after_a_blank():
                # Why: slow.

                import json
            """,
    })
    lines = [statement.line for statement in unexplained(imports(found))]
    assert lines == [12, 15, 19, 29]


def test_engine_services_have_no_import_cycle():
    assert cycles(graph(modules(ENGINE)), within=lambda module: module.startswith("engine.services.")) == []


def test_engine_has_no_import_cycle():
    assert cycles(graph(modules(ENGINE))) == []


def test_every_import_inside_a_function_of_engine_says_why():
    assert [f"{s.path.relative_to(ENGINE.parent)}:{s.line}" for s in unexplained(imports(modules(ENGINE)))] == []
