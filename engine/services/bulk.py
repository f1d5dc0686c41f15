"""Bulk actions over a filtered set of transactions: a bounded preview count, and jobs done in batches.

Each batch is one database transaction that calls the single-transaction service for every row (so
each gets the same status move and journal entry) and moves the job's keyset cursor with it: a node
that dies mid-batch loses the whole batch, and the next run goes on where the last commit left it.
"""
import logging
import time

from django.db import DatabaseError, transaction
from django.db.models import Q

from engine import clock, conf, durations
from engine.errors import DatpError, InvalidRequest
from engine.limits import REASON_MAX
from engine.models import BulkJob
from engine.selectors import iso, transactions_matching
from engine.services import switches, transactions, version_moves
from engine.states import (
    TX_ACTIVE,
    TX_MOVABLE,
    TX_RETRYABLE,
    BulkAction,
    BulkJobStatus,
    TxStatus,
)

logger = logging.getLogger("engine.bulk")

COUNT_CAP = 100_000
# A node gives bulk jobs about this much of each second, so the engine's other loops keep their pace.
NODE_BUDGET_SECONDS = 0.5
OPEN = (BulkJobStatus.PENDING, BulkJobStatus.RUNNING)
TIMESTAMP_FILTERS = ("created_after", "created_before")
# The statuses each action applies to; the filter's own statuses only narrow these.
ELIGIBLE = {
    BulkAction.WAKE: frozenset({TxStatus.SLEEPING}),
    BulkAction.RETRY: TX_RETRYABLE,
    BulkAction.CANCEL: TX_ACTIVE,
    BulkAction.SET_SWITCH: TX_ACTIVE,
    BulkAction.CLEAR_SWITCH: TX_ACTIVE,
    BulkAction.MOVE_VERSION: TX_MOVABLE,
}
# What each action keeps of the parameters it is given.
PARAMS = {BulkAction.SET_SWITCH: ("name", "value"), BulkAction.CLEAR_SWITCH: ("name",),
          BulkAction.MOVE_VERSION: ("to_version",)}


def _stored(filters):
    """Return the filters as JSON (timestamps as ISO strings), for the job row."""
    return {name: iso(value) if name in TIMESTAMP_FILTERS else value
            for name, value in filters.items() if value not in (None, "", [])}


def _loaded(filters):
    return {name: durations.parse_timestamp(value) if name in TIMESTAMP_FILTERS else value
            for name, value in filters.items()}


def bulk_matching(*, action, owners, filters, upto=None):
    """Return the transactions `action` applies to among those `filters` (transaction_list's filters) match,
    within `owners` (None: every owner), created at or before `upto` if given; unordered."""
    filters = dict(filters)
    eligible = {str(status) for status in ELIGIBLE[BulkAction(action)]}
    wanted = eligible & set(filters.pop("statuses", None) or eligible)
    queryset = transactions_matching(owners=owners, statuses=sorted(wanted), **filters)
    if not wanted:
        return queryset.none()
    if upto is not None:
        queryset = queryset.filter(created_at__lte=upto)
    return queryset


def bulk_preview(*, action, owners, filters):
    """Count the transactions `action` would apply to: {"count": n, "more": whether there are more than
    COUNT_CAP (then count is COUNT_CAP)}. Counts over a LIMIT subquery, never the whole table."""
    found = bulk_matching(action=action, owners=owners, filters=filters).values("pk")[:COUNT_CAP + 1].count()
    return {"count": min(found, COUNT_CAP), "more": found > COUNT_CAP, "cap": COUNT_CAP}


