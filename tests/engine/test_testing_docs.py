"""docs/testing.md runs as written: its step module is installed as `shop.steps`, and every test function
of its example blocks (one module, in order) passes; a broken step type makes them fail."""
import re
from pathlib import Path

import pytest

from engine.testing import Harness, TxResult
from tests.doc_examples import compiled as compile_block
from tests.doc_examples import installed_steps

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
TEXT = DOC.read_text()
BLOCKS = dict(re.findall(r"<!-- testing-example:(\w+) -->\n```python\n(.*?)\n```", TEXT, flags=re.S))
TEST_BLOCKS = [name for name in BLOCKS if name != "steps"]
SHOP_TYPES = ("shop/reserve", "shop/await-payment", "shop/send-receipt")


def compiled(name):
    """Compile a block under a name that tracebacks can show the lines of."""
    return compile_block(BLOCKS[name], f"docs/testing.md[testing-example:{name}]")


def doc_module():
    """The test blocks as one module, in the order the page shows them."""
    namespace = {"__name__": "shop.tests.test_order"}
    for name in TEST_BLOCKS:
        exec(compiled(name), namespace)
    return namespace


TEST_NAMES = [name for block in TEST_BLOCKS for name in re.findall(r"^def (test_\w+)\(", BLOCKS[block], flags=re.M)]


@pytest.fixture
def shop_steps():
    """Install the page's step module as `shop.steps`, as an installed app would provide it."""
    with installed_steps("shop.steps", compiled("steps"), type_names=SHOP_TYPES) as module:
        yield module


def test_the_page_has_the_step_module_and_an_example_for_each_part():
    assert set(BLOCKS) == {"steps", "run", "time", "actions", "callbacks", "crash", "fanout", "schedules"}
    assert len(TEST_NAMES) == len(set(TEST_NAMES)) >= 10


@pytest.mark.parametrize("name", TEST_NAMES)
def test_the_documented_example_passes_as_written(db, shop_steps, name):
    doc_module()[name](db)


@pytest.mark.parametrize("name", ["test_a_paid_order_gets_its_receipt",
                                  "test_a_crash_after_sending_sends_the_receipt_again"])
def test_the_examples_would_catch_a_broken_step_type(db, shop_steps, name):
    shop_steps.SendReceipt.invoke = lambda self, ctx: ctx.succeeded("Sent", ctx.input)
    with pytest.raises(AssertionError):
        doc_module()[name](db)


def public(cls):
    return {name for name in vars(cls) if not name.startswith("_")}


def test_every_public_part_of_the_harness_and_its_result_is_documented():
    documented = set(re.findall(r"`(?:h\.)?(\w+)[(`]", TEXT))
    missing = (public(Harness) | public(TxResult) | {"crashes"}) - documented - {"clock"}
    assert missing == set()
