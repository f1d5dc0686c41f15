"""The one place a transaction's status changes: check the move, write it, journal it, follow it up.

Callers hold the transaction's row lock (or have just won a conditional update) and an atomic block.
"""
from django.db import transaction

from engine.errors import InvalidTransition
from engine.models import Callback, JournalEntry, Sleeper, StepRun, Transaction
from engine.notices import notify_finished
from engine.services import statements
from engine.services.common import dispatch_on_commit, journal
from engine.states import CALLBACK_ACTIVE_VALUES, TX_TERMINAL_VALUES, TxStatus, can_move, is_terminal


CHILD_REPORT = {"success": "complete", "cancelled": "cancel", "aborted": "cancel"}


def move(tx, target, *, actor, now, note=None, output=None, kind="status", **data):
    """Move `tx` to `target` and save it; a terminal target runs the finish follow-ups.

    `note` becomes the transaction's note on a terminal move; on any move it goes into the journal.
    """
    source = tx.status
    if not can_move(source, target):
        raise InvalidTransition(f"A transaction cannot move from {source} to {target}.", status=source)
    tx.status = target
    tx.updated_at = now
    fields = ["status", "updated_at"]
    if target == TxStatus.QUEUED:
        tx.queued_at = now
        fields.append("queued_at")
    if target != TxStatus.RUNNING:
        tx.lease_token = None
        tx.lease_expires_at = None
        fields += ["lease_token", "lease_expires_at"]
    if is_terminal(target):
        tx.note = note
        tx.output = output
        tx.completed_at = now
        fields += ["note", "output", "completed_at"]
    elif source in TX_TERMINAL_VALUES:
        tx.note = None
        fields.append("note")
    tx.save(update_fields=fields)
    journal(tx.pk, kind, actor, now, step=tx.step_name, **{"from": source, "to": str(target), "note": note, **data})
    if target == TxStatus.QUEUED:
        dispatch_on_commit(tx.node_group_id)
    if is_terminal(target):
        _finished(tx, now=now)


def wake(tx, *, actor, now, why, reason="timer"):
    """Queue a sleeping transaction (locked by the caller); its step runs again (retry_count was
    raised when it went to sleep)."""
    Sleeper.objects.filter(tx_id=tx.pk).delete()
    tx.wake_reason = reason
    tx.save(update_fields=["wake_reason"])
    move(tx, TxStatus.QUEUED, actor=actor, now=now, kind="woken", why=why, reason=reason)


def woken_data(*, why, reason):
    """The data of the "woken" journal entry of a sleeping transaction queued again."""
    return {"from": str(TxStatus.SLEEPING), "to": str(TxStatus.QUEUED), "note": None, "why": why, "reason": reason}


def wake_many(txs, *, actor, now, why, reason="timer"):
    """`wake` for many sleeping transactions (locked by the caller) in a few statements for them all:
    the same rows, the same journal entry for each, one work notice per node group."""
    for tx in txs:
        if not can_move(tx.status, TxStatus.QUEUED):
            raise InvalidTransition(f"A transaction cannot move from {tx.status} to queued.", status=tx.status)
    ids = [tx.pk for tx in txs]
    if not ids:
        return
    Sleeper.objects.filter(tx_id__in=ids).delete()
    Transaction.objects.filter(pk__in=ids).update(status=TxStatus.QUEUED, wake_reason=reason, updated_at=now,
                                                  queued_at=now, lease_token=None, lease_expires_at=None)
    JournalEntry.objects.bulk_create([
        JournalEntry(tx_id=tx.pk, kind="woken", actor=actor, step=tx.step_name, at=now,
                     data=woken_data(why=why, reason=reason))
        for tx in txs
    ])
    for node_group in {tx.node_group_id for tx in txs}:
        dispatch_on_commit(node_group)


