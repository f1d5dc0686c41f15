"""Cancel, wake now and retry (spec/concepts.md): which statuses allow them, what they do, and that
each records its actor and reason."""
import pytest

from engine.errors import NotRetryable, NotSleeping, TransactionFinished
from engine.models import Callback, JournalEntry, Transaction
from engine.services import transactions
from engine.steps import Step, register

SEEN = {}
BROKEN = set()


@register
class Nap(Step):
    type_name = "test/control-nap"

    def invoke(self, ctx):
        if ctx.config.get("callback"):
            ctx.create_callback(ctx.config["callback"])
        if ctx.retry_count == 0:
            return ctx.retry_later(seconds=3600)
        return ctx.succeeded(output={**ctx.input, "retry_count": ctx.retry_count})


@register
class CancelledWhileRunning(Step):
    """Have an operator cancel the transaction while this step runs, and note what the step sees."""

    type_name = "test/control-cancel-midway"

    def invoke(self, ctx):
        before = ctx.cancel_requested
        transactions.transaction_cancel(tx_id=ctx.tx_id, actor="user:ops", reason="wrong order")
        status = Transaction.objects.get(pk=ctx.tx_id).status
        SEEN[ctx.tx_id] = (before, ctx.cancel_requested, status)
        return getattr(ctx, ctx.config.get("kind", "succeeded"))("done")


@register
class Flaky(Step):
    """End with config `kind` (or raise) while the transaction is in BROKEN; succeed otherwise."""

    type_name = "test/control-flaky"

    def invoke(self, ctx):
        SEEN.setdefault(ctx.tx_id, []).append((ctx.input, ctx.retry_count))
        if ctx.tx_id in BROKEN:
            kind = ctx.config["kind"]
            if kind == "raise":
                raise ValueError("broken")
            return getattr(ctx, kind)("broken")
        return ctx.succeeded(output={"fixed": True})


@register
class Parent(Step):
    type_name = "test/control-parent"

    def invoke(self, ctx):
        child = ctx.start_child("ctl-child", {})
        return ctx.wait(child=child)


def napping(harness, callback=None):
    config = {"callback": callback} if callback else {}
    harness.load({"name": "ctl-nap", "steps": [{"name": "nap", "type": "test/control-nap", "config": config}]})
    return harness.start("ctl-nap", {"a": 1})


def last_move(result):
    return [e for e in result.journal if "to" in e.data][-1]


def test_cancelling_a_queued_transaction_ends_it_at_once(harness):
    tx_id = napping(harness)
    harness.cancel(tx_id, reason="duplicate")
    result = harness.result(tx_id)
    assert result.status == "cancelled"
    assert result.note == "Cancelled: duplicate"
    entry = last_move(result)
    assert (entry.data["from"], entry.actor, entry.data["reason"]) == ("queued", "app:test", "duplicate")
    harness.settle()
    assert harness.result(tx_id).step_runs == []


def test_cancelling_a_sleeping_transaction_ends_it_at_once(harness):
    tx_id = napping(harness)
    harness.settle()
    transactions.transaction_cancel(tx_id=tx_id, actor="user:alice", reason="customer left")
    result = harness.result(tx_id)
    assert result.status == "cancelled"
    assert result.sleeper is None
    entry = last_move(result)
    assert (entry.data["from"], entry.actor, entry.data["reason"]) == ("sleeping", "user:alice", "customer left")
    assert harness.run(tx_id).steps == [("nap", "sleeping")]


@pytest.mark.parametrize("kind", ["succeeded", "failed"])
def test_cancelling_a_running_transaction_ends_it_when_its_step_returns(harness, kind):
    harness.load({"name": "ctl-running", "steps": [
        {"name": "long", "type": "test/control-cancel-midway", "config": {"kind": kind},
         "on": {"failed": "next", "cancelled": "next"}},
        {"name": "next", "type": "util/echo"},
    ]})
    tx_id = harness.start("ctl-running", {})
    result = harness.run(tx_id)
    assert SEEN[tx_id] == (False, True, "running")
    assert result.status == "cancelled"
    assert [step for step, _ in result.steps] == ["long"]
    kinds = [(e.kind, e.actor) for e in result.journal]
    assert ("cancel_requested", "user:ops") in kinds
    requested = next(e for e in result.journal if e.kind == "cancel_requested")
    assert requested.data["reason"] == "wrong order"
    assert last_move(result).data["to"] == "cancelled"


def test_cancelling_gives_open_callbacks_cancel(harness):
    tx_id = napping(harness, callback="cb")
    harness.settle()
    assert Callback.objects.get(tx_id=tx_id).status == "created"
    harness.cancel(tx_id)
    assert Callback.objects.get(tx_id=tx_id).status == "cancel"


