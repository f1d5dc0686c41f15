"""The run core's fast paths in SQLite's dialect: the claim, the checkpoint that goes on and the finish of a
worker's batch, each a few plain statements in one database transaction (BEGIN IMMEDIATE: SQLite's write
lock is held from the first statement, so what is read is current until the commit).

They are SQLite's spelling of the one-statement paths on PostgreSQL (claim.CLAIM_SQL, advance.CHECKPOINT_SQL,
finish.FINISH_SQL), not other paths: the same conditions (every fence in the WHERE of the UPDATE that writes
the transaction row), the same rows, and nothing for an item where a condition does not hold (nothing written;
the general path decides). The transition modules choose between the two spellings. SQLite has no data-modifying CTE: the UPDATE of the
transactions comes first with RETURNING, and the other rows are written only for those it returned. A batch's
rows travel as one JSON array (json_each), values already in the text Django stores, so every statement has
a fixed text. SQLite >= 3.35 (RETURNING).
"""
import json
from contextlib import nullcontext

from django.db import connection, transaction

from engine.models import JournalEntry, StepRun
from engine.services import statements
from engine.services.runs import lease_until, step_definition


def db_time(moment):
    """A datetime as this backend stores it (text, UTC), None as NULL."""
    return connection.ops.adapt_datetimefield_value(moment)


def read_time(value):
    """A datetime column read by a plain statement (naive, or text where SQLite lost its declared type) as
    Django reads it: aware, UTC."""
    return connection.ops.convert_datetimefield_value(value, None, connection)


def _json(model, column, value):
    """`value` as the text Django writes in the JSON column (None as SQL NULL where the column is nullable)."""
    return model._meta.get_field(column).get_db_prep_save(value, connection)


def _items(columns):
    """The SELECT that unpacks a JSON array parameter (`items`) into a row per element, one column each."""
    picked = ", ".join(f"json_extract(value, '$.{column}') AS {column}" for column in columns)
    return f"(SELECT {picked} FROM json_each(%(items)s))"


# Claim -------------------------------------------------------------------------------------------------------

def claim_sql(sources):
    status = f"= '{sources[0]}'" if len(sources) == 1 else f"IN {statements.sql_values(sources)}"
    # `= 'queued'` as the claim index's condition: SQLite uses its partial index only for that spelling.
    candidates = f"""
SELECT t.id, t.wake_reason,
       COALESCE(t.pending_input,
                CASE WHEN t.step_seq = 0 THEN t.input
                     ELSE (SELECT s.input FROM engine_steprun s
                            WHERE s.tx_id = t.id AND s.seq = t.step_seq AND s.step = t.step_name) END,
                t.input),
       t.deadline_at, t.attempt
  FROM engine_transaction t
 WHERE t.node_group_id = %(group)s AND t.status {status}
   AND NOT EXISTS (SELECT 1 FROM engine_nodegroup g WHERE g.name = %(group)s
                   AND (g.paused OR g.max_concurrency IS NOT NULL))
 ORDER BY t.queued_at
 LIMIT %(limit)s
"""
    claimed = f"""
UPDATE engine_transaction
   SET status = 'running', lease_token = lower(hex(randomblob(16))), lease_expires_at = %(lease_expires_at)s,
       node = %(node)s, updated_at = %(now)s, step_seq = step_seq + 1,
       visit_started_at = COALESCE(visit_started_at, %(now)s), pending_input = NULL, wake_reason = NULL
 WHERE id IN (SELECT value FROM json_each(%(ids)s)) AND status {status}
RETURNING id, owner_id, node_group_id, version_id, step_name, step_seq, visit, retry_count, attempt,
          visit_started_at, deadline_at, metadata, pipeline_name, queued_at, lease_token
"""
    return candidates, claimed, CAPPED_SQL


# Whether the general path has a claim to decide when no candidate was found: a concurrency cap to count against.
CAPPED_SQL = """SELECT 1 FROM engine_nodegroup g WHERE g.name = %(group)s AND g.max_concurrency IS NOT NULL
                AND NOT g.paused"""