# `wake_many` for the due timers in one statement on PostgreSQL, writing the same rows: the earliest due
# sleepers and their transactions, both locked SKIP LOCKED (another node takes the next batch at the same
# time; a transaction a service holds is left for the next batch), those that still sleep and whose
# deadline has not passed queued, their sleepers deleted, one "woken" journal entry each. The statement
# never waits for a row lock, so it cannot deadlock with `wake` (transaction, then sleeper).
WAKE_DUE_SQL = """
WITH due AS (
    SELECT tx_id, wake_at FROM engine_sleeper WHERE wake_at <= %(now)s ORDER BY wake_at LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED
), held AS (
    SELECT t.id, due.wake_at FROM engine_transaction t JOIN due ON t.id = due.tx_id
     WHERE t.status = 'sleeping' AND (t.deadline_at IS NULL OR t.deadline_at > %(now)s)
       FOR UPDATE OF t SKIP LOCKED
), woken AS (
    UPDATE engine_transaction t SET status = 'queued', wake_reason = %(reason)s, updated_at = %(now)s,
           queued_at = %(now)s, lease_token = NULL, lease_expires_at = NULL
      FROM held WHERE t.id = held.id AND t.status = 'sleeping'
    RETURNING t.id, t.step_name, t.node_group_id, held.wake_at
), gone AS (
    DELETE FROM engine_sleeper s USING woken WHERE s.tx_id = woken.id
), journaled AS (
    INSERT INTO engine_journalentry (tx_id, at, kind, actor, step, data)
    SELECT id, %(now)s, 'woken', %(actor)s, step_name, %(data)s FROM woken
)
SELECT node_group_id, wake_at FROM woken
"""


def wake_due_postgres(*, now, limit, actor, why, reason="timer"):
    """Wake up to `limit` due timers in one statement (PostgreSQL); return the woken ones' wake_at,
    earliest first. Runs in the caller's atomic block, which sends the work notices with it."""
    rows = statements.rows(WAKE_DUE_SQL, {"now": now, "limit": limit, "reason": reason, "actor": actor,
                                          "data": statements.jsonb(woken_data(why=why, reason=reason))})
    for node_group in {node_group for node_group, _wake_at in rows}:
        dispatch_on_commit(node_group)
    return sorted(wake_at for _node_group, wake_at in rows)


def wake_if_waiting(*, now, actor, why, **condition):
    """Wake every transaction whose sleeper matches `condition` (callback=..., child=...)."""
    from engine.services.common import lock_tx

    woken = 0
    for tx_id in Sleeper.objects.filter(**condition).values_list("tx_id", flat=True):
        tx = lock_tx(tx_id)
        if tx.status == TxStatus.SLEEPING:
            wake(tx, actor=actor, now=now, why=why, reason="callback" if "callback_id" in condition else "child")
            woken += 1
    return woken


def _finished(tx, *, now):
    """Follow up a transaction that just ended: callbacks, children, its parent, its webhook, the signal."""
    from engine.services import callbacks, children, webhooks
    from engine.signals import send_finished

    Sleeper.objects.filter(tx_id=tx.pk).delete()
    if tx.status in (TxStatus.CANCELLED, TxStatus.TIMEOUT):
        open_callbacks = Callback.objects.filter(tx_id=tx.pk, status__in=CALLBACK_ACTIVE_VALUES)
        for callback in open_callbacks:
            callbacks.callback_force(callback, status="cancel", now=now, actor="system")
        children.children_cancel(parent=tx, now=now)
    if tx.report_to_id is not None:
        status = CHILD_REPORT.get(tx.status, "error")
        callbacks.callback_report_child(callback_id=tx.report_to_id, status=status, child=tx, now=now)
    if tx.parent_id is not None:
        wake_if_waiting(child_id=tx.pk, now=now, actor="system", why=f"child {tx.pk} finished")
    webhooks.webhook_enqueue(tx, event="transaction.finished", now=now)
    notify_finished(tx.pk)
    transaction.on_commit(lambda: send_finished(tx_id=tx.pk, owner=tx.owner_id, status=str(tx.status)))


def finish_now(tx, target, *, actor, now, note=None, **data):
    """End an unfinished, not running transaction at once (cancel, timeout), keeping its last output."""
    last_input = StepRun.objects.filter(tx_id=tx.pk).order_by("-seq").values_list("input", flat=True).first()
    output = last_input if last_input is not None else tx.input
    move(tx, target, actor=actor, now=now, note=note, output=output, **data)
