"""A sleeping transaction is queued again: one (its timer, a switch, a callback, a child, an operator),
many at once, the due timers in one statement on PostgreSQL (`wake_due`), or on a switch's first value in
one statement (`wake_on_first_set`). A wake moves from sleeping only; the step runs again on its claim.
"""
from django.db import connection

from engine import notices
from engine.models import JournalEntry, Sleeper, Transaction
from engine.services import statements
from engine.services.common import dispatch_on_commit
from engine.services.state.move import check_sources, move, require_move
from engine.states import TxStatus

SOURCES = check_sources([TxStatus.SLEEPING], target=TxStatus.QUEUED)


def wake(tx, *, actor, now, why, reason="timer"):
    """Queue a sleeping transaction (locked by the caller); its step runs again (retry_count was
    raised when it went to sleep)."""
    Sleeper.objects.filter(tx_id=tx.pk).delete()
    tx.wake_reason = reason
    tx.save(update_fields=["wake_reason"])
    move(tx, target=TxStatus.QUEUED, actor=actor, now=now, kind="woken", why=why, reason=reason)


def woken_data(*, why, reason):
    """Return the data of the "woken" journal entry of a sleeping transaction queued again."""
    return {"from": str(TxStatus.SLEEPING), "to": str(TxStatus.QUEUED), "note": None, "why": why, "reason": reason}


def wake_many(txs, *, actor, now, why, reason="timer"):
    """Wake many sleeping transactions (locked by the caller) as `wake` does, in a few statements for them all:
    the same rows, the same journal entry for each, one work notice per node group."""
    for tx in txs:
        require_move(tx.status, target=TxStatus.QUEUED)
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
        dispatch_on_commit(node_group=node_group)


# `wake_many` for the due timers in one statement on PostgreSQL, writing the same rows: the earliest due
# sleepers and their transactions, both locked SKIP LOCKED (another node takes the next batch at the same
# time; a transaction a service holds is left for the next batch), those that still sleep and whose
# deadline has not passed queued, their sleepers deleted, one "woken" journal entry each. The statement
# never waits for a row lock, so it cannot deadlock with `wake` (transaction, then sleeper).
WAKE_DUE_SQL = f"""
WITH due AS (
    SELECT tx_id, wake_at FROM engine_sleeper WHERE wake_at <= %(now)s ORDER BY wake_at LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED
), held AS (
    SELECT t.id, due.wake_at FROM engine_transaction t JOIN due ON t.id = due.tx_id
     WHERE t.status IN {statements.sql_values(SOURCES)} AND (t.deadline_at IS NULL OR t.deadline_at > %(now)s)
       FOR UPDATE OF t SKIP LOCKED
), woken AS (
    UPDATE engine_transaction t SET status = 'queued', wake_reason = %(reason)s, updated_at = %(now)s,
           queued_at = %(now)s, lease_token = NULL, lease_expires_at = NULL
      FROM held WHERE t.id = held.id AND t.status IN {statements.sql_values(SOURCES)}
    RETURNING t.id, t.step_name, t.node_group_id, held.wake_at
), gone AS (
    DELETE FROM engine_sleeper s USING woken WHERE s.tx_id = woken.id
), journaled AS (
    INSERT INTO engine_journalentry (tx_id, at, kind, actor, step, data)
    SELECT id, %(now)s, 'woken', %(actor)s, step_name, %(data)s FROM woken
)
SELECT node_group_id, wake_at FROM woken
"""


def wake_due(*, now, limit, actor, why):
    """Wake up to `limit` sleepers whose timer came (in the caller's atomic block, which sends the work
    notices with it); return their wake_at, earliest first. One statement on PostgreSQL, else the due
    sleepers read and `wake_many`: the same rows."""
    if statements.fast_paths():
        return _wake_due_fast(now=now, limit=limit, actor=actor, why=why)
    due_sleepers = Sleeper.objects.due(now)
    if connection.features.has_select_for_update_skip_locked:
        due_sleepers = due_sleepers.select_for_update(skip_locked=True)  # another waker's batch, as the statement
    due = dict(due_sleepers.values_list("tx_id", "wake_at")[:limit])
    sleeping = Transaction.objects.filter(pk__in=list(due), status__in=SOURCES).only(
        "status", "step_name", "node_group_id", "deadline_at")  # what wake_many reads, not the JSON fields
    if connection.features.has_select_for_update_skip_locked:
        sleeping = sleeping.select_for_update(skip_locked=True)
    txs = [tx for tx in sleeping if tx.deadline_at is None or tx.deadline_at > now]
    wake_many(txs, actor=actor, now=now, why=why)
    return sorted(due[tx.pk] for tx in txs)


