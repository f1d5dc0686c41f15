"""The common claim in one statement on PostgreSQL: the oldest queued transaction of a group starts running.

`tx_claim` asks this module first. One prepared statement locks the oldest queued transaction of the
group (skipping those other workers hold), marks it running under a new lease, journals the move and
inserts its step run, in one commit. It claims nothing, and the general path of
`engine.services.execution` decides, when the group is paused or has a concurrency limit, when nothing
is queued, or when only transactions whose deadline passed are (the general path ends those).
"""
import secrets

from engine.services import statements

CLAIM_SQL = """
WITH cand AS (
    SELECT t.id, t.step_seq, t.step_name, t.input, t.pending_input, t.wake_reason, t.visit_started_at
      FROM engine_transaction t
     WHERE t.node_group_id = %(group)s AND t.status = 'queued'
       AND (t.deadline_at IS NULL OR t.deadline_at > %(now)s)
       AND NOT EXISTS (SELECT 1 FROM engine_nodegroup g WHERE g.name = %(group)s
                       AND (g.paused OR g.max_concurrency IS NOT NULL))
     ORDER BY t.queued_at
     LIMIT 1
       FOR UPDATE OF t SKIP LOCKED
), claimed AS (
    UPDATE engine_transaction t
       SET status = 'running', lease_token = %(token)s, lease_expires_at = %(lease_expires_at)s,
           node = %(node)s, updated_at = %(now)s, step_seq = cand.step_seq + 1,
           visit_started_at = COALESCE(cand.visit_started_at, %(now)s), pending_input = NULL, wake_reason = NULL
      FROM cand
     WHERE t.id = cand.id
 RETURNING t.id, t.owner_id, t.node_group_id, t.version_id, t.step_name, t.step_seq, t.visit, t.retry_count,
           t.attempt, t.visit_started_at, t.deadline_at, t.metadata, t.pipeline_name, t.queued_at,
           cand.wake_reason AS old_wake_reason,
           COALESCE(cand.pending_input,
                    CASE WHEN cand.step_seq = 0 THEN cand.input
                         ELSE (SELECT s.input FROM engine_steprun s
                                WHERE s.tx_id = cand.id AND s.seq = cand.step_seq AND s.step = cand.step_name) END,
                    cand.input) AS step_input
), journaled AS (
    INSERT INTO engine_journalentry (tx_id, at, kind, actor, step, data)
    SELECT id, %(now)s, 'status', 'system', step_name,
           jsonb_build_object('from', 'queued', 'to', 'running', 'node', %(node)s::text)
      FROM claimed
), started AS (
    INSERT INTO engine_steprun (tx_id, seq, step, step_type, status, visit, attempt, retry_count, input, output,
                                note, error, logs, node, started_at, ended_at)
    SELECT c.id, c.step_seq, c.step_name,
           (SELECT s ->> 'type' FROM engine_pipelineversion v, jsonb_array_elements(v.definition -> 'steps') s
             WHERE v.version = c.version_id AND s ->> 'name' = c.step_name LIMIT 1),
           'running', c.visit, c.attempt, c.retry_count, c.step_input, NULL, NULL, NULL, '[]'::jsonb, %(node)s,
           %(now)s, NULL
      FROM claimed c
 RETURNING id
)
SELECT c.id, c.owner_id, c.node_group_id, c.version_id, c.step_name, c.step_seq, c.visit, c.retry_count,
       c.attempt, c.visit_started_at, c.deadline_at, c.metadata::text, c.pipeline_name, c.queued_at,
       c.old_wake_reason, c.step_input::text, started.id, %(token)s::text
  FROM claimed c, started
"""


def claim_postgres(*, node_group, node, now):
    """Claim the oldest claimable transaction of `node_group` in one statement; the Run, or None."""
    from engine.services.execution import Run, lease_until, step_definition

    token = secrets.token_hex(16)
    found = statements.rows(CLAIM_SQL, {"group": node_group, "node": node, "now": now, "token": token,
                                        "lease_expires_at": lease_until(now)})
    if not found:
        return None
    (tx_id, owner, group, version_id, step_name, seq, visit, retry_count, attempt, visit_started_at, deadline_at,
     metadata, pipeline, queued_at, wake_reason, step_input, run_id, token) = found[0]
    step = step_definition(version_id, step_name)
    return Run(
        tx_id=tx_id, owner=owner, token=token, node_group=group, version_id=version_id, step_name=step_name,
        step_type=step["type"], config=step.get("config") or {}, input=statements.loads(step_input),
        metadata=statements.loads(metadata), seq=seq, run_id=run_id, visit=visit, retry_count=retry_count,
        attempt=attempt, visit_started_at=visit_started_at, started_at=now, deadline_at=deadline_at, node=node,
        wake_reason=wake_reason, pipeline=pipeline, queued_at=queued_at,
    )
