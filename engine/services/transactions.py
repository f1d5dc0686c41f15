"""Transactions: start, cancel, wake, retry, move the deadline, report progress."""
import json

from django.db import IntegrityError, connection, transaction

from engine import clock, durations, notices
from engine.errors import (
    DuplicateExternalId,
    InvalidRequest,
    NotRetryable,
    NotSleeping,
    TransactionFinished,
    UnknownTransactionType,
)
from engine.models import Pipeline, Transaction
from engine.services import statements
from engine.services.common import dispatch_on_commit, journal, lock_fenced, lock_tx, new_tx_id, retry_on_deadlock
from engine.services.execution import definition_of
from engine.services.moves import finish_now, move, wake
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


PIPELINE_COLUMNS = ("name", "transaction_type", "node_group_id", "current_version_id")
PIPELINE_SQL = f"SELECT {', '.join(PIPELINE_COLUMNS)} FROM engine_pipeline WHERE name = %(name)s"


def _pipeline(name):
    """What a start needs of pipeline `name` (a prepared statement on PostgreSQL), or None."""
    if statements.is_postgres():
        found = statements.rows(PIPELINE_SQL, {"name": name})
        return dict(zip(PIPELINE_COLUMNS, found[0])) if found else None
    return Pipeline.objects.filter(name=name).values(*PIPELINE_COLUMNS).first()


def _same_json(a, b):
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def transaction_start(*, owner, transaction_type, data=None, metadata=None, external_id=None,
                      deadline=None, webhook=None, webhook_progress=False, actor="system",
                      parent=None, parent_key=None, report_to_id=None, allow_child_only=False):
    """Start a transaction of `transaction_type` for `owner`, pinned to the version in use.

    Returns (tx, created): an existing transaction with the same external id, type and data is
    returned with created=False (an idempotent replay); a different one is DuplicateExternalId.
    """
    data = {} if data is None else data
    metadata = {} if metadata is None else metadata
    _check_start_fields(data, metadata, external_id, webhook)
    if webhook is not None:
        from engine.services.webhooks import webhook_url_check_text

        webhook_url_check_text(webhook)
    now = clock.now()
    pipeline = _pipeline(transaction_type) if isinstance(transaction_type, str) else None
    if pipeline is None or pipeline["current_version_id"] is None or \
            not (pipeline["transaction_type"] or allow_child_only):
        raise UnknownTransactionType(
            f"No transaction type named {transaction_type!r}."
        )
    version_id = pipeline["current_version_id"]
    definition = definition_of(version_id)  # versions are immutable: read once per process
    deadline_at = durations.resolve_deadline(deadline, now)
    if deadline_at is None and definition.get("deadline"):
        try:
            deadline_at = durations.add(now, definition["deadline"])
        except durations.BadDuration as exc:  # the pipeline's own deadline, from a later "now"
            raise durations.field_error("deadline", f"The pipeline's deadline: {exc}") from exc
    if external_id is not None:
        existing = Transaction.objects.filter(owner_id=owner, external_id=external_id).first()
        if existing is not None:
            return _replay(existing, transaction_type, data)
    tx = Transaction(
        id=new_tx_id(), owner_id=owner, external_id=external_id, pipeline_name=pipeline["name"],
        version_id=version_id, node_group_id=definition.get("node_group") or pipeline["node_group_id"],
        status=TxStatus.QUEUED, input=data, metadata=metadata, deadline_at=deadline_at,
        webhook_url=webhook, webhook_progress=bool(webhook_progress), parent=parent, parent_key=parent_key,
        report_to_id=report_to_id, created_at=now, updated_at=now, queued_at=now,
        step_name=definition["steps"][0]["name"], visit_started_at=None,
    )
    created = {"transaction_type": pipeline["name"], "version": version_id, "external_id": external_id,
               "parent_tx_id": parent.pk if parent else None}
    try:
        _insert(tx, actor=actor, created=created)
    except IntegrityError:
        existing = Transaction.objects.filter(owner_id=owner, external_id=external_id).first()
        if existing is None:
            raise
        return _replay(existing, transaction_type, data)
    return tx, True


INSERT_SQL = """
WITH tx AS (INSERT INTO engine_transaction ({columns}) VALUES ({values}) RETURNING id, node_group_id),
journaled AS (INSERT INTO engine_journalentry (tx_id, at, kind, actor, step, data)
              SELECT id, %(created_at)s, 'created', %(journal_actor)s, NULL, %(journal_data)s FROM tx)
SELECT CASE WHEN %(journal_notify)s THEN pg_notify(%(journal_channel)s, node_group_id) END FROM tx
"""
_insert_sql = []