def test_cancelling_a_parent_cancels_its_unfinished_children(harness):
    harness.load({"name": "ctl-child", "transaction_type": False, "steps": [{"type": "test/control-nap"}]},
                 {"name": "ctl-parent", "steps": [{"type": "test/control-parent"}]})
    parent = harness.start("ctl-parent", {})
    harness.settle()
    [child] = Transaction.objects.filter(parent_id=parent)
    assert child.status == "sleeping"
    harness.cancel(parent)
    assert harness.result(child.pk).status == "cancelled"
    assert harness.result(parent).status == "cancelled"


@pytest.mark.parametrize("outcome", ["success", "failed"])
def test_a_finished_transaction_cannot_be_cancelled(harness, outcome):
    step = {"type": "util/echo"} if outcome == "success" else {"type": "util/fail"}
    harness.load({"name": "ctl-done", "steps": [step]})
    tx_id = harness.start("ctl-done", {})
    assert harness.run(tx_id).status == outcome
    entries = JournalEntry.objects.filter(tx_id=tx_id).count()
    with pytest.raises(TransactionFinished) as raised:
        harness.cancel(tx_id)
    assert raised.value.code == "transaction_finished" and raised.value.http_status == 409
    assert harness.result(tx_id).status == outcome
    assert JournalEntry.objects.filter(tx_id=tx_id).count() == entries


def test_wake_now_queues_a_sleeping_transaction_before_its_timer(harness):
    tx_id = napping(harness)
    harness.settle()
    started = harness.now()
    harness.wake(tx_id, reason="operator impatient")
    result = harness.result(tx_id)
    assert result.status == "queued"
    assert result.sleeper is None
    entry = last_move(result)
    assert (entry.kind, entry.actor) == ("woken", "app:test")
    assert "operator impatient" in entry.data["why"]
    result = harness.run(tx_id)
    assert result.status == "success" and result.data == {"a": 1, "retry_count": 1}
    assert harness.now() == started


def test_wake_now_refuses_a_transaction_that_is_not_sleeping(harness):
    tx_id = napping(harness)
    with pytest.raises(NotSleeping) as raised:
        harness.wake(tx_id)
    assert raised.value.code == "not_sleeping"
    assert harness.result(tx_id).status == "queued"
    harness.settle()
    harness.wake(tx_id)
    assert harness.run(tx_id).status == "success"
    with pytest.raises(NotSleeping):
        harness.wake(tx_id)


@pytest.mark.parametrize(("kind", "status"), [
    ("failed", "failed"), ("aborted", "aborted"), ("raise", "internal_error"),
])
def test_retry_runs_again_from_the_step_that_ended_it(harness, kind, status):
    harness.load({"name": "ctl-retry", "steps": [
        {"name": "prepare", "type": "util/set", "config": {"values": {"prepared": True}}},
        {"name": "flaky", "type": "test/control-flaky", "config": {"kind": kind}},
    ]})
    tx_id = harness.start("ctl-retry", {})
    BROKEN.add(tx_id)
    assert harness.run(tx_id).status == status
    BROKEN.discard(tx_id)
    transactions.transaction_retry(tx_id=tx_id, actor="user:ops", reason="fixed the bug")
    result = harness.result(tx_id)
    assert result.status == "queued" and result.note is None and result.data is None
    entry = last_move(result)
    assert (entry.kind, entry.actor, entry.data["reason"], entry.data["from"]) == (
        "retry", "user:ops", "fixed the bug", status)
    result = harness.run(tx_id)
    assert result.status == "success" and result.data == {"fixed": True}
    assert result.steps == [("prepare", "success"), ("flaky", status), ("flaky", "success")]
    assert result.step_runs[2].pk != result.step_runs[1].pk
    assert SEEN[tx_id] == [({"prepared": True}, 0), ({"prepared": True}, 0)]


@pytest.mark.parametrize("state", ["queued", "sleeping", "success", "cancelled"])
def test_retry_refuses_every_other_status(harness, state):
    tx_id = napping(harness)
    if state != "queued":
        harness.settle()
    if state == "success":
        harness.run(tx_id)
    if state == "cancelled":
        harness.cancel(tx_id)
    assert harness.result(tx_id).status == state
    with pytest.raises(NotRetryable) as raised:
        harness.retry(tx_id)
    assert raised.value.code == "not_retryable" and raised.value.http_status == 409
    assert harness.result(tx_id).status == state
    assert not JournalEntry.objects.filter(tx_id=tx_id, kind="retry").exists()
