"""The checkpoint that goes on: the step ended and the next one starts under the same lease, in one commit
(the transaction stays running). Or the transaction is parked before a step it will run later.

`advance_many` is the common case in one statement on PostgreSQL, for one transaction (`advance_fast`) or
for the several a worker runs together (engine.runtime.executor): one conditional UPDATE of each
transaction row is the lease fence, the row lock and every check of the general path at once (same
lease and step run, running, no cancel request, the deadline it knew and not passed, its node group not
paused); then the step run ends and the next one starts. If the UPDATE matches no row, nothing was
written and the general path (`engine.services.routing` with `continue_here`) decides: lease lost,
cancel, deadline, pause, or a deadline moved while the step ran. The general path reads the whole row
back; this one knows every value already from the Run it holds, which the UPDATE's conditions guarantee.
"""
from dataclasses import replace

from engine.services import statements
from engine.services.runs import StepEnd, begin_run, lease_until, step_definition
from engine.services.state import lite
from engine.states import TxStatus

# The only status a checkpoint advances from (and stays in).
HELD = (str(TxStatus.RUNNING),)


def advance_fast(run, *, route, output, status, note, error, logs, now, outcome=None):
    """End `run` with `status` (and `outcome`, a named outcome's name) and start step `route` in this worker,
    in one statement (PostgreSQL): the next Run, or None when a condition of this path does not hold (then
    nothing was written)."""
    return advance_many([StepEnd(run, route=route, output=output, status=status, note=note, error=error, logs=logs,
                                 outcome=outcome)], now=now)[0]


def advance_many(ends, *, now):
    """Checkpoint several transactions' steps that go on (`StepEnd`s with a route) in one statement
    (PostgreSQL): for each, in order, its next Run, or None where a condition of this path does not hold (then
    nothing was written for it, and the general path decides)."""
    taken = [end for end in ends if statements.run_paths()
             and (end.run.deadline_at is None or end.run.deadline_at > now)]
    if not taken:
        return [None] * len(ends)
    steps = {id(end): step_definition(version_id=end.run.version_id, step_name=end.route) for end in taken}
    if statements.is_sqlite():
        found = lite.advance(taken, sql=CHECKPOINT_SQLITE, steps=steps, now=now)
        return [_next(end, steps.get(id(end)), found.get(end.run.tx_id), now) for end in ends]
    items = [{"tx_id": end.run.tx_id, "token": end.run.token, "old_seq": end.run.seq, "old_visit": end.run.visit,
              "deadline_at": statements.iso(end.run.deadline_at), "run_id": end.run.run_id, "route": end.route,
              "step_type": steps[id(end)]["type"], "run_status": end.status, "outcome": end.outcome,
              "note": end.note, "error": end.error, "output": end.output, "logs": end.logs or [], "node": end.run.node}
             for end in taken]
    found = dict(statements.rows(CHECKPOINT_SQL, {"items": statements.jsonb(items), "now": now,
                                                  "lease_expires_at": lease_until(now)}))
    return [_next(end, steps.get(id(end)), found.get(end.run.tx_id), now) for end in ends]


def _next(end, step, run_id, now):
    if run_id is None:
        return None
    return replace(
        end.run, step_name=end.route, step_type=step["type"], config=step.get("config") or {}, input=end.output,
        seq=end.run.seq + 1, run_id=run_id, visit=end.run.visit + 1, retry_count=0, attempt=1,
        visit_started_at=now, started_at=now, sleep_seconds=0.0, wake_reason=None, seen_globals={},
    )


# One statement, so one round trip and atomic without BEGIN and COMMIT: each step run ends and the next one
# is inserted only where the fenced UPDATE of its transaction matched (`held` lacks it otherwise). The rows
# are locked in id order first, so two statements over the same transactions (a heartbeat) never deadlock.
CHECKPOINT_SQL = f"""
WITH x AS MATERIALIZED (
    SELECT * FROM jsonb_to_recordset(%(items)s) AS x(
        tx_id text, token text, old_seq integer, old_visit integer, deadline_at timestamptz, run_id bigint,
        route text, step_type text, run_status text, outcome text, note text, error text, output jsonb,
        logs jsonb, node text)
), locked AS MATERIALIZED (
    SELECT t.id FROM engine_transaction t WHERE t.id IN (SELECT tx_id FROM x) ORDER BY t.id FOR NO KEY UPDATE
), held AS (
    UPDATE engine_transaction t SET step_name = x.route, visit = x.old_visit + 1, visit_started_at = %(now)s,
           retry_count = 0, attempt = 1, lease_expires_at = %(lease_expires_at)s, updated_at = %(now)s,
           step_seq = x.old_seq + 1
      FROM x
     WHERE t.id = x.tx_id AND t.id IN (SELECT id FROM locked) AND t.lease_token = x.token
       AND t.status IN {statements.sql_values(HELD)}
       AND t.step_seq = x.old_seq AND t.visit = x.old_visit AND NOT t.cancel_requested
       AND t.deadline_at IS NOT DISTINCT FROM x.deadline_at
       AND NOT EXISTS (SELECT 1 FROM engine_nodegroup g WHERE g.name = t.node_group_id AND g.paused)
    RETURNING x.*
), ended AS (
    UPDATE engine_steprun s SET status = h.run_status, outcome = h.outcome, output = h.output, note = h.note,
           error = h.error, logs = h.logs, ended_at = %(now)s
      FROM held h
     WHERE s.id = h.run_id
)
INSERT INTO engine_steprun (tx_id, seq, step, step_type, status, visit, attempt, retry_count, input, output,
                            note, error, logs, node, started_at, ended_at)
SELECT tx_id, old_seq + 1, route, step_type, 'running', old_visit + 1, 1, 0, output, NULL, NULL, NULL,
       '[]'::jsonb, node, %(now)s, NULL FROM held
RETURNING tx_id, id
"""

# The same checkpoint on SQLite (in the caller's database transaction: engine.services.state.lite).
CHECKPOINT_SQLITE = lite.advance_sql(HELD)


def continue_here(tx, *, run, step_input, now, step_name=None, retry_count=0):
    """Start the next step run in this worker, in the same commit as the end of the previous one."""
    if step_name is not None:
        tx.step_name = step_name
        tx.visit += 1
        tx.visit_started_at = now
    tx.retry_count = retry_count
    tx.attempt = 1
    tx.lease_expires_at = lease_until(now)
    tx.updated_at = now
    new_run = begin_run(tx, step_input=step_input, now=now, node=run.node)
    tx.save(update_fields=["step_name", "visit", "visit_started_at", "retry_count", "attempt",
                           "lease_expires_at", "updated_at", "step_seq"])
    return new_run


def park(tx, *, route, output):
    """Leave the transaction before step `route`, holding its input (a paused group, or a retry later)."""
    tx.step_name = route
    tx.visit += 1
    tx.visit_started_at = None
    tx.retry_count = 0
    tx.attempt = 1
    tx.pending_input = output
    tx.save(update_fields=["step_name", "visit", "visit_started_at", "retry_count", "attempt", "pending_input"])
