"""The checkpoint that goes on: the step ended and the next one starts under the same lease, in one commit
(the transaction stays running). Or the transaction is parked before a step it will run later.

`advance_fast` is the common case in one statement on PostgreSQL: one conditional UPDATE of the
transaction row is the lease fence, the row lock and every check of the general path at once (same
lease and step run, running, no cancel request, the deadline it knew and not passed, its node group not
paused); then the step run ends and the next one starts. If the UPDATE matches no row, nothing was
written and the general path (`engine.services.routing` with `continue_here`) decides: lease lost,
cancel, deadline, pause, or a deadline moved while the step ran. The general path reads the whole row
back; this one knows every value already from the Run it holds, which the UPDATE's conditions guarantee.
"""
from dataclasses import replace

from engine.services import statements
from engine.services.runs import begin_run, lease_until, step_definition
from engine.states import TxStatus

# The only status a checkpoint advances from (and stays in).
HELD = (str(TxStatus.RUNNING),)


def advance_fast(run, *, route, output, status, note, error, logs, now, outcome=None):
    """End `run` with `status` (and `outcome`, a named outcome's name) and start step `route` in this worker,
    in one statement (PostgreSQL): the next Run, or None when a condition of this path does not hold (then
    nothing was written)."""
    if not statements.fast_paths():
        return None
    if run.deadline_at is not None and run.deadline_at <= now:
        return None
    step = step_definition(version_id=run.version_id, step_name=route)
    values = {"route": route, "step_type": step["type"], "lease_expires_at": lease_until(now), "output": output,
              "status": status, "outcome": outcome, "note": note, "error": error, "logs": logs or [], "now": now}
    run_id = _checkpoint_postgres(run, values)
    if run_id is None:
        return None
    return replace(
        run, step_name=route, step_type=step["type"], config=step.get("config") or {}, input=output,
        seq=run.seq + 1, run_id=run_id, visit=run.visit + 1, retry_count=0, attempt=1,
        visit_started_at=now, started_at=now, sleep_seconds=0.0, wake_reason=None, seen_globals={},
    )


# One statement, so one round trip and atomic without BEGIN and COMMIT: the step run ends and the next one
# is inserted only if the fenced UPDATE of the transaction matched (`held` is empty otherwise).
CHECKPOINT_SQL = f"""
WITH held AS (
    UPDATE engine_transaction SET step_name = %(route)s, visit = %(visit)s, visit_started_at = %(now)s,
           retry_count = 0, attempt = 1, lease_expires_at = %(lease_expires_at)s, updated_at = %(now)s,
           step_seq = %(seq)s
     WHERE id = %(tx_id)s AND lease_token = %(token)s AND status IN {statements.sql_values(HELD)}
       AND step_seq = %(old_seq)s AND visit = %(old_visit)s AND NOT cancel_requested
       AND deadline_at IS NOT DISTINCT FROM %(deadline_at)s
       AND NOT EXISTS (SELECT 1 FROM engine_nodegroup g WHERE g.name = engine_transaction.node_group_id
                       AND g.paused)
    RETURNING id
), ended AS (
    UPDATE engine_steprun SET status = %(status)s, outcome = %(outcome)s, output = %(output)s, note = %(note)s,
           error = %(error)s, logs = %(logs)s, ended_at = %(now)s
     WHERE id = %(run_id)s AND EXISTS (SELECT 1 FROM held)
)
INSERT INTO engine_steprun (tx_id, seq, step, step_type, status, visit, attempt, retry_count, input, output,
                            note, error, logs, node, started_at, ended_at)
SELECT id, %(seq)s, %(route)s, %(step_type)s, 'running', %(visit)s, 1, 0, %(input)s, NULL, NULL, NULL,
       %(no_logs)s, %(node)s, %(now)s, NULL FROM held
RETURNING id
"""


def _checkpoint_postgres(run, values):
    output = statements.jsonb(values["output"])
    params = {**values, "tx_id": run.tx_id, "token": run.token, "old_seq": run.seq, "old_visit": run.visit,
              "seq": run.seq + 1, "visit": run.visit + 1, "deadline_at": run.deadline_at, "run_id": run.run_id,
              "node": run.node, "output": output, "input": output, "logs": statements.jsonb(values["logs"]),
              "no_logs": statements.jsonb([])}
    found = statements.rows(CHECKPOINT_SQL, params)
    return found[0][0] if found else None


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
