"""The README's "Writing a step type" example runs exactly as written, so the README cannot drift."""
import linecache
import re
import sys
import types
from pathlib import Path

import pytest

from engine.steps import registry

README = Path(__file__).resolve().parents[1] / "README.md"


def example(marker):
    """Return the code of the fenced block right after `<!-- readme-example:{marker} -->`."""
    text = README.read_text()
    found = re.findall(rf"<!-- readme-example:{marker} -->\n```python\n(.*?)\n```", text, flags=re.S)
    assert len(found) == 1, f"README.md needs exactly one python block marked readme-example:{marker}"
    return found[0]


def compiled(marker):
    """Compile a README block under a name that tracebacks can show the lines of."""
    code, filename = example(marker), f"README.md[readme-example:{marker}]"
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    return compile(code, filename, "exec")


TEST_CODE = example("test")
TEST_NAMES = re.findall(r"^def (test_\w+)\(", TEST_CODE, flags=re.M)


@pytest.fixture
def acme_steps():
    """Install the README's step module as `acme.steps`, as an installed app would provide it."""
    package, module = types.ModuleType("acme"), types.ModuleType("acme.steps")
    package.__path__ = []
    package.steps = module
    sys.modules.update({"acme": package, "acme.steps": module})
    try:
        exec(compiled("step"), module.__dict__)
        yield module
    finally:
        registry.unregister("acme/charge-card")
        sys.modules.pop("acme.steps", None)
        sys.modules.pop("acme", None)


def test_the_readme_shows_a_step_type_and_at_least_two_tests():
    assert "acme/charge-card" in example("step")
    assert len(TEST_NAMES) >= 2


def test_the_readme_step_type_is_registered_with_its_schema(acme_steps):
    step_type = registry.get("acme/charge-card")
    assert step_type is acme_steps.ChargeCard
    assert step_type.config_schema["properties"]["currency"] == {"type": "string"}


@pytest.mark.parametrize("name", TEST_NAMES)
def test_the_readme_test_passes_as_written(db, acme_steps, name):
    namespace = {"__name__": "acme.tests.test_steps"}
    exec(compiled("test"), namespace)
    namespace[name](db)


def test_the_readme_test_would_catch_a_broken_step_type(db, acme_steps):
    acme_steps.ChargeCard.invoke = lambda self, ctx: ctx.succeeded("Charged", ctx.input)
    namespace = {"__name__": "acme.tests.test_steps"}
    exec(compiled("test"), namespace)
    with pytest.raises(AssertionError):
        namespace[TEST_NAMES[0]](db)
