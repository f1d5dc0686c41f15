"""What an ending sets off, run by whoever ended the transaction, after the transition and in the same
database transaction: its open callbacks and children cancelled (an end that cascades), the callback it
reports to told, the parent awaiting it woken, its webhook queued, and the finished signal after commit.

`engine.services.endings.has_followups` says when there is more to do than the signal (the one-statement
finish runs only where there is not). A cascade is a loop here, not recursion through the services:
a child cancelled at once yields its own `Finished` record, followed up in turn.
"""
from collections import deque
from functools import partial

from django.db import transaction

from engine.models import Callback, Transaction
from engine.services import callbacks, fanout, webhooks
from engine.services.common import lock_tx
from engine.services.endings import CASCADING, has_followups
from engine.services.state.cancel_many import cancel_quiet_children
from engine.services.state.finish import cancel
from engine.services.state.wake import wake_if_waiting
from engine.signals import send_finished
from engine.states import CALLBACK_ACTIVE_VALUES, TX_ACTIVE_VALUES, is_terminal

# What a background child's end reports to the callback it was started with (else "error").
CHILD_REPORT = {"success": "complete", "cancelled": "cancel", "aborted": "cancel"}


def follow_up(*ended, now):
    """Run the follow-ups of every `Finished` record in `ended` (None entries are skipped), and of the
    children their ends cancel."""
    pending = deque(record for record in ended if record is not None)
    while pending:
        record = pending.popleft()
        if record.tx is not None and has_followups(record.tx):
            pending.extend(_tell(record.tx, now=now))
        transaction.on_commit(partial(send_finished, tx_id=record.tx_id, owner=record.owner, status=record.status))


def _tell(tx, *, now):
    """Run the follow-ups of `tx`, which just ended; return the records of the children that ended with it."""
    ended = close_open(tx, now=now, reason=f"parent {tx.status}") if tx.status in CASCADING else []
    if tx.report_to_id is not None:
        status = CHILD_REPORT.get(tx.status, "error")
        callbacks.callback_report_child(callback_id=tx.report_to_id, status=status, child=tx, now=now)
    if tx.parent_id is not None and not fanout.child_ended(tx, now=now):
        wake_if_waiting(tx_id=tx.parent_id, child_id=tx.pk, now=now, actor="system", why=f"child {tx.pk} finished")
    if not webhooks.webhook_finished_quiet(tx=tx):
        webhooks.webhook_enqueue(tx=tx, event=webhooks.FINISHED_EVENT, now=now)
    return ended


def close_open(tx, *, now, reason):
    """Cancel what `tx` still has open, as an end that cascades does: its active callbacks, its fan-outs and its
    unfinished children (an end, or a rewind leaving the steps that opened them). Return the records of the
    children that ended at once, for `follow_up`."""
    for callback in Callback.objects.filter(tx_id=tx.pk, status__in=CALLBACK_ACTIVE_VALUES):
        callbacks.callback_force(callback=callback, status="cancel", now=now, actor="system")
    fanout.close_for_parent(tx, now=now)
    return _cancel_children(tx, now=now, reason=reason)


def _cancel_children(parent, *, now, reason):
    """Cancel the unfinished children of `parent`: at once, or at their checkpoint if running; a fan-out's
    quiet children in batches (their records need no follow-up beyond the finished signal)."""
    actor = f"parent:{parent.pk}"
    ended = cancel_quiet_children(parent.pk, actor=actor, now=now, reason=reason)
    for child_id in Transaction.objects.filter(parent_id=parent.pk, status__in=TX_ACTIVE_VALUES).values_list(
            "pk", flat=True):
        child = lock_tx(tx_id=child_id)
        if not is_terminal(child.status):
            ended.append(cancel(child, actor=actor, now=now, reason=reason))
    return [record for record in ended if record is not None]
