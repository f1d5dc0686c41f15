"""Delivery guarantees and recovery (spec/concepts.md): lost workers, lease fencing, claims, retry
policies, paused node groups and max_concurrency."""
from datetime import timedelta

import pytest

from engine.errors import LeaseLost
from engine.models import NodeGroup, Transaction
from engine.runtime import faults
from engine.services import execution, waker
from engine.services.state import claim
from engine.services.execution import step_complete, tx_claim
from engine.steps import Step, register
from engine.steps.outcomes import Outcome

CALLS = {}


def calls(key):
    return CALLS.setdefault(key, [])


@register
class Attempts(Step):
    """Record ctx.attempt and the time; succeed with the attempt."""

    type_name = "test/recovery-attempts"

    def invoke(self, ctx):
        calls(ctx.tx_id).append((ctx.attempt, ctx.now()))
        return ctx.succeeded(output={"attempt": ctx.attempt})


@register
class Raises(Step):
    """Raise until it has run config `succeed_on` times (never, without it)."""

    type_name = "test/recovery-raises"

    def invoke(self, ctx):
        calls(ctx.tx_id).append((ctx.retry_count, ctx.now()))
        if len(calls(ctx.tx_id)) != ctx.config.get("succeed_on"):
            raise ConnectionError("backend down")
        return ctx.succeeded(output={"runs": len(calls(ctx.tx_id))})


@register
class Order(Step):
    type_name = "test/recovery-order"

    def invoke(self, ctx):
        calls("order").append(ctx.input["n"])
        return ctx.succeeded()


@register
class PausesItsGroup(Step):
    """Pause this transaction's node group while running, as an operator would."""

    type_name = "test/recovery-pause"

    def invoke(self, ctx):
        NodeGroup.objects.filter(pk="pausable").update(paused=True)
        return ctx.succeeded(output={**ctx.input, "paused": True})


def crash(run):
    raise faults.WorkerCrash()


def attempts_pipeline(harness, name="rec", node_group="master"):
    harness.load({"name": name, "node_group": node_group, "steps": [
        {"name": "work", "type": "test/recovery-attempts"}]})


def crashed(harness, name="rec"):
    """Start a transaction whose worker dies after the step ran, before its checkpoint."""
    attempts_pipeline(harness, name)
    tx_id = harness.start(name, {})
    faults.install(faults.AFTER_STEP_BEFORE_CHECKPOINT, crash)
    with pytest.raises(faults.WorkerCrash):
        harness.settle()
    return tx_id


def test_a_worker_crash_leaves_the_transaction_running_until_its_lease_expires(harness):
    tx_id = crashed(harness)
    faults.clear()
    result = harness.result(tx_id)
    assert result.status == "running"
    assert result.steps == [("work", "running")]
    harness.advance("PT29S")
    assert harness.result(tx_id).status == "running"


def test_recovery_marks_the_step_run_lost_and_runs_the_step_again_with_the_next_attempt(harness):
    tx_id = crashed(harness)
    started = harness.now()
    faults.clear()
    harness.advance("PT31S")
    result = harness.result(tx_id)
    assert result.status == "success"
    assert result.steps == [("work", "lost"), ("work", "success")]
    assert [run.attempt for run in result.step_runs] == [1, 2]
    assert [attempt for attempt, _ in calls(tx_id)] == [1, 2]
    assert result.data == {"attempt": 2}
    assert calls(tx_id)[1][1] - started == timedelta(seconds=30)
    lost = [e for e in result.journal if e.data.get("why") == "worker lost"]
    assert len(lost) == 1 and lost[0].actor == "system" and lost[0].data["attempt"] == 2


def test_a_step_whose_worker_is_lost_max_attempts_times_ends_internal_error(harness):
    tx_id = crashed(harness)
    for _ in range(2):
        with pytest.raises(faults.WorkerCrash):
            harness.advance("PT31S")
    faults.clear()
    harness.advance("PT31S")
    result = harness.result(tx_id)
    assert result.status == "internal_error"
    assert result.steps == [("work", "lost")] * 3
    assert [attempt for attempt, _ in calls(tx_id)] == [1, 2, 3]
    assert "lost 3 times" in result.note