def _wake_due_fast(*, now, limit, actor, why, reason="timer"):
    rows = statements.rows(WAKE_DUE_SQL, {"now": now, "limit": limit, "reason": reason, "actor": actor,
                                          "data": statements.jsonb(woken_data(why=why, reason=reason))})
    for node_group in {node_group for node_group, _wake_at in rows}:
        dispatch_on_commit(node_group=node_group)
    return sorted(wake_at for _node_group, wake_at in rows)


def wake_if_waiting(*, tx_id, now, actor, why, reason=None, **condition):
    """Wake `tx_id` if it sleeps with a sleeper matching `condition` (callback_id=..., child_id=...,
    fan_out_id=...), for `reason` (by default callback or child, after the condition); return 1 if it was woken,
    else 0. The transaction is locked before its sleeper is read: a checkpoint putting it to sleep
    on this very callback or child (which found it not final yet) commits first, and its sleeper is then seen;
    read first, the sleeper could be missed, and the transaction would sleep on a final callback for ever."""
    tx = Transaction.objects.select_for_update().filter(pk=tx_id).first()
    if tx is None or tx.status != TxStatus.SLEEPING or not Sleeper.objects.filter(tx_id=tx_id, **condition).exists():
        return 0
    reason = reason or ("callback" if "callback_id" in condition else "child")
    wake(tx, actor=actor, now=now, why=why, reason=reason)
    return 1


FIRST_SET_SQL = f"""
WITH t AS (
    SELECT id, step_name, node_group_id FROM engine_transaction
     WHERE id = %(tx_id)s AND owner_id = COALESCE(%(owner)s, owner_id) AND status IN {statements.sql_values(SOURCES)}
       AND NOT EXISTS (SELECT 1 FROM engine_switch WHERE tx_id = %(tx_id)s AND name = %(name)s)
       AND EXISTS (SELECT 1 FROM engine_sleeper
                    WHERE tx_id = %(tx_id)s AND scope = 'transaction' AND switch = %(name)s)
       FOR UPDATE
), set AS (
    INSERT INTO engine_switch (tx_id, name, value, unread, set_at, set_by)
    SELECT id, %(name)s, %(value)s, true, %(now)s, %(actor)s FROM t
), woken AS (
    UPDATE engine_transaction SET status = 'queued', wake_reason = 'switch', updated_at = %(now)s,
           queued_at = %(now)s, lease_token = NULL, lease_expires_at = NULL
     WHERE id IN (SELECT id FROM t)
), unslept AS (
    DELETE FROM engine_sleeper WHERE tx_id IN (SELECT id FROM t)
), journaled AS (
    INSERT INTO engine_journalentry (tx_id, at, kind, actor, step, data)
    SELECT id, %(now)s, 'switch', %(actor)s, step_name,
           jsonb_build_object('name', %(name)s::text, 'value', %(value)s::jsonb, 'channel', %(channel)s::text,
                              'reason', %(reason)s::text) FROM t
    UNION ALL
    SELECT id, %(now)s, 'woken', %(actor)s, step_name, %(woken)s FROM t
)
SELECT id, CASE WHEN %(notify)s THEN pg_notify(%(channel_name)s, node_group_id) END FROM t
"""


def wake_on_first_set(*, tx_id, name, value, actor, channel, reason, owner, now):
    """Set the first value of the switch a sleeping transaction waits on and wake it, in one statement
    (PostgreSQL): the switch as set, or None when the case does not hold (nothing was written)."""
    if not statements.fast_paths():
        return None
    found = statements.rows(FIRST_SET_SQL, {
        "tx_id": tx_id, "owner": owner, "name": name, "value": statements.jsonb(value), "now": now, "actor": actor,
        "channel": channel, "reason": reason, "channel_name": notices.WORK_CHANNEL,
        "woken": statements.jsonb(woken_data(why=f"switch {name} set", reason="switch")),
        "notify": notices.sends_notices(),
    })
    if not found:
        return None
    return {"name": name, "value": value, "set_at": now, "set_by": actor, "unread": True}
