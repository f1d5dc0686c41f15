"""A worker under load claims several transactions at once and checkpoints their steps together
(engine.runtime.executor), and never makes a step's checkpoint wait behind a slow step."""
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from engine import clock
from engine.models import StepRun, Transaction
from engine.runtime import executor
from engine.services import waker
from engine.steps import Step, register

# Batching is the fast paths' (one statement per transition for a batch): these run with them on even in the
# pass that turns them off elsewhere (make test-postgres-general).
pytestmark = pytest.mark.fast_paths

THREE = {"name": "three", "steps": [{"name": "a", "type": "util/echo"}, {"name": "b", "type": "util/echo"},
                                    {"name": "c", "type": "util/echo"}]}
SLOW = {"name": "slow", "steps": [{"name": "a", "type": "test/batch-slow"}, {"name": "b", "type": "util/echo"}]}
_seen = {}


@register
class BatchSlow(Step):
    """Sleep 0.2 s of wall clock, after noting which step runs had already ended (checkpointed) then."""

    type_name = "test/batch-slow"

    def invoke(self, ctx):
        _seen[ctx.tx_id] = set(StepRun.objects.exclude(ended_at=None).values_list("tx_id", "step"))
        time.sleep(0.2)
        return ctx.succeeded()


def test_the_batch_size_doubles_while_claims_come_back_full_and_drops_when_they_do_not():
    size = executor.BatchSize()
    with override_settings(DATP={"BATCH_MAX": 16}):
        seen = []
        for count in (1, 2, 4, 8, 16, 16, 3, 1, 0):
            size.claimed(count, size.size)
            seen.append(size.size)
    assert seen == [2, 4, 8, 16, 16, 16, 3, 1, 1]


def test_a_step_is_checkpointed_first_when_the_next_one_is_expected_to_take_longer_than_the_window(monkeypatch):
    monkeypatch.setattr(executor, "_took", {"util/echo": 0.0001, "test/batch-slow": 0.2})
    now = time.monotonic()

    class Next:
        sleep_seconds = 0.0
        step_type = "util/echo"

    assert not executor._checkpoint_first(Next, now, 0.01)
    assert executor._checkpoint_first(Next, now - 0.02, 0.01)  # the steps before it waited the window
    Next.step_type = "test/batch-slow"
    assert executor._checkpoint_first(Next, now, 0.01)
    Next.step_type, Next.sleep_seconds = "util/echo", 0.5
    assert executor._checkpoint_first(Next, now, 0.01)
    Next.step_type, Next.sleep_seconds = "never-seen", 0.0
    assert executor._checkpoint_first(Next, now, 0.01)  # unknown: run alone once, then known


def test_a_drain_under_load_claims_and_checkpoints_many_transactions_per_statement(harness, monkeypatch):
    monkeypatch.setattr(executor, "_sizes", {})
    harness.load(THREE)
    started = [harness.start("three", {"n": number}) for number in range(40)]
    with override_settings(DATP={**settings.DATP, "BATCH_MAX": 8}), CaptureQueriesContext(connection) as seen:
        ran, emptied = executor.drain(node_group="master", node="node-a")
    assert (ran, emptied) == (40, True)
    assert all(harness.result(tx_id).status == "success" for tx_id in started)
    assert [harness.result(tx_id).data["n"] for tx_id in started] == list(range(40))
    sqls = [" ".join(query["sql"].split()) for query in seen.captured_queries]
    claims = sum("(g.paused OR g.max_concurrency IS NOT NULL)" in sql for sql in sqls)  # a claim's candidates
    advances = sum("SET step_name = x.route" in sql for sql in sqls)
    finishes = sum("SET status = x.target" in sql for sql in sqls)
    # Claims of 1, 2, 4, then 8 at a time (40 = 1 + 2 + 4 + 8 * 4 + 1), and an empty one at the end; each
    # claimed batch goes on twice and ends once, in one statement each (on SQLite, one UPDATE of the
    # transactions each, in one database transaction with the step runs' statements).
    assert claims == 9
    assert (advances, finishes) == (2 * 8, 8)


def test_a_lone_transaction_is_claimed_and_run_alone(harness, monkeypatch):
    monkeypatch.setattr(executor, "_sizes", {})
    harness.load(THREE)
    tx_id = harness.start("three", {"n": 1})
    assert executor.drain(node_group="master", node="node-a") == (1, True)
    assert executor._sizes["master"].size == 1
    assert harness.result(tx_id).status == "success"