JOURNAL_SQL = f"""
INSERT INTO engine_journalentry (tx_id, at, kind, actor, step, data)
SELECT tx_id, %(now)s, 'status', actor, step, data FROM {_items(("tx_id", "actor", "step", "data"))}
"""
START_RUNS_SQL = f"""
INSERT INTO engine_steprun (tx_id, seq, step, step_type, status, visit, attempt, retry_count, input, output,
                            note, error, logs, node, started_at, ended_at)
SELECT tx_id, seq, step, step_type, 'running', visit, attempt, retry_count, input, NULL, NULL, NULL, '[]', node,
       %(now)s, NULL
  FROM {_items(("tx_id", "seq", "step", "step_type", "visit", "attempt", "retry_count", "input", "node"))}
RETURNING tx_id, id
"""


def claim(*, sql, node_group, node, now, limit):
    """Claim the oldest `limit` claimable transactions of `node_group` in one database transaction: (rows as
    claim.CLAIM_SQL returns them, oldest first, and whether nothing was written with nothing for the general path
    to decide: no candidate and no concurrency cap)."""
    candidates_sql, claimed_sql, capped_sql = sql
    at = db_time(now)
    with transaction.atomic():
        candidates = statements.rows(candidates_sql, {"group": node_group, "limit": limit})
        if not candidates:
            return [], not statements.rows(capped_sql, {"group": node_group})
        # As on PostgreSQL: one whose deadline passed is left queued (the general path or the deadline duty ends
        # it), and one whose worker was lost (attempt > 1) is claimed alone, once it is the oldest.
        alone = candidates[0][4] > 1
        read = {tx_id: (wake_reason, step_input)
                for place, (tx_id, wake_reason, step_input, deadline, attempt) in enumerate(candidates)
                if (deadline is None or read_time(deadline) > now) and (place == 0 or (attempt == 1 and not alone))}
        if not read:
            return [], False
        claimed = statements.rows(claimed_sql, {
            "ids": json.dumps(list(read)), "lease_expires_at": db_time(lease_until(now)), "node": node, "now": at})
        if not claimed:
            return [], False
        statements.rows(JOURNAL_SQL, {"now": at, "items": json.dumps([
            {"tx_id": row[0], "actor": "system", "step": row[4],
             "data": _json(JournalEntry, "data", {"from": "queued", "to": "running", "node": node})} for row in claimed])})
        started = dict(statements.rows(START_RUNS_SQL, {"now": at, "items": json.dumps([
            {"tx_id": tx_id, "seq": seq, "step": step_name,
             "step_type": step_definition(version_id=version_id, step_name=step_name)["type"], "visit": visit,
             "attempt": attempt, "retry_count": retry_count, "input": read[tx_id][1], "node": node}
            for tx_id, _owner, _group, version_id, step_name, seq, visit, retry_count, attempt, *_ in claimed])}))
    rows = []
    for (tx_id, owner, group, version_id, step_name, seq, visit, retry_count, attempt, visit_started_at, deadline_at,
         metadata, pipeline, queued_at, token) in claimed:
        rows.append((tx_id, owner, group, version_id, step_name, seq, visit, retry_count, attempt,
                     read_time(visit_started_at), read_time(deadline_at), metadata, pipeline, read_time(queued_at),
                     read[tx_id][0], read[tx_id][1], started[tx_id], token, False))
    return sorted(rows, key=lambda row: row[13]), False


# Checkpoints -------------------------------------------------------------------------------------------------

def _fences(held):
    """The conditions of a checkpoint's UPDATE of its transaction row (`x`: its item): the lease, the status,
    the step run, no cancel request, the deadline it knew."""
    return f"""t.id = x.tx_id AND t.lease_token = x.token AND t.status IN {statements.sql_values(held)}
   AND t.step_seq = x.seq AND t.visit = x.visit AND NOT t.cancel_requested AND t.deadline_at IS x.deadline_at"""


def advance_sql(held):
    return f"""
UPDATE engine_transaction AS t
   SET step_name = x.route, visit = x.visit + 1, visit_started_at = %(now)s, retry_count = 0, attempt = 1,
       lease_expires_at = %(lease_expires_at)s, updated_at = %(now)s, step_seq = x.seq + 1
  FROM {_items(("tx_id", "token", "seq", "visit", "deadline_at", "route"))} AS x
 WHERE {_fences(held)}
   AND NOT EXISTS (SELECT 1 FROM engine_nodegroup g WHERE g.name = t.node_group_id AND g.paused)
RETURNING id
"""