def test_a_stale_workers_late_checkpoint_is_refused_and_the_new_result_stands(harness):
    attempts_pipeline(harness)
    tx_id = harness.start("rec", {})
    stale = []
    faults.install(faults.AFTER_STEP_BEFORE_CHECKPOINT, lambda run: (stale.append(run), crash(run)))
    with pytest.raises(faults.WorkerCrash):
        harness.settle()
    faults.clear()
    harness.clock.move_to(harness.now() + timedelta(seconds=31))
    assert waker.leases_recover() == 1
    fresh = tx_claim(node_group="master")
    assert fresh.tx_id == tx_id and fresh.attempt == 2
    assert not execution.lease_renew(lease=stale[0].lease)
    with pytest.raises(LeaseLost):
        step_complete(run=stale[0], outcome=Outcome("success", output={"by": "stale"}))
    assert step_complete(run=fresh, outcome=Outcome("success", output={"by": "fresh"})) is None
    result = harness.result(tx_id)
    assert result.status == "success" and result.data == {"by": "fresh"}
    assert result.steps == [("work", "lost"), ("work", "success")]
    with pytest.raises(LeaseLost):
        step_complete(run=stale[0], outcome=Outcome("failed", note="late"))
    assert harness.result(tx_id).status == "success"


def test_of_two_claims_of_one_queued_transaction_only_one_wins(harness, monkeypatch):
    attempts_pipeline(harness)
    tx_id = harness.start("rec", {})
    stale_row = Transaction.objects.get(pk=tx_id)  # read while still queued, as a racing claimer would
    first = tx_claim(node_group="master", node="a")
    real = claim._candidates
    stale_reads = iter([[stale_row]])
    monkeypatch.setattr(claim, "_candidates", lambda group: next(stale_reads, None) or real(group))
    assert tx_claim(node_group="master", node="b") is None
    assert first.tx_id == tx_id
    result = harness.result(tx_id)
    assert result.tx.node == "a" and result.tx.lease_token == first.token
    assert len(result.step_runs) == 1
    assert len([e for e in result.journal if e.data.get("to") == "running"]) == 1


def test_a_retry_policy_reruns_a_raising_step_with_exponential_backoff_then_internal_error(harness):
    harness.load({"name": "rec-policy", "steps": [{"name": "flaky", "type": "test/recovery-raises",
                  "retry": {"max_attempts": 4, "backoff": "PT10S", "max_backoff": "PT30S"}}]})
    tx_id = harness.start("rec-policy", {})
    started = harness.now()
    result = harness.run(tx_id)
    assert result.status == "internal_error"
    assert [(count, (at - started).total_seconds()) for count, at in calls(tx_id)] == [
        (0, 0), (1, 10), (2, 30), (3, 60)]
    assert result.steps == [("flaky", "internal_error")] * 4
    assert all("backend down" in run.error for run in result.step_runs)


def test_a_retry_policy_lets_a_step_that_recovers_succeed(harness):
    harness.load({"name": "rec-recovers", "steps": [{"name": "flaky", "type": "test/recovery-raises",
                  "config": {"succeed_on": 2}, "retry": {"max_attempts": 3, "backoff": "PT5S"}}]})
    tx_id = harness.start("rec-recovers", {})
    result = harness.run(tx_id)
    assert result.status == "success" and result.data == {"runs": 2}
    assert result.steps == [("flaky", "internal_error"), ("flaky", "success")]


def test_without_a_retry_policy_a_raising_step_runs_once(harness):
    harness.load({"name": "rec-once", "steps": [{"name": "flaky", "type": "test/recovery-raises"}]})
    tx_id = harness.start("rec-once", {})
    assert harness.run(tx_id).status == "internal_error"
    assert len(calls(tx_id)) == 1


