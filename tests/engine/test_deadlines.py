"""Deadlines (spec/concepts.md): how a deadline is given, how each status meets it, that `on` routes never
catch it, absolute wait timeouts, moving a deadline, retrying past one, and a parent's children."""
from datetime import UTC, datetime, timedelta

import pytest

from engine import clock
from engine.errors import InvalidRequest, NotRetryable, TransactionFinished
from engine.models import JournalEntry, NodeGroup, Transaction
from engine.steps import Step, register


@register
class Nap(Step):
    """Sleep `seconds` on the first run, then succeed."""

    type_name = "test/deadlines-nap"

    def invoke(self, ctx):
        if ctx.retry_count == 0:
            return ctx.retry_later(seconds=ctx.config.get("seconds", 86400))
        return ctx.succeeded()


@register
class Busy(Step):
    """Work (in virtual time) for `seconds`, then end with config `kind` (default succeeded)."""

    type_name = "test/deadlines-busy"

    def invoke(self, ctx):
        clock.sleep(ctx.config["seconds"])
        return getattr(ctx, ctx.config.get("kind", "succeeded"))("done")


@register
class WaitWithTimeout(Step):
    type_name = "test/deadlines-wait"

    def invoke(self, ctx):
        if ctx.get_switch("go"):
            return ctx.succeeded()
        if ctx.timeout_passed(ctx.config["timeout"]):
            return ctx.timeout("no go")
        return ctx.wait(switch="go", timeout=ctx.config["timeout"])


@register
class Parent(Step):
    type_name = "test/deadlines-parent"

    def invoke(self, ctx):
        child = ctx.start_child("dl-child", {})
        if ctx.get_child(child)["status"] in ("queued", "running", "sleeping"):
            return ctx.wait(child=child)
        return ctx.succeeded()


def pipeline(harness, name, steps, **extra):
    harness.load({"name": name, "steps": steps, **extra})


def napping(harness, name="dl-nap", seconds=86400, **start):
    pipeline(harness, name, [{"name": "nap", "type": "test/deadlines-nap", "config": {"seconds": seconds},
                              "on": {"timeout": "after", "cancelled": "after", "failed": "after"}},
                             {"name": "after", "type": "util/echo"}])
    return harness.start(name, {"x": 1}, **start)


def test_a_deadline_may_be_a_duration_or_a_timestamp(harness):
    now = harness.now()
    assert harness.result(napping(harness, deadline="PT90M")).tx.deadline_at == now + timedelta(minutes=90)
    moment = datetime(2099, 5, 1, 12, tzinfo=UTC)
    assert harness.result(harness.start("dl-nap", {}, deadline="2099-05-01T12:00:00Z")).tx.deadline_at == moment


def test_the_transaction_type_gives_a_default_deadline_that_the_start_may_override(harness):
    pipeline(harness, "dl-typed", [{"type": "util/echo"}], deadline="P7D")
    now = harness.now()
    assert harness.result(harness.start("dl-typed", {})).tx.deadline_at == now + timedelta(days=7)
    assert harness.result(harness.start("dl-typed", {}, deadline="PT1M")).tx.deadline_at == now + timedelta(minutes=1)


@pytest.mark.parametrize("bad", ["soon", "2030-01-01T00:00:00", 42])
def test_a_bad_deadline_is_an_invalid_request(harness, bad):
    pipeline(harness, "dl-echo", [{"type": "util/echo"}])
    with pytest.raises(InvalidRequest) as raised:
        harness.start("dl-echo", {}, deadline=bad)
    assert raised.value.code == "invalid_request"
    assert not Transaction.objects.exists()


def test_a_queued_transaction_times_out_when_its_deadline_passes(harness):
    NodeGroup.objects.create(name="held", paused=True, created_at=harness.now())
    pipeline(harness, "dl-held", [{"type": "util/echo"}], node_group="held")
    tx_id = harness.start("dl-held", {"a": 1}, deadline="PT10M")
    harness.advance("PT9M")
    assert harness.result(tx_id).status == "queued"
    result = harness.run(tx_id)
    assert result.status == "timeout"
    assert result.tx.completed_at == result.tx.deadline_at
    assert result.note == "Deadline passed"
    assert result.step_runs == []


def test_a_sleeping_transaction_times_out_at_its_deadline_and_routes_do_not_catch_it(harness):
    tx_id = napping(harness, deadline="PT1H")
    result = harness.run(tx_id)
    assert result.status == "timeout"
    assert result.tx.completed_at == result.tx.deadline_at
    assert result.steps == [("nap", "sleeping")]
    assert result.sleeper is None
    assert result.journal[-1].data["to"] == "timeout" and result.journal[-1].actor == "system"


