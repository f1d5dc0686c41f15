"""Retention (spec/concepts.md "Retention", spec/operations.md): `datp_prune --older-than` deletes
finished transactions and everything that hangs off them, in batches, and keeps everything else."""
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engine.errors import DuplicateExternalId, InvalidRequest
from engine.models import (
    Callback, CallbackUpdate, JournalEntry, NodeGroup, Sleeper, StepRun, Switch, Transaction, WebhookDelivery,
)
from engine.services.prune import transactions_prune
from engine.services.transactions import transaction_start
from engine.steps import Step, register

PRUNED_FROM_INSIDE = {}


@register
class PruneInside(Step):
    """Sleep 100 days, then prune while this transaction is running."""

    type_name = "test/prune-inside"

    def invoke(self, ctx):
        if ctx.retry_count == 0:
            return ctx.retry_later(seconds=100 * 86400)
        PRUNED_FROM_INSIDE[ctx.tx_id] = transactions_prune(older_than="P90D")
        return ctx.succeeded()


LEAF = {"name": "prune-leaf", "transaction_type": False, "steps": [{"name": "echo", "type": "util/echo"}]}
WAITER = {"name": "prune-waiter", "transaction_type": False,
          "steps": [{"name": "wait", "type": "util/wait-switch", "config": {"switch": "go"}}]}
# A parent with a callback, a background child reporting to it, a foreground child, and an await.
TREE = {"name": "prune-tree", "steps": [
    {"name": "callback", "type": "util/callback", "config": {"name": "bg"}},
    {"name": "background", "type": "util/call",
     "config": {"transaction_type": "prune-leaf", "background": True, "callback": "bg"}},
    {"name": "foreground", "type": "util/child-pipeline", "config": {"pipeline": "prune-leaf"}},
    {"name": "await", "type": "util/await", "config": {"callback": "bg"}},
]}
QUICK = {"name": "prune-quick", "steps": [{"name": "echo", "type": "util/echo"}]}
PAUSED = {"name": "prune-paused", "node_group": "prune-paused",
          "steps": [{"name": "echo", "type": "util/echo"}]}
INSIDE = {"name": "prune-inside", "steps": [{"name": "inside", "type": "test/prune-inside"}]}
WAIT_GO = {"name": "prune-wait", "steps": [{"name": "wait", "type": "util/wait-switch", "config": {"switch": "go"}}]}
# Finishes at once, leaving a background child that waits on its switch `go`.
LEAVES_CHILD = {"name": "prune-leaves-child", "steps": [
    {"name": "spawn", "type": "util/call", "config": {"transaction_type": "prune-waiter", "background": True}},
]}
# Its foreground child finishes at once too, leaving a background grandchild that waits on `go`.
MIDDLE = {"name": "prune-middle", "transaction_type": False, "steps": [
    {"name": "spawn", "type": "util/call", "config": {"transaction_type": "prune-waiter", "background": True}},
]}
LEAVES_GRANDCHILD = {"name": "prune-leaves-grandchild", "steps": [
    {"name": "middle", "type": "util/child-pipeline", "config": {"pipeline": "prune-middle"}},
]}


@pytest.fixture
def h(harness):
    harness.load(LEAF, WAITER, TREE, QUICK, INSIDE, PAUSED, WAIT_GO, LEAVES_CHILD, MIDDLE, LEAVES_GRANDCHILD)
    return harness


def prune(older_than="P90D", batch=None):
    out = StringIO()
    args = [f"--older-than={older_than}"] + ([] if batch is None else [f"--batch={batch}"])
    call_command("datp_prune", *args, stdout=out)
    return out.getvalue()


def finished(h, pipeline="prune-quick", **kwargs):
    tx_id = h.start(pipeline, {"n": 1}, **kwargs)
    assert h.run(tx_id).status == "success"
    return tx_id


def start(h, **kwargs):
    return transaction_start(owner=h.owner, transaction_type="prune-quick", actor=h.actor, **kwargs)


def family(tx_id):
    """The ids of `tx_id` and all its descendants."""
    ids, level = {tx_id}, {tx_id}
    while level:
        level = set(Transaction.objects.filter(parent_id__in=level).values_list("pk", flat=True))
        ids |= level
    return ids


def rows_of(ids):
    return {
        "transactions": Transaction.objects.filter(pk__in=ids).count(),
        "step_runs": StepRun.objects.filter(tx_id__in=ids).count(),
        "journal": JournalEntry.objects.filter(tx_id__in=ids).count(),
        "switches": Switch.objects.filter(tx_id__in=ids).count(),
        "callbacks": Callback.objects.filter(tx_id__in=ids).count(),
        "callback_updates": CallbackUpdate.objects.filter(callback__tx_id__in=ids).count(),
        "sleepers": Sleeper.objects.filter(tx_id__in=ids).count(),
        "webhooks": WebhookDelivery.objects.filter(tx_id__in=ids).count(),
    }


def test_an_old_finished_transaction_goes_with_its_children_and_everything_that_hangs_off_them(h):
    tx_id = h.start("prune-tree", {"n": 1}, webhook="https://example.com/hook")
    h.set_switch(tx_id, "flag", True)
    assert h.run(tx_id).status == "success"
    ids = family(tx_id)
    assert len(ids) == 3
    before = rows_of(ids)
    assert all(before[kind] for kind in ("transactions", "step_runs", "journal", "switches", "callbacks",
                                         "callback_updates", "webhooks"))
    h.advance("P91D")
    assert prune() == "deleted 1 transactions\n"
    assert rows_of(ids) == dict.fromkeys(before, 0)