def test_a_paused_node_group_starts_nothing_and_resumes_in_order(harness):
    NodeGroup.objects.create(name="slow", paused=True, created_at=harness.now())
    harness.load({"name": "rec-order", "node_group": "slow", "steps": [{"type": "test/recovery-order"}]})
    started = []
    for n in range(4):
        started.append(harness.start("rec-order", {"n": n}))
        harness.clock.sleep(1)
    harness.advance("PT1H")
    assert [harness.result(tx_id).status for tx_id in started] == ["queued"] * 4
    assert calls("order") == []
    NodeGroup.objects.filter(pk="slow").update(paused=False)
    harness.settle()
    assert calls("order") == [0, 1, 2, 3]
    assert [harness.result(tx_id).status for tx_id in started] == ["success"] * 4


def test_pausing_takes_effect_at_the_next_checkpoint(harness):
    NodeGroup.objects.create(name="pausable", created_at=harness.now())
    harness.load({"name": "rec-pause", "node_group": "pausable", "steps": [
        {"name": "first", "type": "test/recovery-pause"}, {"name": "second", "type": "util/echo"}]})
    tx_id = harness.start("rec-pause", {"a": 1})
    harness.settle()
    result = harness.result(tx_id)
    assert result.status == "queued"
    assert result.steps == [("first", "success")]
    NodeGroup.objects.filter(pk="pausable").update(paused=False)
    result = harness.run(tx_id)
    assert result.status == "success"
    assert result.steps == [("first", "success"), ("second", "success")]
    assert result.step_runs[1].input == {"a": 1, "paused": True}


@pytest.mark.parametrize("limit", [1, 2])
def test_claims_respect_max_concurrency(harness, limit):
    NodeGroup.objects.create(name="narrow", max_concurrency=limit, created_at=harness.now())
    attempts_pipeline(harness, "rec-narrow", node_group="narrow")
    ids = []
    for _ in range(limit + 1):  # queued one after the other: the claim takes the oldest first
        ids.append(harness.start("rec-narrow", {}))
        harness.clock.move_to(harness.now() + timedelta(milliseconds=1))
    runs = [tx_claim(node_group="narrow") for _ in range(limit)]
    assert all(run is not None for run in runs)
    assert tx_claim(node_group="narrow") is None
    assert Transaction.objects.filter(node_group_id="narrow", status="running").count() == limit
    step_complete(run=runs[0], outcome=Outcome("success"))
    last = tx_claim(node_group="narrow")
    assert last is not None and last.tx_id == ids[limit]


def test_a_crash_right_after_the_claim_is_recovered_like_any_other(harness):
    attempts_pipeline(harness)
    tx_id = harness.start("rec", {})
    faults.install(faults.AFTER_CLAIM, crash)
    with pytest.raises(faults.WorkerCrash):
        harness.settle()
    faults.clear()
    assert calls(tx_id) == []
    result = harness.run(tx_id)
    assert result.status == "success" and result.data == {"attempt": 2}
    assert result.steps == [("work", "lost"), ("work", "success")]


def test_a_crash_loses_only_the_step_that_was_running(harness):
    harness.load({"name": "rec-two", "steps": [
        {"name": "first", "type": "test/recovery-attempts"}, {"name": "second", "type": "util/echo"}]})
    tx_id = harness.start("rec-two", {})

    def crash_on_second(run):
        if run.step_name == "second":
            crash(run)

    faults.install(faults.AFTER_STEP_BEFORE_CHECKPOINT, crash_on_second)
    with pytest.raises(faults.WorkerCrash):
        harness.settle()
    faults.clear()
    assert harness.result(tx_id).steps == [("first", "success"), ("second", "running")]
    result = harness.run(tx_id)
    assert result.status == "success"
    assert result.steps == [("first", "success"), ("second", "lost"), ("second", "success")]
    assert len(calls(tx_id)) == 1
    assert result.step_runs[2].input == result.step_runs[1].input == {"attempt": 1}


def test_an_empty_retry_policy_is_the_default_policy_three_executions(harness):
    harness.load({"name": "rec-empty", "steps": [{"name": "flaky", "type": "test/recovery-raises", "retry": {}}]})
    tx_id = harness.start("rec-empty", {})
    started = harness.now()
    assert harness.run(tx_id).status == "internal_error"
    assert [(count, (at - started).total_seconds()) for count, at in calls(tx_id)] == [(0, 0), (1, 1), (2, 3)]