@pytest.mark.parametrize("kind", ["succeeded", "failed", "timeout"])
def test_a_running_transaction_times_out_at_its_checkpoint_whatever_the_outcome(harness, kind):
    pipeline(harness, "dl-busy", [
        {"name": "work", "type": "test/deadlines-busy", "config": {"seconds": 7200, "kind": kind},
         "on": {"failed": "next", "timeout": "next"}},
        {"name": "next", "type": "util/echo"},
    ])
    tx_id = harness.start("dl-busy", {}, deadline="PT1H")
    result = harness.run(tx_id)
    assert result.status == "timeout"
    assert [step for step, _ in result.steps] == ["work"]
    assert result.note == "Deadline passed"


def test_a_deadline_before_the_wake_up_ends_the_sleep_at_the_deadline(harness):
    tx_id = napping(harness, seconds=3, deadline="PT2S")
    harness.settle()
    assert harness.result(tx_id).status == "sleeping"
    result = harness.run(tx_id)
    assert result.status == "timeout"
    assert result.steps == [("nap", "sleeping")]


def test_a_wait_timeout_is_absolute_and_wake_ups_do_not_push_it_back(harness):
    pipeline(harness, "dl-wait", [{"name": "w", "type": "test/deadlines-wait", "config": {"timeout": "PT1H"}}])
    tx_id = harness.start("dl-wait", {})
    started = harness.now()
    harness.settle()
    assert harness.result(tx_id).sleeper.timeout_at == started + timedelta(hours=1)
    harness.advance("PT20M")
    harness.set_switch(tx_id, "go", False)
    harness.settle()
    assert harness.result(tx_id).sleeper.timeout_at == started + timedelta(hours=1)
    harness.advance("PT20M")
    harness.wake(tx_id)
    harness.settle()
    assert harness.result(tx_id).sleeper.timeout_at == started + timedelta(hours=1)
    result = harness.run(tx_id)
    assert result.status == "timeout"
    assert result.tx.completed_at == started + timedelta(hours=1)
    assert [run.retry_count for run in result.step_runs] == [0, 1, 2, 3]


def test_moving_the_deadline_is_journaled_and_takes_effect(harness):
    tx_id = napping(harness, deadline="PT1H")
    harness.settle()
    first = harness.result(tx_id).tx.deadline_at
    harness.set_deadline(tx_id, "PT2H", reason="customer asked")
    [entry] = JournalEntry.objects.filter(tx_id=tx_id, kind="deadline")
    assert entry.actor == "app:test" and entry.data["reason"] == "customer asked"
    assert entry.data["previous"] == first.isoformat()
    assert entry.data["deadline_at"] == (harness.now() + timedelta(hours=2)).isoformat()
    harness.advance("PT1H30M")
    assert harness.result(tx_id).status == "sleeping"
    harness.advance("PT30M")
    assert harness.result(tx_id).status == "timeout"


def test_clearing_the_deadline_lets_the_transaction_finish(harness):
    tx_id = napping(harness, deadline="PT1H")
    harness.settle()
    harness.set_deadline(tx_id, None)
    assert harness.run(tx_id).status == "success"


def test_the_deadline_of_a_finished_transaction_cannot_move(harness):
    tx_id = napping(harness, seconds=1)
    assert harness.run(tx_id).status == "success"
    with pytest.raises(TransactionFinished) as raised:
        harness.set_deadline(tx_id, "PT1H")
    assert raised.value.code == "transaction_finished"
    assert harness.result(tx_id).tx.deadline_at is None
    assert not JournalEntry.objects.filter(tx_id=tx_id, kind="deadline").exists()


def test_retrying_past_the_deadline_needs_a_new_deadline(harness):
    tx_id = napping(harness, deadline="PT1H")
    assert harness.run(tx_id).status == "timeout"
    with pytest.raises(NotRetryable) as raised:
        harness.retry(tx_id)
    assert raised.value.code == "not_retryable"
    assert harness.result(tx_id).status == "timeout"
    harness.retry(tx_id, deadline="P2D")
    result = harness.result(tx_id)
    assert result.status == "queued"
    assert result.tx.deadline_at == harness.now() + timedelta(days=2)
    result = harness.run(tx_id)
    assert result.status == "success"
    assert result.steps == [("nap", "sleeping"), ("nap", "sleeping"), ("nap", "success"), ("after", "success")]


def test_a_parent_that_times_out_cancels_its_unfinished_children(harness):
    pipeline(harness, "dl-child", [{"name": "nap", "type": "test/deadlines-nap"}], transaction_type=False)
    pipeline(harness, "dl-parent", [{"name": "p", "type": "test/deadlines-parent"}])
    parent = harness.start("dl-parent", {}, deadline="PT1H")
    harness.settle()
    [child] = Transaction.objects.filter(parent_id=parent)
    assert child.status == "sleeping"
    assert harness.run(parent).status == "timeout"
    child = harness.result(child.pk)
    assert child.status == "cancelled"
    assert child.journal[-1].actor == f"parent:{parent}"