def test_unfinished_transactions_are_kept_however_old_with_their_sleepers(h):
    sleeping = h.start("prune-wait", {})
    h.settle()
    old = finished(h)
    NodeGroup.objects.filter(pk="prune-paused").update(paused=True)
    queued = h.start("prune-paused", {})
    running = h.start("prune-inside", {})
    h.advance("P200D")  # `prune-inside` prunes in its second run, 100 days on, while it is running
    assert PRUNED_FROM_INSIDE[running] == 1
    assert not Transaction.objects.filter(pk=old).exists()
    assert Transaction.objects.filter(pk__in=[sleeping, queued, running]).count() == 3
    assert h.result(sleeping).status == "sleeping" and h.result(sleeping).sleeper is not None
    assert JournalEntry.objects.filter(tx_id=sleeping).exists()
    assert h.result(queued).status == "queued"
    assert h.result(running).status == "success"


def test_transactions_finished_within_the_retention_are_kept(h):
    old = finished(h)
    h.advance("P60D")
    recent = finished(h)
    h.advance("P31D")
    prune("P90D")
    assert not Transaction.objects.filter(pk=old).exists()
    assert Transaction.objects.filter(pk=recent).exists()
    assert StepRun.objects.filter(tx_id=recent).exists() and JournalEntry.objects.filter(tx_id=recent).exists()
    h.advance("P60D")
    prune("P90D")
    assert not Transaction.objects.filter(pk=recent).exists()


def test_a_finished_parent_is_kept_while_its_background_child_still_runs(h):
    parent = h.start("prune-leaves-child", {})
    assert h.run(parent).status == "success"
    [child] = Transaction.objects.filter(parent_id=parent)
    assert child.status == "sleeping"
    h.advance("P100D")
    assert prune() == "deleted 0 transactions\n"
    assert Transaction.objects.filter(pk__in=[parent, child.pk]).count() == 2
    assert h.result(child.pk).sleeper is not None
    h.set_switch(child.pk, "go", True)
    assert h.run(child.pk).status == "success"
    h.advance("P91D")
    assert prune() == "deleted 1 transactions\n"
    assert not Transaction.objects.filter(pk__in=[parent, child.pk]).exists()


def test_a_finished_parent_is_kept_while_a_background_grandchild_still_runs(h):
    parent = h.start("prune-leaves-grandchild", {})
    assert h.run(parent).status == "success"
    ids = family(parent)
    assert len(ids) == 3
    [grandchild] = Transaction.objects.filter(pk__in=ids, parent__parent_id=parent)
    assert grandchild.status == "sleeping"
    h.advance("P100D")
    prune()
    assert Transaction.objects.filter(pk__in=ids).count() == 3
    assert h.result(grandchild.pk).status == "sleeping"
    h.set_switch(grandchild.pk, "go", True)
    assert h.run(grandchild.pk).status == "success"
    h.advance("P91D")
    prune()
    assert not Transaction.objects.filter(pk__in=ids).exists()


def test_pruning_works_in_batches_until_every_old_transaction_is_gone(h):
    ids = [finished(h) for _ in range(5)]
    h.advance("P91D")
    with CaptureQueriesContext(connection) as queries:
        out = prune(batch=2)
    assert out == "deleted 5 transactions\n"
    assert not Transaction.objects.filter(pk__in=ids).exists()
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('DELETE FROM "engine_transaction"')]
    assert len(deletes) == 3


def test_one_batch_is_enough_when_the_batch_is_large(h):
    ids = [finished(h) for _ in range(5)]
    h.advance("P91D")
    with CaptureQueriesContext(connection) as queries:
        assert transactions_prune(older_than="P90D", batch=500) == 5
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('DELETE FROM "engine_transaction"')]
    assert len(deletes) == 1
    assert not Transaction.objects.filter(pk__in=ids).exists()


@pytest.mark.parametrize("duration", ["ninety days", "90", "-P90D", "P", ""])
def test_a_bad_duration_is_refused_and_nothing_is_deleted(h, duration):
    tx_id = finished(h)
    h.advance("P91D")
    with pytest.raises(InvalidRequest) as raised:
        transactions_prune(older_than=duration)
    assert raised.value.code == "invalid_request"
    assert "older_than" in raised.value.extra["fields"]
    with pytest.raises(CommandError, match="invalid_request: older_than"):
        prune(duration)
    assert Transaction.objects.filter(pk=tx_id).exists()


@pytest.mark.parametrize("batch", [0, -1])
def test_a_batch_below_one_is_refused_and_nothing_is_deleted(h, batch):
    tx_id = finished(h)
    h.advance("P91D")
    with pytest.raises(CommandError, match="invalid_request: batch"):
        prune(batch=batch)
    assert Transaction.objects.filter(pk=tx_id).exists()


def test_an_external_id_can_be_used_again_once_its_transaction_is_pruned(h):
    first = finished(h, external_id="order-42")
    h.advance("P91D")
    with pytest.raises(DuplicateExternalId) as raised:
        start(h, external_id="order-42", data={"n": 2})
    assert raised.value.extra["tx_id"] == first
    prune()
    second, created = start(h, external_id="order-42", data={"n": 2})
    assert created is True and second.pk != first
    assert second.external_id == "order-42" and second.input == {"n": 2}
