"""The Python API for applications in the same Django project: thin wrappers over the services the
REST API uses, with the same typed errors, journaled with the actor `app:<name>`.

    from engine import client
    tx = client.start(owner="acme", transaction_type="order-approval", data={"order_id": 17})
    client.set_switch(owner="acme", tx_id=tx["tx_id"], name="approved", value=True)
"""
import time

from django.db import close_old_connections, connection

from engine import clock, conf, durations
from engine.selectors import JUST_STARTED, transaction_as_dict, transaction_get, transaction_list, transactions_as_dicts
from engine.selectors.fan_outs import fan_out_as_dict, fan_outs_page
from engine.selectors.schedules import schedule_as_dict, schedule_get, schedule_list
from engine.selectors.starts import start_results_as_dicts
from engine.services import bulk, callbacks, schedules, switches, transactions, version_moves
from engine.services import rewind as rewind_service
from engine.services.start_many import transaction_start_many as start_many_service

APP = "app:python"
PAGE = 500  # rows read at a time by the functions that return a whole list


def _actor(app):
    return f"app:{app}" if app else APP


def start(*, owner, transaction_type, data=None, metadata=None, external_id=None, deadline=None, webhook=None,
          webhook_progress=False, app=None):
    """Start a transaction; returns its object (an idempotent replay returns the existing one)."""
    tx, created = transactions.transaction_start(
        owner=owner, transaction_type=transaction_type, data=data, metadata=metadata, external_id=external_id,
        deadline=deadline, webhook=webhook, webhook_progress=webhook_progress, actor=_actor(app),
    )
    return transaction_as_dict(tx=tx, prefetched=JUST_STARTED if created else None)  # a replay reads them


def start_many(*, owner, transactions, app=None):
    """Start up to 1,000 transactions at once: each item a dict of `start`'s arguments (but `owner` and `app`).
    Returns the reply of POST /api/v1/transactions/batch: {"results": [{"index", "status", "transaction" or
    "error"}, ...], "created", "replayed", "failed"}; a bad item has its own error and stops no other one."""
    outcomes = start_many_service(owner=owner, transactions=transactions, actor=_actor(app))
    return start_results_as_dicts(outcomes=outcomes)


def get(*, owner, tx_id):
    return transaction_as_dict(tx=transaction_get(tx_id=tx_id, owner=owner))


def fan_outs(*, owner, tx_id):
    """Return the fan-outs of a transaction (util/map, ctx.start_children), oldest first, each as the API's
    fan-out object: its counts (`total`, `started`, `running`, `succeeded`, `failed`, `not_started`), its
    `outcome` once decided and its `summary` line."""
    tx = transaction_get(tx_id=tx_id, owner=owner)
    found, after = [], 0
    while rows := fan_outs_page(tx_id=tx.pk, after_id=after, limit=PAGE):
        found.extend(fan_out_as_dict(fan=fan) for fan in rows)
        after = rows[-1].pk
    return found


def children(*, owner, tx_id, fan_out=None, statuses=None, limit=None):
    """Return the children of a transaction (of one of its fan-outs if `fan_out`, with one of `statuses` if
    given), newest first, as transaction objects without payloads; at most `limit` of them (None: all)."""
    tx = transaction_get(tx_id=tx_id, owner=owner)
    found, before = [], None
    while limit is None or len(found) < limit:
        size = PAGE if limit is None else min(PAGE, limit - len(found))
        rows = transaction_list(owner=owner, parent_tx_id=tx.pk, fan_out=fan_out, statuses=statuses, before=before,
                                limit=size, payload=False)
        found.extend(transactions_as_dicts(txs=rows))
        if len(rows) < size:
            break
        before = rows[-1].created_at, rows[-1].pk
    return found


def wait(*, owner, tx_id, timeout="PT30S", poll_seconds=0.1):
    """Return the transaction once it has finished, or as it is when `timeout` (capped by DATP_MAX_WAIT) passes."""
    start_at = clock.now()
    limit = durations.capped_seconds(timeout, start_at, cap=conf.get("MAX_WAIT"), field="timeout")
    deadline = time.monotonic() + limit
    while True:
        tx = transaction_get(tx_id=tx_id, owner=owner)
        if tx.is_finished or time.monotonic() >= deadline:
            return transaction_as_dict(tx=tx)
        # Inside an atomic block (ATOMIC_REQUESTS) the check would close the caller's connection.
        if not connection.in_atomic_block:
            close_old_connections()
        time.sleep(poll_seconds)