def bulk_params_check(*, action, params, reason, filters=None):
    """Refuse a bulk action's parameters as the single action would: InvalidRequest naming each field."""
    if action not in BulkAction.values:
        raise InvalidRequest("No such bulk action.", fields={"action": [f"One of {', '.join(BulkAction.values)}."]})
    fields = {}
    if action == BulkAction.MOVE_VERSION:
        _move_check(params, filters or {})
    if len(reason) > REASON_MAX:
        fields["reason"] = [f"At most {REASON_MAX} characters."]
    if action == BulkAction.CANCEL and not reason.strip():
        fields["reason"] = ["A reason is required to cancel."]
    if action in (BulkAction.SET_SWITCH, BulkAction.CLEAR_SWITCH):
        checks = [("name", lambda: switches.validate_switch_name(name=params.get("name")))]
        if action == BulkAction.SET_SWITCH:
            checks.append(("value", lambda: switches.validate_switch_value(value=params.get("value"))))
        for name, check in checks:
            try:
                check()
            except InvalidRequest as exc:
                fields[name] = [exc.message]
    if fields:
        raise InvalidRequest("The bulk action has invalid fields.", fields=fields)


def _move_check(params, filters):
    """A version move names one pipeline and the version it moves from (filters), and the one it moves to."""
    if not filters.get("transaction_type") or not filters.get("version"):
        raise InvalidRequest("A version move needs the pipeline and the version it moves from.",
                             fields={"filters": ["transaction_type and version are required."]})
    version_moves.versions_of(pipeline=filters["transaction_type"], from_version=filters["version"],
                              to_version=params.get("to_version"))


def bulk_job_create(*, action, owners, filters, actor, reason="", params=None):
    """Record a bulk action over the set `filters` match now (within `owners`, None = every owner).

    A set of at most DATP["BULK_INLINE_MAX"] transactions is done at once, in batches, before this
    returns; a larger one is left pending for the nodes (`bulk_jobs_run`). Returns the job.
    """
    params = {name: (params or {})[name] for name in PARAMS.get(action, ()) if name in (params or {})}
    bulk_params_check(action=action, params=params, reason=reason, filters=filters)
    now = clock.now()
    preview = bulk_preview(action=action, owners=owners, filters=filters)
    job = BulkJob.objects.create(
        action=action, owners=None if owners is None else sorted(owners), filters=_stored(filters), params=params,
        reason=reason, actor=actor, total=preview["count"] + (1 if preview["more"] else 0), created_at=now)
    if preview["count"] <= conf.get("BULK_INLINE_MAX") and not preview["more"]:
        while bulk_apply_batch(job_id=job.pk):
            pass
        job.refresh_from_db()
    return job


def _apply(job, tx_id):
    """Do the job's action to one transaction as the single action does; False when it did not apply."""
    common = {"tx_id": tx_id, "actor": job.actor, "reason": job.reason}
    try:
        if job.action == BulkAction.WAKE:
            transactions.transaction_wake(**common)
        elif job.action == BulkAction.RETRY:
            transactions.transaction_retry(**common)
        elif job.action == BulkAction.CANCEL:
            transactions.transaction_cancel(**common)
        elif job.action == BulkAction.MOVE_VERSION:
            version_moves.transaction_move_version(from_version=job.filters["version"],
                                                   to_version=job.params["to_version"], **common)
        else:
            value = job.params.get("value") if job.action == BulkAction.SET_SWITCH else None
            result = switches.switch_set(name=job.params["name"], value=value, channel="console", **common)
            return result["action"] != "unchanged"
    except DatpError:
        # It changed since it was picked (finished, woke, deadline passed): the service's savepoint
        # rolled its writes back, and it counts as skipped.
        return False
    return True


# The actions whose rows each move in a database transaction of their own (with the job's counters and cursor),
# so that a batch never holds a hundred transactions' locks against the nodes running them.
ALONE = frozenset({BulkAction.MOVE_VERSION})


def _next_rows(job):
    queryset = bulk_matching(action=job.action, owners=job.owners, filters=_loaded(job.filters), upto=job.created_at)
    if job.cursor:
        at, last_id = durations.parse_timestamp(job.cursor[0]), job.cursor[1]
        queryset = queryset.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=last_id))
    return list(queryset.order_by("-created_at", "-id").values_list("pk", "created_at")[:conf.get("BULK_BATCH")])


