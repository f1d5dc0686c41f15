"""A rewind: an operator sends a transaction that no worker holds back to the queue at an earlier step, with
the data that step is to start with, perhaps on another version of its pipeline.

It is the one move outside the lifecycle that `can_move` draws (an end goes back to the queue, and a queued
transaction is queued again at another step), so it has its own rule, `TX_REWINDABLE`. The caller holds the
row lock and has cancelled what the abandoned steps left open (engine.services.rewind).
"""
from engine.errors import TransactionRunning
from engine.models import Sleeper
from engine.services.common import dispatch_on_commit, journal
from engine.states import TX_REWINDABLE, TxStatus

# What a rewind resets: the position (a new visit of `step_name`, its first attempt), the end, the wait.
FIELDS = ["status", "version", "step_name", "visit", "visit_started_at", "retry_count", "attempt", "pending_input",
          "wake_reason", "cancel_requested", "output", "note", "completed_at", "deadline_at", "queued_at",
          "updated_at", "lease_token", "lease_expires_at"]


def rewind(tx, *, to_step, version_id, step_input, deadline_at, actor, now, **data):
    """Queue `tx` (locked, not running) to run `to_step` of `version_id` next, with `step_input`; journal it."""
    source = str(tx.status)
    if tx.status not in TX_REWINDABLE:
        raise TransactionRunning()
    Sleeper.objects.filter(tx_id=tx.pk).delete()
    from_step, from_version = tx.step_name, tx.version_id
    tx.status = TxStatus.QUEUED
    tx.version_id = version_id
    tx.step_name = to_step
    tx.visit += 1
    tx.visit_started_at = None
    tx.retry_count = 0
    tx.attempt = 1
    # The claim takes the pending input before any step run's (engine.services.runs.claim_input).
    tx.pending_input = step_input
    tx.wake_reason = None
    tx.cancel_requested = False
    tx.output = None
    tx.note = None
    tx.completed_at = None
    tx.deadline_at = deadline_at
    tx.queued_at = now
    tx.updated_at = now
    tx.lease_token = None
    tx.lease_expires_at = None
    tx.save(update_fields=FIELDS)
    journal(tx_id=tx.pk, kind="rewind", actor=actor, at=now, step=to_step,
            **{"from": source, "to": str(TxStatus.QUEUED), "from_step": from_step, "from_version": from_version,
               "version": version_id, **data})
    dispatch_on_commit(node_group=tx.node_group_id)
