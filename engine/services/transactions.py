"""Transactions: start, cancel, wake, retry, move the deadline, report progress."""
import json

from django.db import IntegrityError, transaction

from engine import clock, durations
from engine.errors import (
    DuplicateExternalId,
    InvalidRequest,
    NotRetryable,
    NotSleeping,
    TransactionFinished,
)
from engine.models import Transaction
from engine.services.common import journal, lock_fenced, lock_tx, retry_on_deadlock
from engine.services.followups import follow_up
from engine.services.state.finish import cancel
from engine.services.state.requeue import retry
from engine.services.state.start import StalePipeline, insert, new_transaction
from engine.services.state.wake import wake
from engine.services.webhooks import webhook_enqueue, webhook_url_check_text
from engine.states import TX_RETRYABLE, TxStatus, is_terminal

EXTERNAL_ID_CHARS = set(map(chr, range(0x21, 0x7F)))


def _check_start_fields(data, metadata, external_id, webhook):
    fields = {}
    if not isinstance(data, dict):
        fields["data"] = ["Must be an object."]
    if not isinstance(metadata, dict):
        fields["metadata"] = ["Must be an object."]
    if external_id is not None and (
        not isinstance(external_id, str) or not 1 <= len(external_id) <= 128
        or not set(external_id) <= EXTERNAL_ID_CHARS
    ):
        fields["external_id"] = ["1 to 128 printable ASCII characters without spaces."]
    if webhook is not None and (not isinstance(webhook, str) or not webhook.startswith(("http://", "https://"))):
        fields["webhook"] = ["Must be an http or https URL."]
    if fields:
        raise InvalidRequest("The request has invalid fields.", fields=fields)


def _same_json(a, b):
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def transaction_start(*, owner, transaction_type, data=None, metadata=None, external_id=None,
                      deadline=None, webhook=None, webhook_progress=False, actor="system"):
    """Start a transaction of `transaction_type` for `owner`, pinned to the version in use.

    Returns (tx, created): an existing transaction with the same external id, type and data is
    returned with created=False (an idempotent replay); a different one is DuplicateExternalId.
    """
    fields = {"owner": owner, "transaction_type": transaction_type, "data": data, "metadata": metadata,
              "external_id": external_id, "deadline": deadline, "webhook": webhook,
              "webhook_progress": webhook_progress, "now": clock.now()}
    tx, created = start_row(cached=True, **fields)
    if external_id is not None:
        existing = Transaction.objects.filter(owner_id=owner, external_id=external_id).first()
        if existing is not None:
            return replay(existing, tx)
    try:
        try:
            insert(tx, actor=actor, created=created)
        except StalePipeline:  # published since this process last read the pipeline: build it again, afresh
            tx, created = start_row(**fields)
            insert(tx, actor=actor, created=created)
    except IntegrityError:
        existing = Transaction.objects.filter(owner_id=owner, external_id=external_id).first()
        if existing is None:
            raise
        return replay(existing, tx)
    return tx, True


def start_row(*, owner, transaction_type, data, metadata, external_id, deadline, webhook, webhook_progress, now,
              pipelines=None, cached=False):
    """Check the fields of a start and build its unsaved row and "created" journal data (`new_transaction`,
    which reads the pipeline unless `pipelines` holds it, or `cached` lets it take this process's last read of
    it): every check a start makes before it writes, for one start and for each item of a bulk start
    (engine.services.start_many)."""
    data = {} if data is None else data
    metadata = {} if metadata is None else metadata
    _check_start_fields(data, metadata, external_id, webhook)
    if webhook is not None:
        webhook_url_check_text(url=webhook)
    return new_transaction(
        owner=owner, transaction_type=transaction_type, data=data, metadata=metadata, deadline=deadline, now=now,
        external_id=external_id, webhook=webhook, webhook_progress=webhook_progress, pipelines=pipelines,
        cached=cached,
    )


def replay(existing, tx):
    """Answer a start (`tx`, not saved) whose external id `existing` holds: (existing, False) if it has the same
    type and data (an idempotent replay), else DuplicateExternalId naming it."""
    if existing.pipeline_name == tx.pipeline_name and _same_json(existing.input, tx.input):
        return existing, False
    raise DuplicateExternalId(tx_id=existing.pk)


@retry_on_deadlock
def transaction_cancel(*, tx_id, actor, reason="", owner=None):
    """Cancel a transaction: queued or sleeping at once; running is marked and ends when its step returns."""
    now = clock.now()
    with transaction.atomic():
        tx = lock_tx(tx_id=tx_id, owner=owner)
        if is_terminal(tx.status):
            raise TransactionFinished("The transaction has already finished.")
        follow_up(cancel(tx, actor=actor, now=now, reason=reason), now=now)
    return tx


def transaction_wake(*, tx_id, actor, reason="", owner=None):
    """Wake a sleeping transaction now, as if its timer had fired."""
    now = clock.now()
    with transaction.atomic():
        tx = lock_tx(tx_id=tx_id, owner=owner)
        if tx.status != TxStatus.SLEEPING:
            raise NotSleeping()
        wake(tx, actor=actor, now=now, why=f"wake now: {reason}" if reason else "wake now", reason="wake_now")
    return tx


def transaction_retry(*, tx_id, actor, reason="", deadline=None, owner=None):
    """Run a failed, aborted, timed-out or internal-error transaction again from the step that ended it."""
    now = clock.now()
    new_deadline = durations.resolve_deadline(deadline, now)
    with transaction.atomic():
        tx = lock_tx(tx_id=tx_id, owner=owner)
        if tx.status not in TX_RETRYABLE:
            raise NotRetryable(f"A {tx.status} transaction cannot be retried.")
        if new_deadline is None and tx.deadline_at is not None and tx.deadline_at <= now:
            raise NotRetryable("Its deadline has passed: give a new deadline to retry it.")
        retry(tx, actor=actor, now=now, reason=reason, deadline_at=new_deadline or tx.deadline_at)
    return tx


def transaction_set_deadline(*, tx_id, deadline, actor, reason="", owner=None):
    """Move (or clear, with None) the deadline of an unfinished transaction."""
    now = clock.now()
    deadline_at = durations.resolve_deadline(deadline, now)
    with transaction.atomic():
        tx = lock_tx(tx_id=tx_id, owner=owner)
        if is_terminal(tx.status):
            raise TransactionFinished("The deadline of a finished transaction cannot move.")
        previous = tx.deadline_at
        tx.deadline_at = deadline_at
        tx.updated_at = now
        tx.save(update_fields=["deadline_at", "updated_at"])
        journal(tx_id=tx.pk, kind="deadline", actor=actor, at=now, step=tx.step_name, reason=reason,
                previous=previous.isoformat() if previous else None,
                deadline_at=tx.deadline_at.isoformat() if tx.deadline_at else None)
    return tx


def transaction_progress(*, tx_id, report, lease):
    """Replace the transaction's progress report (from a running step)."""
    now = clock.now()
    with transaction.atomic():
        tx = lock_fenced(lease=lease)
        tx.progress = report
        tx.updated_at = now
        tx.save(update_fields=["progress", "updated_at"])
        webhook_enqueue(tx=tx, event="transaction.progress", now=now)