def _insert(tx, *, actor, created):
    """Insert `tx` with its journal entry and tell the runtime: one statement on PostgreSQL."""
    if not statements.is_postgres():
        with transaction.atomic():
            tx.save(force_insert=True)
            journal(tx.pk, "created", actor, tx.created_at, **created)
            dispatch_on_commit(tx.node_group_id)
        return
    fields = Transaction._meta.concrete_fields
    if not _insert_sql:
        _insert_sql.append(INSERT_SQL.format(columns=", ".join(f.column for f in fields),
                                             values=", ".join(f"%({f.attname})s" for f in fields)))
    params = {f.attname: f.get_db_prep_save(getattr(tx, f.attname), connection) for f in fields}
    params.update(journal_actor=actor, journal_data=statements.jsonb(created), journal_channel=notices.WORK_CHANNEL,
                  journal_notify=notices.sends_notices())
    statements.rows(_insert_sql[0], params)
    tx._state.adding = False
    tx._state.db = "default"


def _replay(existing, transaction_type, data):
    if existing.pipeline_name == transaction_type and _same_json(existing.input, data):
        return existing, False
    raise DuplicateExternalId(tx_id=existing.pk)


@retry_on_deadlock
def transaction_cancel(*, tx_id, actor, reason="", owner=None):
    """Cancel: queued or sleeping at once; running is marked and ends when its step returns."""
    now = clock.now()
    with transaction.atomic():
        tx = lock_tx(tx_id, owner=owner)
        if is_terminal(tx.status):
            raise TransactionFinished("The transaction has already finished.")
        if tx.status == TxStatus.RUNNING:
            if not tx.cancel_requested:
                tx.cancel_requested = True
                tx.updated_at = now
                tx.save(update_fields=["cancel_requested", "updated_at"])
                journal(tx.pk, "cancel_requested", actor, now, step=tx.step_name, reason=reason)
        else:
            finish_now(tx, TxStatus.CANCELLED, actor=actor, now=now, note=f"Cancelled: {reason}" if reason
                       else "Cancelled", reason=reason)
    return tx


def transaction_wake(*, tx_id, actor, reason="", owner=None):
    """Wake a sleeping transaction now, as if its timer had fired."""
    now = clock.now()
    with transaction.atomic():
        tx = lock_tx(tx_id, owner=owner)
        if tx.status != TxStatus.SLEEPING:
            raise NotSleeping()
        wake(tx, actor=actor, now=now, why=f"wake now: {reason}" if reason else "wake now", reason="wake_now")
    return tx


def transaction_retry(*, tx_id, actor, reason="", deadline=None, owner=None):
    """Run a failed, aborted, timed-out or internal-error transaction again from the step that ended it."""
    now = clock.now()
    new_deadline = durations.resolve_deadline(deadline, now)
    with transaction.atomic():
        tx = lock_tx(tx_id, owner=owner)
        if tx.status not in TX_RETRYABLE:
            raise NotRetryable(f"A {tx.status} transaction cannot be retried.")
        if new_deadline is not None:
            tx.deadline_at = new_deadline
        elif tx.deadline_at is not None and tx.deadline_at <= now:
            raise NotRetryable("Its deadline has passed: give a new deadline to retry it.")
        tx.cancel_requested = False
        tx.output = None
        tx.completed_at = None
        tx.visit += 1
        tx.visit_started_at = None
        tx.retry_count = 0
        tx.attempt = 1
        tx.save(update_fields=["deadline_at", "cancel_requested", "output", "completed_at", "visit",
                               "visit_started_at", "retry_count", "attempt"])
        move(tx, TxStatus.QUEUED, actor=actor, now=now, kind="retry", reason=reason,
             deadline_at=tx.deadline_at.isoformat() if tx.deadline_at else None)
    return tx


def transaction_set_deadline(*, tx_id, deadline, actor, reason="", owner=None):
    """Move (or clear, with None) the deadline of an unfinished transaction."""
    now = clock.now()
    deadline_at = durations.resolve_deadline(deadline, now)
    with transaction.atomic():
        tx = lock_tx(tx_id, owner=owner)
        if is_terminal(tx.status):
            raise TransactionFinished("The deadline of a finished transaction cannot move.")
        previous = tx.deadline_at
        tx.deadline_at = deadline_at
        tx.updated_at = now
        tx.save(update_fields=["deadline_at", "updated_at"])
        journal(tx.pk, "deadline", actor, now, step=tx.step_name, reason=reason,
                previous=previous.isoformat() if previous else None,
                deadline_at=tx.deadline_at.isoformat() if tx.deadline_at else None)
    return tx


def transaction_progress(*, tx_id, report, lease):
    """Replace the transaction's progress report (from a running step)."""
    from engine.services.webhooks import webhook_enqueue

    now = clock.now()
    with transaction.atomic():
        tx = lock_fenced(lease)
        tx.progress = report
        tx.updated_at = now
        tx.save(update_fields=["progress", "updated_at"])
        webhook_enqueue(tx, event="transaction.progress", now=now)
