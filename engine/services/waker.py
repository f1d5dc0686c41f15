"""The engine's periodic duties, each one indexed query and bounded batches: due timers, deadlines,
callback timeouts, await re-checks, lost workers and due schedules. Safe to run from any number of nodes at once."""
from django.db import connection, transaction

from engine import clock, conf
from engine.models import Callback, Sleeper, StepRun, Transaction
from engine.services.callbacks import callback_force
from engine.services.followups import follow_up
from engine.services.schedule_fire import schedules_fire
from engine.services.state.finish import finish, finish_now
from engine.services.state.requeue import requeue
from engine.services.state.wake import wake, wake_due
from engine.states import CALLBACK_ACTIVE_VALUES, StepRunStatus, TxStatus

BATCH = 500


def _locked(queryset):
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True)
    return queryset


def sleepers_wake_due(*, now=None, limit=BATCH, on_woken=None):
    """Queue the sleeping transactions whose timer or wait timeout has come; return how many.
    `on_woken(wake_at)`, if given, is called for each after the commit (the node's lateness figure)."""
    now = now or clock.now()
    with transaction.atomic():
        woken = wake_due(now=now, limit=limit, actor="system", why="timer")
    if on_woken is not None:
        for wake_at in woken:
            on_woken(wake_at)
    return len(woken)


def deadlines_expire(*, now=None, limit=BATCH):
    """End queued and sleeping transactions whose deadline passed (running ones end at their checkpoint)."""
    now = now or clock.now()
    ended = 0
    with transaction.atomic():
        queryset = Transaction.objects.filter(
            status__in=[TxStatus.QUEUED, TxStatus.SLEEPING], deadline_at__lte=now
        ).order_by("deadline_at")[:limit]
        for tx in _locked(Transaction.objects.filter(pk__in=list(queryset.values_list("pk", flat=True)))):
            if tx.status in (TxStatus.QUEUED, TxStatus.SLEEPING):
                follow_up(finish_now(tx, target=TxStatus.TIMEOUT, actor="system", now=now, note="Deadline passed"),
                          now=now)
                ended += 1
    return ended


def callbacks_expire(*, now=None, limit=BATCH):
    """Force `timeout` on active callbacks whose deadline passed, waking whoever awaits them."""
    now = now or clock.now()
    forced = 0
    with transaction.atomic():
        due = Callback.objects.filter(status__in=CALLBACK_ACTIVE_VALUES, timeout_at__lte=now)[:limit]
        for callback in _locked(Callback.objects.filter(pk__in=list(due.values_list("pk", flat=True)))):
            callback_force(callback=callback, status="timeout", now=now, actor="system")
            forced += 1
    return forced


def awaits_recheck(*, now=None, limit=BATCH):
    """Wake sleepers whose callback is final (the await safety net); read only, unless one is found."""
    now = now or clock.now()
    ids = list(
        Sleeper.objects.filter(callback__isnull=False)
        .exclude(callback__status__in=CALLBACK_ACTIVE_VALUES)
        .values_list("tx_id", flat=True)[:limit]
    )
    woken = 0
    if ids:
        with transaction.atomic():
            for tx in _locked(Transaction.objects.filter(pk__in=ids, status=TxStatus.SLEEPING)):
                wake(tx, actor="system", now=now, why="callback final (re-check)", reason="callback")
                woken += 1
    return woken


def leases_recover(*, now=None, limit=BATCH):
    """Re-queue transactions whose worker was lost (lease expired): the step run becomes `lost` and the
    step runs again with attempt + 1, up to DATP["MAX_ATTEMPTS"], then the transaction is internal_error."""
    now = now or clock.now()
    max_attempts = conf.get("MAX_ATTEMPTS")
    recovered = 0
    with transaction.atomic():
        expired = Transaction.objects.filter(status=TxStatus.RUNNING, lease_expires_at__lte=now)
        ids = list(expired.values_list("pk", flat=True)[:limit])
        for tx in _locked(Transaction.objects.filter(pk__in=ids, status=TxStatus.RUNNING, lease_expires_at__lte=now)):
            StepRun.objects.filter(tx_id=tx.pk, seq=tx.step_seq, status=StepRunStatus.RUNNING).update(
                status=StepRunStatus.LOST, ended_at=now, note="worker lost (lease expired)"
            )
            if tx.attempt >= max_attempts:
                last_input = StepRun.objects.filter(tx_id=tx.pk, seq=tx.step_seq).values_list("input", flat=True).first()
                follow_up(finish(tx, target=TxStatus.INTERNAL_ERROR, actor="system", now=now, output=last_input,
                                 note=f"Worker lost {tx.attempt} times running step {tx.step_name}"), now=now)
            else:
                tx.attempt += 1
                tx.save(update_fields=["attempt"])
                requeue(tx, actor="system", now=now, why="worker lost", attempt=tx.attempt)
            recovered += 1
    return recovered


def waker_tick(*, now=None):
    """Run every duty once; return a dict of what each did."""
    now = now or clock.now()
    return {
        "deadlines": deadlines_expire(now=now),
        "callbacks": callbacks_expire(now=now),
        "leases": leases_recover(now=now),
        "timers": sleepers_wake_due(now=now),
        "awaits": awaits_recheck(now=now),
        "schedules": schedules_fire(now=now),
    }

