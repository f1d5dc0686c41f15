"""What a fan-out child's end costs: `child_ended` counts it in three statements (its item and fan-out read and
the fan-out locked in one, the item's status, the counts), once; and starting the next item reads the parent's
owner and metadata, not its input, which holds every item."""
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from engine import clock
from engine.models import FanOut, FanOutItem, NodeGroup, Transaction
from engine.services import fanout

# The children run in a paused node group: they stay queued, and each test ends them itself.
KID = {"name": "kid", "transaction_type": False, "node_group": "kids", "steps": [{"name": "one", "type": "util/echo"}]}


def fan_out(harness, items, **config):
    harness.load(KID, {"name": "fan", "steps": [
        {"name": "each", "type": "util/map", "config": {"items": "/items", "pipeline": "kid", **config}}]})
    NodeGroup.objects.filter(name="kids").update(paused=True)
    tx_id = harness.start("fan", {"items": items})
    harness.step()  # the parent's map step starts the children and sleeps
    assert Transaction.objects.get(pk=tx_id).status == "sleeping"
    return tx_id


def end(child_id, status="success"):
    """End `child_id` with `status` as its checkpoint would, and count it; return the statements counting took."""
    with transaction.atomic():
        child = Transaction.objects.select_for_update().get(pk=child_id)
        child.status = status
        child.save(update_fields=["status"])
        with CaptureQueriesContext(connection) as queries:
            assert fanout.child_ended(child, now=clock.now()) is True
    return [query["sql"] for query in queries.captured_queries]


def test_a_childs_end_is_counted_once_in_three_statements(harness):
    parent_id = fan_out(harness, list(range(4)))
    fan = FanOut.objects.get(tx_id=parent_id)
    first, second = FanOutItem.objects.filter(fan_out=fan).order_by("index").values_list("child_id", flat=True)[:2]
    assert len(end(first)) == 3  # item and fan-out (locked), the item's status, the counts
    assert len(end(first)) == 1  # counted before: read, nothing written
    assert len(end(second, "failed")) == 3
    fan.refresh_from_db()
    assert (fan.succeeded, fan.failed, fan.outcome) == (1, 1, None)


def test_starting_the_next_item_does_not_read_the_parents_input(harness):
    parent_id = fan_out(harness, [{"big": "x" * 1000}] * 3, max_parallel=1)
    fan = FanOut.objects.get(tx_id=parent_id)
    assert fan.started == 1
    first = FanOutItem.objects.get(fan_out=fan, index=0)
    statements = end(first.child_id)
    fan.refresh_from_db()
    assert (fan.succeeded, fan.started) == (1, 2)
    assert FanOutItem.objects.get(fan_out=fan, index=1).child_id is not None
    parent_reads = [sql for sql in statements if sql.startswith("SELECT") and parent_id in sql
                    and 'FROM "engine_transaction"' in sql]
    assert parent_reads and not any('"engine_transaction"."input"' in sql for sql in parent_reads)
    assert sum(sql.startswith("UPDATE \"engine_fanout\"") for sql in statements) == 1  # counts and started at once
