"""A parent's end cancels its quiet fan-out children in one statement per batch on PostgreSQL
(`cancel_quiet_children`), writing what `cancel` and the follow-ups write for each one by one: the
transaction cancelled with its last input as output, its "status" journal entry, its sleeper deleted, the
finished notice, and its end counted in its fan-out (item status, `failed` counter).

The same statement cancels the children of a decided fan-out that still run (fail fast, `any` decided) for
the parent's step (engine.services.fanout_cancel). Quiet: queued or sleeping (a running child is asked to stop at its checkpoint instead), a fan-out's child
(not a lone child, whose end may wake its parent), with nothing else to follow up: no callback to report
to, no webhook, no open callback, no unfinished child, no open fan-out of its own. The others (usually
none) go through the general path, one by one (engine.services.followups). Cancelling a 10,000-item map
one by one took about 13 statements per child.
"""
from engine import notices
from engine.services import statements
from engine.services.state.move import Finished, check_sources
from engine.states import CALLBACK_ACTIVE_VALUES, TX_ACTIVE_VALUES, TxStatus

SOURCES = check_sources([TxStatus.QUEUED, TxStatus.SLEEPING], target=TxStatus.CANCELLED)
BATCH = 1000

CANCEL_QUIET_SQL = f"""
WITH quiet AS (
    SELECT t.id, t.status AS source FROM engine_transaction t
     WHERE t.parent_id = %(parent)s AND t.status IN {statements.sql_values(SOURCES)}
       AND t.report_to_id IS NULL AND t.webhook_url IS NULL
       AND EXISTS (SELECT 1 FROM engine_fanoutitem i
                    WHERE i.child_id = t.id AND i.fan_out_id = COALESCE(%(fan_out)s, i.fan_out_id))
       AND NOT EXISTS (SELECT 1 FROM engine_callback c
                        WHERE c.tx_id = t.id AND c.status IN {statements.sql_values(CALLBACK_ACTIVE_VALUES)})
       AND NOT EXISTS (SELECT 1 FROM engine_transaction k
                        WHERE k.parent_id = t.id AND k.status IN {statements.sql_values(TX_ACTIVE_VALUES)})
       AND NOT EXISTS (SELECT 1 FROM engine_fanout f WHERE f.tx_id = t.id AND f.decided_at IS NULL)
     ORDER BY t.id LIMIT %(limit)s
       FOR UPDATE OF t
), ended AS (
    UPDATE engine_transaction t SET status = 'cancelled', updated_at = %(now)s, lease_token = NULL,
           lease_expires_at = NULL, note = %(note)s, completed_at = %(now)s,
           output = COALESCE((SELECT r.input FROM engine_steprun r WHERE r.tx_id = t.id ORDER BY r.seq DESC LIMIT 1),
                             t.input)
      FROM quiet WHERE t.id = quiet.id
    RETURNING t.id, quiet.source, t.step_name, t.owner_id
), journaled AS (
    INSERT INTO engine_journalentry (tx_id, at, kind, actor, step, data)
    SELECT id, %(now)s, 'status', %(actor)s, step_name,
           jsonb_build_object('from', source, 'to', 'cancelled', 'note', %(note)s::text, 'reason', %(reason)s::text)
      FROM ended
), unslept AS (
    DELETE FROM engine_sleeper s USING ended WHERE s.tx_id = ended.id
), counted AS (
    UPDATE engine_fanoutitem i SET status = 'cancelled' FROM ended WHERE i.child_id = ended.id AND i.status IS NULL
    RETURNING i.fan_out_id
), tallied AS (
    UPDATE engine_fanout f SET failed = f.failed + n.ended
      FROM (SELECT fan_out_id, count(*) AS ended FROM counted GROUP BY fan_out_id) n WHERE f.id = n.fan_out_id
)
SELECT id, owner_id, CASE WHEN %(notify)s THEN pg_notify(%(channel)s, id) END FROM ended
"""


def cancel_quiet_children(parent_id, *, actor, now, reason, fan_out_id=None):
    """Cancel the quiet fan-out children of `parent_id` (ending, locked by the caller; or with a decided
    `fan_out_id`, the children of that fan-out only), in batches: their `Finished` records (without rows: they
    have no follow-up beyond the finished signal). Only on PostgreSQL with the fast paths on; elsewhere none
    (the general path cancels each)."""
    if not statements.fast_paths():
        return []
    note = f"Cancelled: {reason}" if reason else "Cancelled"
    params = {"parent": parent_id, "fan_out": fan_out_id, "limit": BATCH, "now": now, "note": note, "actor": actor, "reason": reason,
              "notify": notices.sends_notices(), "channel": notices.FINISHED_CHANNEL}
    ended = []
    while True:
        rows = statements.rows(CANCEL_QUIET_SQL, params)
        ended += [Finished(tx_id=tx_id, owner=owner, status=str(TxStatus.CANCELLED)) for tx_id, owner, _ in rows]
        if len(rows) < BATCH:
            return ended