def finish_sql(held, no_links):
    return f"""
UPDATE engine_transaction AS t
   SET status = x.target, updated_at = %(now)s, lease_token = NULL, lease_expires_at = NULL, note = x.note,
       output = x.output, completed_at = %(now)s
  FROM {_items(("tx_id", "token", "seq", "visit", "deadline_at", "target", "note", "output"))} AS x
 WHERE {_fences(held)} AND {no_links}
RETURNING id, step_name
"""


END_RUNS_SQL = f"""
UPDATE engine_steprun AS s
   SET status = x.run_status, outcome = x.outcome, output = x.output, note = x.note, error = x.error,
       logs = x.logs, ended_at = %(now)s
  FROM {_items(("run_id", "run_status", "outcome", "output", "note", "error", "logs"))} AS x
 WHERE s.id = x.run_id
"""
UNSLEEP_SQL = "DELETE FROM engine_sleeper WHERE tx_id IN (SELECT value FROM json_each(%(ids)s))"


def _item(end):
    """What both checkpoints' statements read of a StepEnd (JSON values as the text Django stores)."""
    run = end.run
    output = _json(StepRun, "output", end.output)
    return {"tx_id": run.tx_id, "token": run.token, "seq": run.seq, "visit": run.visit,
            "deadline_at": db_time(run.deadline_at), "run_id": run.run_id, "run_status": end.status,
            "outcome": end.outcome, "note": end.note, "error": end.error, "output": output,
            "logs": _json(StepRun, "logs", end.logs or [])}


def _atomic():
    """The caller's database transaction (a worker's batch checkpoints in one), else one of its own."""
    return nullcontext() if connection.in_atomic_block else transaction.atomic()


def _end_runs(items, now):
    if items:
        statements.rows(END_RUNS_SQL, {"now": now, "items": json.dumps(items)})


def advance(ends, *, sql, steps, now):
    """Checkpoint `ends` (StepEnds with a route), in the caller's database transaction if any: {tx_id: new step
    run id} for those written; the others wrote nothing."""
    at = db_time(now)
    items = {end.run.tx_id: {**_item(end), "route": end.route} for end in ends}
    with _atomic():
        return _advance(ends, items, sql=sql, steps=steps, now=now, at=at)


def _advance(ends, items, *, sql, steps, now, at):
    held = [tx_id for (tx_id,) in statements.rows(sql, {
        "items": json.dumps(list(items.values())), "now": at, "lease_expires_at": db_time(lease_until(now))})]
    if not held:
        return {}
    _end_runs([items[tx_id] for tx_id in held], at)
    by_tx = {end.run.tx_id: end for end in ends}
    return dict(statements.rows(START_RUNS_SQL, {"now": at, "items": json.dumps([
        {"tx_id": tx_id, "seq": by_tx[tx_id].run.seq + 1, "step": by_tx[tx_id].route,
         "step_type": steps[id(by_tx[tx_id])]["type"], "visit": by_tx[tx_id].run.visit + 1, "attempt": 1,
         "retry_count": 0, "input": items[tx_id]["output"], "node": by_tx[tx_id].run.node} for tx_id in held])}))


def finish(ends, *, sql, now):
    """End the transactions of `ends` (StepEnds with a target), in the caller's database transaction if any:
    {tx_id: target} for those written; the others wrote nothing."""
    at = db_time(now)
    # The transaction's output is the step run's (both nullable JSON columns: the same text).
    items = {end.run.tx_id: {**_item(end), "target": str(end.target), "actor": end.actor} for end in ends}
    with _atomic():
        return _finish(items, sql=sql, at=at)


def _finish(items, *, sql, at):
    held = dict(statements.rows(sql, {"items": json.dumps(list(items.values())), "now": at}))
    if not held:
        return {}
    _end_runs([items[tx_id] for tx_id in held], at)
    statements.rows(JOURNAL_SQL, {"now": at, "items": json.dumps([
        {"tx_id": tx_id, "actor": items[tx_id]["actor"], "step": step_name,
         "data": _json(JournalEntry, "data", {"from": "running", "to": items[tx_id]["target"],
                                          "note": items[tx_id]["note"]})} for tx_id, step_name in held.items()])})
    statements.rows(UNSLEEP_SQL, {"ids": json.dumps(list(held))})
    return {tx_id: items[tx_id]["target"] for tx_id in held}
