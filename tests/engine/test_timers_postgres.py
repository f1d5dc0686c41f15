"""Due timers woken from several connections at once on PostgreSQL: each transaction exactly once, none lost,
and a transaction another session holds is skipped without waiting and woken by a later batch."""
import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection, transaction

from engine import clock
from engine.models import JournalEntry, Sleeper, Transaction
from engine.services import waker
from tests.engine.test_postgres_concurrency import in_threads

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

NAP = {"name": "nap", "steps": [{"name": "nap", "type": "util/sleep", "config": {"duration_field": "nap"}}]}


@contextmanager
def held(rows):
    """Lock `rows` (a queryset) FOR UPDATE in another session for the duration of the block."""
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                list(rows.select_for_update())
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(timeout=30)
        yield
    finally:
        release.set()
        holder.join(timeout=30)


def _sleeping(harness, count):
    harness.load(NAP)
    ids = [harness.start("nap", {"nap": f"PT{1 + n % 7}M"}) for n in range(count)]
    harness.settle()
    assert Sleeper.objects.filter(tx_id__in=ids).count() == count
    return ids


def test_four_connections_waking_at_once_wake_each_timer_exactly_once(harness):
    ids = _sleeping(harness, 240)
    now = clock.now() + timedelta(minutes=10)

    def work(_index):
        woken = 0
        while count := waker.sleepers_wake_due(now=now, limit=25):
            woken += count
        return woken

    assert sum(in_threads(4, work)) == 240
    assert not Sleeper.objects.filter(tx_id__in=ids).exists()
    assert set(Transaction.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"queued"}
    entries = list(JournalEntry.objects.filter(tx_id__in=ids, kind="woken").values_list("tx_id", flat=True))
    assert sorted(entries) == sorted(ids)


def test_a_transaction_another_session_holds_is_skipped_without_waiting_and_woken_later(harness):
    held_id, *others = _sleeping(harness, 3)
    now = clock.now() + timedelta(minutes=10)
    with held(Transaction.objects.filter(pk=held_id)):
        seen = []
        assert waker.sleepers_wake_due(now=now, on_woken=seen.append) == 2  # returns while the lock is held
        assert len(seen) == 2
        assert Transaction.objects.get(pk=held_id).status == "sleeping"
        assert Sleeper.objects.filter(tx_id=held_id).exists()
        assert set(Transaction.objects.filter(pk__in=others).values_list("status", flat=True)) == {"queued"}
    assert waker.sleepers_wake_due(now=now) == 1
    assert Transaction.objects.get(pk=held_id).status == "queued"
    assert JournalEntry.objects.filter(tx_id=held_id, kind="woken").count() == 1


def test_a_sleeper_another_waker_holds_is_left_to_it_and_the_next_batch_taken(harness):
    first, second = _sleeping(harness, 2)  # due after one and two minutes
    now = clock.now() + timedelta(minutes=10)
    with held(Sleeper.objects.filter(tx_id=first)):
        assert waker.sleepers_wake_due(now=now, limit=1) == 1
        assert Transaction.objects.get(pk=second).status == "queued"
        assert Transaction.objects.get(pk=first).status == "sleeping"
    assert waker.sleepers_wake_due(now=now, limit=1) == 1
    assert Transaction.objects.get(pk=first).status == "queued"
