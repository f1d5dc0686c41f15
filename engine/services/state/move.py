"""The general writer of a transaction's status: check the move, write it, journal it, send its notice.

The transition modules use it for their general paths. A move to an end deletes the sleeper, sends
the finished notice and returns a `Finished` record; it runs no follow-up (its caller does).
Callers hold the transaction's row lock (or have just won a conditional update) and an atomic block.
"""
from dataclasses import dataclass

from engine.errors import InvalidTransition
from engine.models import Sleeper
from engine.notices import notify_finished
from engine.services.common import dispatch_on_commit, journal
from engine.states import TX_TERMINAL_VALUES, TxStatus, can_move, is_terminal


@dataclass(frozen=True)
class Finished:
    """A transaction that just ended, for `engine.services.followups`. `tx` is its row when a follow-up
    may need it; None when the one-statement finish proved there is none beyond the finished signal."""

    tx_id: str
    owner: str
    status: str
    tx: object = None


def check_sources(sources, *, target):
    """Fail at import if a one-statement path would move from a status `can_move` does not allow."""
    for source in sources:
        if not can_move(source, target):
            raise AssertionError(f"a fast path moves {source} to {target}, which can_move refuses")
    return tuple(str(source) for source in sources)


def require_move(source, *, target):
    """Raise InvalidTransition unless a transaction may move from `source` to `target`."""
    if not can_move(source, target):
        raise InvalidTransition(f"A transaction cannot move from {source} to {target}.", status=source)


def move(tx, *, target, actor, now, note=None, output=None, kind="status", **data):
    """Move `tx` to `target` and save it; return a `Finished` record on a move to an end, else None.

    `note` becomes the transaction's note on a terminal move; on any move it goes into the journal.
    """
    source = tx.status
    require_move(source, target=target)
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
    journal(tx_id=tx.pk, kind=kind, actor=actor, at=now, step=tx.step_name,
            **{"from": source, "to": str(target), "note": note, **data})
    if target == TxStatus.QUEUED:
        dispatch_on_commit(node_group=tx.node_group_id)
    if not is_terminal(target):
        return None
    Sleeper.objects.filter(tx_id=tx.pk).delete()
    notify_finished(tx.pk)
    return Finished(tx_id=tx.pk, owner=tx.owner_id, status=str(target), tx=tx)
