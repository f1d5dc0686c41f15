"""The claim: the oldest queued transaction of a node group starts running, with its step run, in one commit.

`claim_fast` is one prepared statement on PostgreSQL: it locks the oldest `limit` queued transactions of the
group (skipping those other workers hold), marks them running, each under a new lease, journals the moves
and inserts their step runs (a worker claims several at once under load: engine.runtime.executor). It claims
nothing, and `claim_one` (the general path, any database) decides, when the group is paused or has a
concurrency limit, when nothing is queued, or when the oldest queued transaction's deadline has passed (the
general path ends it, then claims the next). A younger candidate whose deadline passed is left queued: the
deadline duty ends it. A transaction whose worker was lost is claimed alone, when it is the oldest: a worker
killed by one step of its batch loses the whole batch, and each of those then runs alone once, so a step that
kills its worker uses up its own attempts and no other transaction's.
"""
import secrets

from django.db import connection

from engine.models import NodeGroup, Transaction
from engine.services import statements
from engine.services.common import journal
from engine.services.runs import Run, begin_run, claim_input, lease_until, step_definition
from engine.services.state import lite
from engine.services.state.move import check_sources, move
from engine.states import TxStatus, sources_for

SOURCES = check_sources(sources_for(TxStatus.RUNNING), target=TxStatus.RUNNING)
# A claim that lost its candidate to another worker between reading and writing it: try again.
CONTENDED = object()

CLAIM_SQL = f"""
WITH cand AS (
    SELECT t.id, t.step_seq, t.step_name, t.input, t.pending_input, t.wake_reason, t.visit_started_at,
           t.deadline_at, t.attempt, t.queued_at
      FROM engine_transaction t
     WHERE t.node_group_id = %(group)s AND t.status IN {statements.sql_values(SOURCES)}
       AND NOT EXISTS (SELECT 1 FROM engine_nodegroup g WHERE g.name = %(group)s
                       AND (g.paused OR g.max_concurrency IS NOT NULL))
     ORDER BY t.queued_at
     LIMIT %(limit)s
       FOR UPDATE OF t SKIP LOCKED
), head AS (
    -- A transaction whose worker was lost (attempt > 1) runs alone: whatever killed that worker (its own step
    -- perhaps) must not take a batch down with it again. It is claimed alone once it is the oldest.
    SELECT id, attempt > 1 AS alone FROM cand ORDER BY queued_at LIMIT 1
), claimed AS (
    UPDATE engine_transaction t
       SET status = 'running', lease_token = md5(%(token)s || t.id), lease_expires_at = %(lease_expires_at)s,
           node = %(node)s, updated_at = %(now)s, step_seq = cand.step_seq + 1,
           visit_started_at = COALESCE(cand.visit_started_at, %(now)s), pending_input = NULL, wake_reason = NULL
      FROM cand
     -- The oldest candidates are taken whatever their deadlines, and one whose deadline passed is not claimed
     -- here: alone, nothing is claimed and the general path ends it; among others, the deadline duty does.
     WHERE t.id = cand.id AND (cand.deadline_at IS NULL OR cand.deadline_at > %(now)s)
       AND (cand.id = (SELECT id FROM head) OR (cand.attempt = 1 AND NOT (SELECT alone FROM head)))
 RETURNING t.id, t.lease_token, t.owner_id, t.node_group_id, t.version_id, t.step_name, t.step_seq, t.visit,
           t.retry_count, t.attempt, t.visit_started_at, t.deadline_at, t.metadata, t.pipeline_name, t.queued_at,
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
 RETURNING id, tx_id
)
SELECT c.id, c.owner_id, c.node_group_id, c.version_id, c.step_name, c.step_seq, c.visit, c.retry_count,
       c.attempt, c.visit_started_at, c.deadline_at, c.metadata::text, c.pipeline_name, c.queued_at,
       c.old_wake_reason, c.step_input::text, started.id, c.lease_token,
       -- Nothing claimed and nothing for the general path to decide: no candidate (none queued, or all held by
       -- other workers' claims) and no concurrency cap to count against.
       NOT EXISTS (SELECT 1 FROM cand) AND NOT EXISTS (SELECT 1 FROM engine_nodegroup g WHERE g.name = %(group)s
                                                      AND g.max_concurrency IS NOT NULL AND NOT g.paused)
  FROM (SELECT 1) AS one LEFT JOIN (claimed c JOIN started ON started.tx_id = c.id) ON true
 ORDER BY c.queued_at
"""


# The same claim on SQLite: the candidates, then their UPDATE, journal entries and step runs (engine.services.state.lite).
CLAIM_SQLITE = lite.claim_sql(SOURCES)


