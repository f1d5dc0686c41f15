"""Due timers are woken in batches (engine.services.waker.sleepers_wake_due): one statement on PostgreSQL,
the general path (the ORM and `wake_many`) elsewhere or with DATP["FAST_PATHS"] off, writing the same rows and journal entries, never waking a transaction
whose deadline passed, and reporting each woken one's wake_at to the lateness callback."""
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from engine import clock
from engine.models import JournalEntry, Sleeper, Transaction
from engine.services import waker
from engine.services.transactions import transaction_set_deadline

NAP = {"name": "nap", "steps": [{"name": "nap", "type": "util/sleep", "config": {"duration_field": "nap"}}]}
_FRAMING = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT")
TX_COLUMNS = ("status", "wake_reason", "updated_at", "queued_at", "lease_token", "lease_expires_at", "step_name",
              "retry_count", "step_seq", "visit", "attempt")


def _sleeping(harness, naps):
    """Start one nap per duration and run them until they sleep; return their ids in that order."""
    harness.load(NAP)
    ids = [harness.start("nap", {"nap": nap}) for nap in naps]
    harness.settle()
    assert {harness.result(tx_id).status for tx_id in ids} == {"sleeping"}
    return ids


def _written(ids):
    """What a wake-up wrote for `ids`: the transactions' columns, their woken journal entries, their sleepers."""
    txs = {row["id"]: tuple(row[c] for c in TX_COLUMNS) for row in Transaction.objects.filter(pk__in=ids).values()}
    entries = {entry.tx_id: (entry.kind, entry.actor, entry.step, entry.at, entry.data)
               for entry in JournalEntry.objects.filter(tx_id__in=ids, kind="woken")}
    return [txs[tx_id] for tx_id in ids], [entries.get(tx_id) for tx_id in ids], Sleeper.objects.filter(
        tx_id__in=ids).count()


@pytest.mark.fast_paths
def test_the_batch_writes_exactly_what_the_orm_path_and_wake_many_write(harness):
    ids = _sleeping(harness, ["PT1M", "PT2M", "PT3M", "PT4M", "PT5M", "PT6M"])
    now = clock.now() + timedelta(minutes=10)
    assert waker.sleepers_wake_due(now=now, limit=3) == 3  # the statement on PostgreSQL: the earliest three
    with override_settings(DATP={**settings.DATP, "FAST_PATHS": False}):
        assert waker.sleepers_wake_due(now=now, limit=3) == 3  # the general path, wake_many: the other three
    batch_txs, batch_entries, batch_left = _written(ids[:3])
    orm_txs, orm_entries, orm_left = _written(ids[3:])
    assert batch_left == orm_left == 0
    assert batch_txs == orm_txs and len(set(batch_txs)) == 1
    assert batch_txs[0][:6] == ("queued", "timer", now, now, None, None)
    assert batch_entries == orm_entries
    assert batch_entries[0] == ("woken", "system", "nap", now, {"from": "sleeping", "to": "queued", "note": None,
                                                                 "why": "timer", "reason": "timer"})


def test_woken_transactions_run_their_step_again_and_finish(harness):
    ids = _sleeping(harness, ["PT1M", "PT2M"])
    harness.clock.move_to(clock.now() + timedelta(minutes=3))
    assert waker.sleepers_wake_due() == 2
    harness.settle()
    assert {harness.result(tx_id).status for tx_id in ids} == {"success"}


def test_the_earliest_timers_are_woken_first_up_to_the_limit(harness):
    ids = _sleeping(harness, ["PT3M", "PT1M", "PT2M", "PT4M"])
    now = clock.now() + timedelta(minutes=10)
    assert waker.sleepers_wake_due(now=now, limit=2) == 2
    assert [harness.result(tx_id).status for tx_id in ids] == ["sleeping", "queued", "queued", "sleeping"]
    assert waker.sleepers_wake_due(now=now, limit=2) == 2
    assert waker.sleepers_wake_due(now=now, limit=2) == 0


def test_timers_not_yet_due_are_left_sleeping(harness):
    ids = _sleeping(harness, ["PT1M", "PT10M"])
    assert waker.sleepers_wake_due(now=clock.now() + timedelta(minutes=5)) == 1
    assert [harness.result(tx_id).status for tx_id in ids] == ["queued", "sleeping"]
    assert Sleeper.objects.filter(tx_id=ids[1]).exists() and not Sleeper.objects.filter(tx_id=ids[0]).exists()


def test_a_transaction_whose_deadline_passed_is_left_to_the_deadline_duty(harness):
    late, fine = _sleeping(harness, ["PT5M", "PT5M"])
    transaction_set_deadline(tx_id=late, deadline="PT2M", actor="user:ann")
    now = clock.now() + timedelta(minutes=6)
    assert waker.sleepers_wake_due(now=now) == 1
    assert harness.result(late).status == "sleeping" and Sleeper.objects.filter(tx_id=late).exists()
    assert not JournalEntry.objects.filter(tx_id=late, kind="woken").exists()
    assert harness.result(fine).status == "queued"
    assert waker.deadlines_expire(now=now) == 1
    assert harness.result(late).status == "timeout" and not Sleeper.objects.filter(tx_id=late).exists()


def test_a_deadline_still_ahead_does_not_stop_the_wake_up(harness):
    (tx_id,) = _sleeping(harness, ["PT1M"])
    transaction_set_deadline(tx_id=tx_id, deadline="PT1H", actor="user:ann")
    assert waker.sleepers_wake_due(now=clock.now() + timedelta(minutes=2)) == 1
    assert harness.result(tx_id).status == "queued"


def test_switch_waits_without_a_timer_are_not_woken(harness):
    harness.load({"name": "gate", "steps": [{"name": "wait", "type": "util/wait-switch", "config": {"switch": "go"}}]})
    tx_id = harness.start("gate", {})
    harness.settle()
    assert waker.sleepers_wake_due(now=clock.now() + timedelta(days=365)) == 0
    assert harness.result(tx_id).status == "sleeping"


def test_the_lateness_callback_gets_each_woken_ones_wake_at_after_the_commit(harness):
    ids = _sleeping(harness, ["PT1M", "PT2M", "PT3M"])
    expected = sorted(Sleeper.objects.filter(tx_id__in=ids).values_list("wake_at", flat=True))
    seen = []
    assert waker.sleepers_wake_due(now=clock.now() + timedelta(minutes=5), on_woken=seen.append) == 3
    assert sorted(seen) == expected and all(moment.tzinfo is not None for moment in seen)


def test_the_lateness_callback_is_not_called_for_deadline_passed_ones(harness):
    late, fine = _sleeping(harness, ["PT1M", "PT2M"])
    transaction_set_deadline(tx_id=late, deadline="PT30S", actor="user:ann")
    wake_at = Sleeper.objects.get(tx_id=fine).wake_at
    seen = []
    assert waker.sleepers_wake_due(now=clock.now() + timedelta(minutes=5), on_woken=seen.append) == 1
    assert seen == [wake_at]


@pytest.mark.fast_paths
def test_a_batch_is_one_statement_on_postgresql(harness):
    _sleeping(harness, ["PT1M"] * 20)
    with CaptureQueriesContext(connection) as queries:
        assert waker.sleepers_wake_due(now=clock.now() + timedelta(minutes=2)) == 20
    statements = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(_FRAMING)]
    if connection.vendor == "postgresql":
        assert len(statements) == 1  # the notice is not sent with the inline dispatcher of the tests
    else:
        assert len(statements) <= 6
