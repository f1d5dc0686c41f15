"""Shared pieces of the services: ids, the journal, row locks, the lease fence, dispatch on commit."""
import functools
import uuid
from dataclasses import dataclass

from django.db import OperationalError, connection

from engine.errors import LeaseLost, TransactionNotFound
from engine.models import JournalEntry, Transaction
from engine.runtime import dispatch
from engine.states import TxStatus


@dataclass(frozen=True)
class Lease:
    """What a worker holds while it runs a step: every write it makes is fenced by it."""

    tx_id: str
    token: str


def new_tx_id():
    return f"tx-{uuid.uuid4().hex}"


def journal(*, tx_id, kind, actor, at, step=None, **data):
    return JournalEntry.objects.create(tx_id=tx_id, kind=kind, actor=actor, step=step, at=at, data=data)


def lock_tx(*, tx_id, owner=None):
    """Return the transaction row locked for update (a no-op lock on SQLite, whose writes serialise)."""
    queryset = Transaction.objects.select_for_update().filter(pk=tx_id)
    if owner is not None:
        queryset = queryset.filter(owner=owner)
    tx = queryset.first()
    if tx is None:
        raise TransactionNotFound()
    return tx


def lock_fenced(*, lease):
    """Return the transaction locked, if `lease` still holds it; else raise LeaseLost.

    FOR NO KEY UPDATE: it excludes every other writer of the row as FOR UPDATE does, but not the KEY SHARE
    lock a row referring to it takes (a parent's sleeper on this child, checked at the parent's commit):
    a parent going to sleep on this transaction must not wait for it while this one, ending, waits for the
    parent's lock to read that sleeper (engine.services.state.wake.wake_if_waiting)."""
    tx = (
        Transaction.objects.select_for_update(no_key=True)
        .filter(pk=lease.tx_id, lease_token=lease.token, status=TxStatus.RUNNING)
        .first()
    )
    if tx is None:
        raise LeaseLost(f"{lease.tx_id}: the lease is no longer held")
    return tx


def dispatch_on_commit(*, node_group):
    """Tell the runtime that work is ready for `node_group` once the enclosing transaction commits."""
    dispatch.work_queued(node_group)


DEADLOCK_RETRIES = 3
RETRYABLE_SQLSTATES = {"40P01", "40001"}  # deadlock detected, serialization failure


def retry_on_deadlock(service):
    """Run `service` again when PostgreSQL aborted its database transaction as a deadlock victim.

    A parent being cancelled locks parent then child, while its finishing child locks child then
    parent: PostgreSQL aborts one of them. The aborted one rolled back entirely, so running it again
    is safe; only the outermost atomic block may retry (an inner one cannot outlive the abort).
    """
    @functools.wraps(service)
    def wrapper(*args, **kwargs):
        for attempt in range(DEADLOCK_RETRIES + 1):
            try:
                return service(*args, **kwargs)
            except OperationalError as exc:
                sqlstate = getattr(exc.__cause__, "sqlstate", None)
                if sqlstate not in RETRYABLE_SQLSTATES or connection.in_atomic_block or attempt == DEADLOCK_RETRIES:
                    raise
    return wrapper