def claim_fast(*, node_group, node, now, limit=1):
    """Claim the oldest `limit` claimable transactions of `node_group` in one statement (PostgreSQL; on SQLite a
    few in one database transaction): their Runs, oldest first; [] when nothing was written (then `claim_one`
    decides), or SETTLED when nothing was and the general path has nothing to decide either (no candidate, no
    concurrency cap)."""
    if statements.is_sqlite():
        found, settled = lite.claim(sql=CLAIM_SQLITE, node_group=node_group, node=node, now=now, limit=limit)
    else:
        found = statements.rows(CLAIM_SQL, {"group": node_group, "node": node, "now": now, "limit": limit,
                                            "token": secrets.token_hex(16), "lease_expires_at": lease_until(now)})
        found, settled = ([], found[0][-1]) if found[0][0] is None else (found, False)
    if not found:
        return SETTLED if settled else []
    return [_run(row, node=node, now=now) for row in found]


# What `claim_fast` returns when the queue holds nothing this worker could claim, by either path.
SETTLED = ()


def _run(row, *, node, now):
    (tx_id, owner, group, version_id, step_name, seq, visit, retry_count, attempt, visit_started_at, deadline_at,
     metadata, pipeline, queued_at, wake_reason, step_input, run_id, token, _settled) = row
    step = step_definition(version_id=version_id, step_name=step_name)
    return Run(
        tx_id=tx_id, owner=owner, token=token, node_group=group, version_id=version_id, step_name=step_name,
        step_type=step["type"], config=step.get("config") or {}, input=statements.loads(step_input),
        metadata=statements.loads(metadata), seq=seq, run_id=run_id, visit=visit, retry_count=retry_count,
        attempt=attempt, visit_started_at=visit_started_at, started_at=now, deadline_at=deadline_at, node=node,
        wake_reason=wake_reason, pipeline=pipeline, queued_at=queued_at,
    )


# The claim index's own condition (status = 'queued'): SQLite uses a partial index only for a query whose
# condition matches it, and a one-value IN does not (it scanned the whole table and sorted it for each claim).
QUEUED = {"status": SOURCES[0]} if len(SOURCES) == 1 else {"status__in": SOURCES}


def _candidates(node_group):
    queryset = Transaction.objects.filter(node_group_id=node_group, **QUEUED).order_by("queued_at")
    if connection.features.has_select_for_update_skip_locked:
        queryset = queryset.select_for_update(skip_locked=True)
    return list(queryset[:1])


def claim_one(*, node_group, node, now):
    """Claim the oldest queued transaction of `node_group` (in the caller's atomic block): its Run; None
    when the group is paused or full or nothing is queued; CONTENDED when another worker took the
    candidate first; or the `Finished` record of a candidate whose deadline had passed (it ends timed out
    instead, and its caller runs the follow-ups and claims again)."""
    group = NodeGroup.objects.filter(pk=node_group).first()
    if group is None or group.paused:
        return None
    if group.max_concurrency is not None:
        NodeGroup.objects.select_for_update().filter(pk=node_group).first()
        running = Transaction.objects.filter(node_group_id=node_group, status=TxStatus.RUNNING).count()
        if running >= group.max_concurrency:
            return None
    candidates = _candidates(node_group)
    if not candidates:
        return None
    # The candidate row is locked (PostgreSQL) or the write lock is held (SQLite's immediate
    # transactions), so it is current: apply the claim to it instead of reading it again.
    tx = candidates[0]
    expired = tx.deadline_at is not None and tx.deadline_at <= now
    step_input = claim_input(tx)
    claimed = {"status": TxStatus.RUNNING, "lease_token": secrets.token_hex(16),
               "lease_expires_at": lease_until(now), "node": node, "updated_at": now}
    # The step run's fields go into the same UPDATE as the claim; `tx` keeps their values as read,
    # which begin_run numbers and hands to the Run.
    started = {} if expired else {"step_seq": tx.step_seq + 1, "pending_input": None, "wake_reason": None,
                                  "visit_started_at": tx.visit_started_at or now}
    if not Transaction.objects.filter(pk=tx.pk, status__in=SOURCES).update(**claimed, **started):
        return CONTENDED
    for name, value in claimed.items():
        setattr(tx, name, value)
    journal(tx_id=tx.pk, kind="status", actor="system", at=now, step=tx.step_name,
            **{"from": "queued", "to": "running", "node": node})
    if expired:
        return move(tx, target=TxStatus.TIMEOUT, actor="system", now=now, note="Deadline passed", output=step_input)
    return begin_run(tx, step_input=step_input, now=now, node=node)