def test_a_slow_step_runs_only_after_the_steps_before_it_are_checkpointed(harness, monkeypatch):
    monkeypatch.setattr(executor, "_sizes", {})
    monkeypatch.setattr(executor, "_took", {"util/echo": 0.0001, "test/batch-slow": 0.2})
    harness.load(THREE, SLOW)
    quick = []
    for number in range(3):
        quick.append(harness.start("three", {"n": number}))
        harness.clock.move_to(harness.now() + timedelta(seconds=1))  # claimed in this order
    slow = harness.start("slow", {})
    with override_settings(DATP={**settings.DATP, "BATCH_MAX": 4}):
        executor.run_claimed(executor.tx_claim_many(node_group="master", node="node-a", limit=4))
    assert all(harness.result(tx_id).status == "success" for tx_id in [*quick, slow])
    # The three quick ones' first steps ran before the slow one in the same batch, and were written first.
    assert {(tx_id, "a") for tx_id in quick} <= _seen[slow]


@pytest.mark.postgres_only
def test_a_worker_that_finds_nothing_to_claim_asks_once(harness):
    """Every worker on standby wakes for each new transaction and one claims it: the others' claims find nothing
    in one statement, without the general path's reads (a candidate another worker holds is skipped by both)."""
    harness.load(THREE)
    harness.start("three", {"n": 1})
    other = executor.tx_claim_many(node_group="master", node="node-b", limit=1)
    with CaptureQueriesContext(connection) as seen:
        assert executor.drain(node_group="master", node="node-a") == (0, True)
    assert len(seen.captured_queries) == 1
    assert other[0].input == {"n": 1}


def test_after_a_batch_with_a_slow_step_a_worker_claims_one_again(harness, monkeypatch):
    """The transactions claimed behind a slow step wait for it: the next claim takes one, then grows again."""
    monkeypatch.setattr(executor, "_sizes", {})
    harness.load(THREE, SLOW)
    for pipeline in ["three"] * 6 + ["slow"] + ["three"] * 6:
        harness.start(pipeline, {})
        harness.clock.move_to(harness.now() + timedelta(seconds=1))  # claimed in this order
    sizes = []
    real = executor.tx_claim_many

    def claim(**kwargs):
        sizes.append(kwargs["limit"])
        return real(**kwargs)

    monkeypatch.setattr(executor, "tx_claim_many", claim)
    with override_settings(DATP={**settings.DATP, "BATCH_MAX": 4}):
        assert executor.drain(node_group="master", node="node-a") == (13, True)
    # 1, 2, 4 (the six first quick ones and the slow one), then one again after the slow batch, 2, 4 (three
    # were left), and 3 for the claim that finds the queue empty.
    assert sizes == [1, 2, 4, 1, 2, 4, 3]


def _lost(harness, count, *, then=None):
    """`count` transactions claimed by a worker that died (their leases expired; `then()` ran meanwhile): queued
    again, at attempt 2."""
    lost = [harness.start("three", {"lost": number}) for number in range(count)]
    assert len(executor.tx_claim_many(node_group="master", node="dead/1", limit=count)) == count
    made = then() if then is not None else None
    harness.clock.move_to(harness.now() + timedelta(minutes=5))  # nothing runs meanwhile
    assert waker.leases_recover(now=clock.now()) == count
    return lost, made


def test_a_transaction_whose_worker_was_lost_is_claimed_alone_when_it_is_the_oldest(harness):
    """A worker killed by one step of its batch loses the batch: each of its transactions then runs alone once,
    so that a step that kills its worker uses up its own attempts, not those of the others."""
    harness.load(THREE)
    (first, second), _ = _lost(harness, 2)
    fresh = []
    for number in range(3):
        harness.clock.move_to(harness.now() + timedelta(seconds=1))
        fresh.append(harness.start("three", {"n": number}))
    claims = [[run.tx_id for run in executor.tx_claim_many(node_group="master", node="node-a", limit=8)]
              for _ in range(4)]
    assert sorted(claims[0] + claims[1]) == sorted([first, second])
    assert claims[2:] == [fresh, []]
    assert [Transaction.objects.get(pk=tx_id).attempt for tx_id in (first, second)] == [2, 2]


def test_a_batch_claim_leaves_a_lost_transaction_queued_behind_the_oldest(harness):
    harness.load(THREE)
    [lost], young = _lost(harness, 1, then=lambda: harness.start("three", {"n": 0}))
    harness.clock.move_to(harness.now() + timedelta(seconds=1))
    later = harness.start("three", {"n": 1})
    assert [run.tx_id for run in executor.tx_claim_many(node_group="master", node="node-a", limit=8)] == [young,
                                                                                                            later]
    assert Transaction.objects.get(pk=lost).status == "queued"
    assert [run.tx_id for run in executor.tx_claim_many(node_group="master", node="node-a", limit=8)] == [lost]
