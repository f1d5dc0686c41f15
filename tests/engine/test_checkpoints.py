"""The common checkpoint in one statement (engine.services.state.advance) writes what the general path
writes, and gives way to it whenever the transaction changed while its step ran."""
from dataclasses import replace
from datetime import timedelta

import pytest

from django.db import connection
from django.test.utils import CaptureQueriesContext

from engine import clock
from engine.errors import LeaseLost
from engine.models import JournalEntry, StepRun, Transaction
from engine.services import waker
from engine.services.statements import run_paths
from engine.services.execution import step_complete, tx_claim
from engine.services.transactions import transaction_cancel, transaction_set_deadline
from engine.steps.outcomes import Outcome

_FRAMING = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT")
TWO_STEPS = {"name": "two", "steps": [{"name": "a", "type": "util/echo"}, {"name": "b", "type": "util/echo"}]}


def _claimed(harness, data=None):
    harness.load(TWO_STEPS)
    harness.start("two", data or {"n": 1})
    return tx_claim(node_group="master", node="vm:1/42")


def _complete(run, output):
    return step_complete(run=run, outcome=Outcome("success", None, output), logs=["done"], error=None)


def test_a_succeeded_step_ends_and_the_next_starts_in_one_statement_on_postgresql_with_the_same_rows(harness):
    run = _claimed(harness)
    with CaptureQueriesContext(connection) as queries:
        following = _complete(run, {"n": 2})
    statements = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(_FRAMING)]
    # PostgreSQL: one statement; SQLite: three in one commit (the fenced UPDATE of the transaction, the step run
    # ended, the next one inserted); the general path: the lock under the lease, the step run ended, the pause
    # read, the next step run inserted, the transaction updated
    assert len(statements) == ({"postgresql": 1, "sqlite": 3}[connection.vendor] if run_paths() else 5)
    tx = Transaction.objects.get(pk=run.tx_id)
    assert (tx.step_name, tx.step_seq, tx.visit, tx.retry_count, tx.attempt) == ("b", 2, 2, 0, 1)
    assert tx.visit_started_at == following.started_at and tx.lease_expires_at > clock.now()
    ended = StepRun.objects.get(pk=run.run_id)
    assert (ended.status, ended.output, ended.logs) == ("success", {"n": 2}, ["done"])
    started = StepRun.objects.get(pk=following.run_id)
    assert (started.seq, started.step, started.status, started.input, started.visit) == (2, "b", "running",
                                                                                           {"n": 2}, 2)
    assert (following.step_name, following.seq, following.input, following.token) == ("b", 2, {"n": 2}, run.token)


def test_a_checkpoint_without_the_lease_writes_nothing_and_raises_lease_lost(harness):
    run = _claimed(harness)
    with pytest.raises(LeaseLost):
        _complete(replace(run, token="stolen"), {"n": 2})
    assert StepRun.objects.get(pk=run.run_id).status == "running"
    assert Transaction.objects.get(pk=run.tx_id).step_seq == 1


def test_a_deadline_moved_while_the_step_ran_reaches_the_next_step_through_the_general_path(harness):
    run = _claimed(harness)
    transaction_set_deadline(tx_id=run.tx_id, deadline="PT1H", actor="user:ann")
    following = _complete(run, {"n": 2})
    assert following.deadline_at == Transaction.objects.get(pk=run.tx_id).deadline_at is not None


def test_a_cancel_requested_while_the_step_ran_ends_the_transaction_at_the_checkpoint(harness):
    run = _claimed(harness)
    transaction_cancel(tx_id=run.tx_id, actor="user:ann")
    assert _complete(run, {"n": 2}) is None
    assert harness.result(run.tx_id).status == "cancelled"
    assert StepRun.objects.filter(tx_id=run.tx_id).count() == 1


def test_the_timer_wakes_many_sleepers_in_one_batch_each_with_its_journal_entry(harness):
    harness.load({"name": "nap", "steps": [{"name": "nap", "type": "util/sleep", "config": {"duration": "PT5M"}}]})
    ids = [harness.start("nap", {}) for _ in range(5)]
    harness.settle()
    assert {harness.result(tx_id).status for tx_id in ids} == {"sleeping"}
    harness.clock.move_to(clock.now() + timedelta(minutes=6))
    with CaptureQueriesContext(connection) as queries:
        assert waker.sleepers_wake_due(now=clock.now()) == 5
    assert len(queries.captured_queries) <= 10
    assert {harness.result(tx_id).status for tx_id in ids} == {"queued"}
    entries = JournalEntry.objects.filter(tx_id__in=ids, kind="woken")
    assert sorted(entries.values_list("tx_id", flat=True)) == sorted(ids)
    assert {e.data["why"] for e in entries} == {"timer"} and {e.data["to"] for e in entries} == {"queued"}
