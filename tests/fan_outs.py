"""A fan-out held open for the API, console and client tests: a util/map of five items, two at a time, whose
children each wait for their switch `go` (so the test decides when each ends)."""
from engine.models import Transaction

GATED_ITEM = {"name": "gated-item", "transaction_type": False, "steps": [
    {"name": "gate", "type": "util/wait-switch", "config": {"switch": "go"}},
    {"name": "done", "type": "util/echo"},
]}
FAN = {"name": "fan", "steps": [
    {"name": "each", "type": "util/map",
     "config": {"items": "/items", "pipeline": "gated-item", "max_parallel": 2, "tolerated_failures": "50%"}},
    {"name": "report", "type": "util/echo"},
]}
# Two fan-outs of one parent: three children that end at once, then the gated ones.
TWO_FANS = {"name": "two-fans", "steps": [
    {"name": "quick", "type": "util/map", "config": {"items": "/quick", "pipeline": "helper"}},
    {"name": "gated", "type": "util/map", "config": {"items": "/items", "pipeline": "gated-item"}},
]}


def start_fan(harness, items=5, transaction_type="fan", **data):
    """Load the pipelines, start a parent and run it until it waits for its children; return its id."""
    harness.load(GATED_ITEM, FAN, TWO_FANS, {"name": "helper", "transaction_type": False,
                                             "steps": [{"name": "echo", "type": "util/echo"}]})
    tx_id = harness.start(transaction_type, {"items": list(range(items)), **data})
    harness.settle()
    return tx_id


def children_of(tx_id, **filters):
    """The ids of the children of `tx_id`, in item order."""
    return list(Transaction.objects.filter(parent_id=tx_id, **filters).order_by("fan_out_item__fan_out_id",
                                                                                  "fan_out_item__index")
                .values_list("pk", flat=True))


def release(harness, *child_ids):
    """Let children succeed, and run what follows."""
    for child_id in child_ids:
        harness.set_switch(child_id, "go", True)
    harness.settle()


def fail(harness, *child_ids):
    """End children unsuccessfully (cancelled: a fan-out counts every end but success as failed)."""
    for child_id in child_ids:
        harness.cancel(child_id)
    harness.settle()
