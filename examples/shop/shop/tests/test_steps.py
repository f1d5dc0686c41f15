"""The shop's own tests of its step type and pipeline, with DATP's pytest plugin: the `harness` fixture brings
the test database (no `db` fixture), and loads the pipeline from the app's own JSON file."""
from pathlib import Path

PIPELINE = Path(__file__).resolve().parent.parent / "pipelines" / "shop-order.json"


def test_an_order_in_stock_is_reserved_and_ready_to_ship(harness):
    harness.load(PIPELINE)
    result = harness.run(harness.start("shop-order", {"sku": "A1", "quantity": 2}))
    assert result.status == "success"
    assert result.data == {"sku": "A1", "quantity": 2, "ready_to_ship": True,
                           "reserved": {"warehouse": "east", "quantity": 2}}


def test_an_order_out_of_stock_fails_naming_the_sku(harness):
    harness.load(PIPELINE)
    result = harness.run(harness.start("shop-order", {"sku": "B2"}))
    assert (result.status, result.note) == ("failed", "Only 0 of B2 in stock")