def _count(job, applied, row):
    if applied:
        job.done += 1
    else:
        job.skipped += 1
    job.cursor = [iso(row[1]), row[0]]


def bulk_apply_batch(*, job_id):
    """Do the next batch of an open job in one database transaction (or, for the ALONE actions, each row in
    one of its own); return whether more may follow.

    The job row is locked (skipped when another node holds it), so two nodes never share a batch.
    """
    with transaction.atomic():
        job = BulkJob.objects.select_for_update(skip_locked=True).filter(pk=job_id, status__in=OPEN).first()
        if job is None:
            return False
        now = clock.now()
        if job.status == BulkJobStatus.PENDING:
            job.status, job.started_at = BulkJobStatus.RUNNING, now
        rows = _next_rows(job)
        more = len(rows) == conf.get("BULK_BATCH")
        if job.action in ALONE:
            job.save()
        else:
            for row in rows:
                _count(job, _apply(job, row[0]), row)
            if not more:
                _finish(job, now)
            job.save()
            return more
    return _apply_alone(job, rows, more=more, now=now)


def _apply_alone(job, rows, *, more, now):
    """Apply the job to each of `rows` in its own database transaction, with the job's counters and cursor; stop
    where the job's cursor is no longer the one this batch left (another node took the job over)."""
    cursor = job.cursor
    for row in rows:
        with transaction.atomic():
            job = _still_at(job.pk, cursor)
            if job is None:
                return False
            _count(job, _apply(job, row[0]), row)
            job.save(update_fields=["done", "skipped", "cursor"])
            cursor = job.cursor
    if not more:
        with transaction.atomic():
            job = _still_at(job.pk, cursor)
            if job is not None:
                _finish(job, now)
                job.save()
    return more


def _still_at(job_id, cursor):
    """The running job, locked, if its cursor is still `cursor`; else None."""
    job = BulkJob.objects.select_for_update().filter(pk=job_id, status=BulkJobStatus.RUNNING).first()
    return job if job is not None and job.cursor == cursor else None


def _finish(job, now):
    # Those counted at the start that no longer matched were never picked: they are skipped too.
    job.skipped = max(job.skipped, (job.total or 0) - job.done)
    job.total = max(job.total or 0, job.done + job.skipped)
    job.status, job.finished_at = BulkJobStatus.DONE, now


def bulk_jobs_run(*, now=None, budget_seconds):
    """Run batches of open jobs, oldest first, until none is left or `budget_seconds` have passed (at
    least one batch runs); return how many batches ran. The nodes call this about once a second."""
    stop_at = time.monotonic() + budget_seconds
    ran = 0
    for job_id in BulkJob.objects.filter(status__in=OPEN).order_by("created_at", "id").values_list("pk", flat=True):
        more = True
        while more and (ran == 0 or time.monotonic() < stop_at):
            try:
                more = bulk_apply_batch(job_id=job_id)
            except DatabaseError:
                raise
            except Exception as exc:  # noqa: BLE001 - a job that cannot go on must stop, not fail every tick
                logger.exception("bulk job %s failed", job_id)
                BulkJob.objects.filter(pk=job_id).update(status=BulkJobStatus.FAILED, error=repr(exc)[:2000],
                                                         finished_at=now or clock.now())
                more = False
            ran += 1
        if time.monotonic() >= stop_at:
            break
    return ran


def version_move_start(*, pipeline, from_version, to_version, actor, reason="", owners=None):
    """Move the sleeping and queued transactions of `pipeline` on `from_version` to `to_version`: a bulk job whose
    total is the dry run's count (engine.services.version_moves), each transaction moved on its own."""
    return bulk_job_create(action=BulkAction.MOVE_VERSION, owners=owners, actor=actor, reason=reason,
                           filters={"transaction_type": pipeline, "version": from_version},
                           params={"to_version": to_version})