def set_switch(*, owner, tx_id, name, value, reason="", app=None):
    return switches.switch_set(tx_id=tx_id, name=name, value=value, reason=reason, owner=owner,
                               actor=_actor(app), channel="python")


def set_global_switch(*, owner, name, value, reason="", app=None):
    return switches.global_switch_set(owner=owner, name=name, value=value, reason=reason, actor=_actor(app),
                                      channel="python")


def wake(*, owner, tx_id, reason="", app=None):
    return transaction_as_dict(tx=transactions.transaction_wake(tx_id=tx_id, owner=owner, reason=reason,
                                                                actor=_actor(app)))


def cancel(*, owner, tx_id, reason="", app=None):
    return transaction_as_dict(tx=transactions.transaction_cancel(tx_id=tx_id, owner=owner, reason=reason,
                                                                  actor=_actor(app)))


def retry(*, owner, tx_id, reason="", deadline=None, app=None):
    return transaction_as_dict(tx=transactions.transaction_retry(tx_id=tx_id, owner=owner, reason=reason,
                                                                 deadline=deadline, actor=_actor(app)))


def rewind(*, owner, tx_id, to_step, data=None, version=None, reason="", deadline=None, webhook_again=False,
           app=None):
    """Send a queued, sleeping or ended transaction back to `to_step` (engine.services.rewind)."""
    return transaction_as_dict(tx=rewind_service.transaction_rewind(
        tx_id=tx_id, owner=owner, to_step=to_step, data=data, version=version, reason=reason, deadline=deadline,
        webhook_again=webhook_again, actor=_actor(app)))


def preview_version_move(*, transaction_type, from_version, to_version, limit=100):
    """The dry run of moving `transaction_type`'s sleeping and queued transactions to another version."""
    return version_moves.version_move_preview(pipeline=transaction_type, from_version=from_version,
                                              to_version=to_version, limit=limit)


def move_version(*, transaction_type, from_version, to_version, reason="", app=None):
    """Start the bulk job that moves them (each on its own); return the job's id and counts."""
    job = bulk.version_move_start(pipeline=transaction_type, from_version=from_version, to_version=to_version,
                                  actor=_actor(app), reason=reason)
    return {"id": job.pk, "status": job.status, "total": job.total, "done": job.done, "skipped": job.skipped}


def update_callback(*, token, status, data=None, app=None):
    return callbacks.callback_update(token=token, status=status, data=data, actor=_actor(app))


# Schedules: the same fields as /api/v1/schedules; each function returns the schedule as the API shows it (its
# next runs, last runs and journal), or what happened (trigger, backfill).

def create_schedule(*, owner, name, transaction_type, app=None, **fields):
    """Create a schedule: `cron` or `interval`, and optionally data, timezone, start_at, end_at, overlap,
    catchup_window, jitter, paused, note, description (docs/schedules.md)."""
    schedules.schedule_create(owner=owner, name=name, transaction_type=transaction_type, actor=_actor(app), **fields)
    return get_schedule(owner=owner, name=name)


def get_schedule(*, owner, name):
    return schedule_as_dict(schedule_get(name=name, owners=owner), detail=True)


def list_schedules(*, owner):
    return schedule_list(owners=owner)


def update_schedule(*, owner, name, note="", app=None, **changes):
    schedules.schedule_update(name=name, owner=owner, actor=_actor(app), note=note, **changes)
    return get_schedule(owner=owner, name=name)


def pause_schedule(*, owner, name, note="", app=None):
    schedules.schedule_pause(name=name, owner=owner, actor=_actor(app), note=note)
    return get_schedule(owner=owner, name=name)


def resume_schedule(*, owner, name, note="", app=None):
    schedules.schedule_resume(name=name, owner=owner, actor=_actor(app), note=note)
    return get_schedule(owner=owner, name=name)


def delete_schedule(*, owner, name, app=None):
    schedules.schedule_delete(name=name, owner=owner, actor=_actor(app))


def trigger_schedule(*, owner, name, note="", app=None):
    """Run a schedule now, under its overlap policy: {"action": "started", "tx_id", "due_at"} or why not."""
    return schedules.schedule_trigger(name=name, owner=owner, actor=_actor(app), note=note)


def backfill_schedule(*, owner, name, start, end, overlap="allow", app=None):
    """Start a run for each due time from `start` to `end` (past, both included) that has none yet."""
    return schedules.schedule_backfill(name=name, owner=owner, actor=_actor(app), start=start, end=end,
                                       overlap=overlap)
