"""Back to the queue without a wake-up: a checkpoint that must not go on in this worker (its node is
stopping, its group paused, a wake-up came while the step ran), a worker lost, or a retry of an end."""
from engine.services.state.move import move
from engine.states import TxStatus


def requeue(tx, *, actor, now, why, **data):
    """Queue `tx` (locked, running) again: its next step, or the same one, runs on the next claim."""
    move(tx, target=TxStatus.QUEUED, actor=actor, now=now, why=why, **data)


def retry(tx, *, actor, now, reason, deadline_at):
    """Queue `tx` (locked, ended in a failure) to run again from the step that ended it, with `deadline_at`."""
    tx.deadline_at = deadline_at
    tx.cancel_requested = False
    tx.output = None
    tx.completed_at = None
    tx.visit += 1
    tx.visit_started_at = None
    tx.retry_count = 0
    tx.attempt = 1
    tx.save(update_fields=["deadline_at", "cancel_requested", "output", "completed_at", "visit",
                           "visit_started_at", "retry_count", "attempt"])
    move(tx, target=TxStatus.QUEUED, actor=actor, now=now, kind="retry", reason=reason,
         deadline_at=tx.deadline_at.isoformat() if tx.deadline_at else None)
