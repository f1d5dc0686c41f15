"""The common checkpoints in few statements: a step succeeded (or routed on) and its next step runs here,
or the last step ended the transaction.

`step_complete` asks this module first. One conditional UPDATE of the transaction row is the lease
fence, the row lock and every check of the general path at once (same lease and step run, running,
no cancel request, the deadline it knew and not passed, its node group not paused); then the step run
ends and the next one starts, in the same commit. If the UPDATE matches no row, nothing was written and
the general path (`engine.services.routing`) decides: lease lost, cancel, deadline, pause, or a deadline
moved while the step ran. The general path reads the whole row back; this one knows every value already
from the Run it holds, which is what the UPDATE's conditions guarantee.

On PostgreSQL the transaction's end is one statement too (`checkpoint_finish`) when nothing else follows
it: no parent, no callback to report to, no webhook, and a success, failure or abort.
"""
from dataclasses import replace

from django.db import transaction
from django.db.models import Exists, OuterRef

from engine import notices
from engine.models import NodeGroup, StepRun, Transaction
from engine.services import statements
from engine.states import TxStatus


def checkpoint_continue(run, *, route, output, status, note, error, logs, now):
    """Checkpoint `run` ending with `status` and start step `route` in this worker; the next Run, or
    None when a condition of the fast path does not hold (then nothing was written)."""
    from engine.services.execution import lease_until, step_definition

    if run.deadline_at is not None and run.deadline_at <= now:
        return None
    step = step_definition(run.version_id, route)
    values = {"route": route, "step_type": step["type"], "lease_expires_at": lease_until(now), "output": output,
              "status": status, "note": note, "error": error, "logs": logs or [], "now": now}
    if statements.is_postgres():
        run_id = _checkpoint_postgres(run, values)
    else:
        run_id = _checkpoint_orm(run, values)
    if run_id is None:
        return None
    return replace(
        run, step_name=route, step_type=step["type"], config=step.get("config") or {}, input=output,
        seq=run.seq + 1, run_id=run_id, visit=run.visit + 1, retry_count=0, attempt=1,
        visit_started_at=now, started_at=now, sleep_seconds=0.0, wake_reason=None, seen_globals={},
    )


# One statement, so one round trip and atomic without BEGIN and COMMIT: the step run ends and the next one
# is inserted only if the fenced UPDATE of the transaction matched (`held` is empty otherwise).
CHECKPOINT_SQL = """
WITH held AS (
    UPDATE engine_transaction SET step_name = %(route)s, visit = %(visit)s, visit_started_at = %(now)s,
           retry_count = 0, attempt = 1, lease_expires_at = %(lease_expires_at)s, updated_at = %(now)s,
           step_seq = %(seq)s
     WHERE id = %(tx_id)s AND lease_token = %(token)s AND status = 'running' AND step_seq = %(old_seq)s
       AND visit = %(old_visit)s AND NOT cancel_requested AND deadline_at IS NOT DISTINCT FROM %(deadline_at)s
       AND NOT EXISTS (SELECT 1 FROM engine_nodegroup g WHERE g.name = engine_transaction.node_group_id
                       AND g.paused)
    RETURNING id
), ended AS (
    UPDATE engine_steprun SET status = %(status)s, output = %(output)s, note = %(note)s, error = %(error)s,
           logs = %(logs)s, ended_at = %(now)s
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


def _checkpoint_orm(run, values):
    now, route = values["now"], values["route"]
    group_paused = NodeGroup.objects.filter(pk=OuterRef("node_group_id"), paused=True)
    # The deadline the worker knew, compared as IS NOT DISTINCT FROM is on PostgreSQL.
    deadline = {"deadline_at": run.deadline_at} if run.deadline_at is not None else {"deadline_at__isnull": True}
    with transaction.atomic():
        held = Transaction.objects.filter(
            ~Exists(group_paused), pk=run.tx_id, lease_token=run.token, status=TxStatus.RUNNING,
            step_seq=run.seq, visit=run.visit, cancel_requested=False, **deadline,
        )
        if not held.update(step_name=route, visit=run.visit + 1, visit_started_at=now, retry_count=0, attempt=1,
                           lease_expires_at=values["lease_expires_at"], updated_at=now, step_seq=run.seq + 1):
            return None
        StepRun.objects.filter(pk=run.run_id).update(
            status=values["status"], output=values["output"], note=values["note"], error=values["error"],
            logs=values["logs"], ended_at=now,
        )
        step_run = StepRun.objects.create(
            tx_id=run.tx_id, seq=run.seq + 1, step=route, step_type=values["step_type"], visit=run.visit + 1,
            attempt=1, retry_count=0, input=values["output"], node=run.node, started_at=now,
        )
    return step_run.pk


FINISH_SQL = """
WITH held AS (
    UPDATE engine_transaction SET status = %(target)s, updated_at = %(now)s, lease_token = NULL,
           lease_expires_at = NULL, note = %(note)s, output = %(output)s, completed_at = %(now)s
     WHERE id = %(tx_id)s AND lease_token = %(token)s AND status = 'running' AND step_seq = %(seq)s
       AND visit = %(visit)s AND NOT cancel_requested AND deadline_at IS NOT DISTINCT FROM %(deadline_at)s
       AND parent_id IS NULL AND report_to_id IS NULL AND webhook_url IS NULL
    RETURNING id, step_name
), ended AS (
    UPDATE engine_steprun SET status = %(status)s, output = %(output)s, note = %(note)s, error = %(error)s,
           logs = %(logs)s, ended_at = %(now)s
     WHERE id = %(run_id)s AND EXISTS (SELECT 1 FROM held)
), journaled AS (
    INSERT INTO engine_journalentry (tx_id, at, kind, actor, step, data)
    SELECT id, %(now)s, 'status', %(actor)s, step_name,
           jsonb_build_object('from', 'running', 'to', %(target)s::text, 'note', %(note)s::text)
      FROM held
), unslept AS (
    DELETE FROM engine_sleeper WHERE tx_id IN (SELECT id FROM held)
)
SELECT id, CASE WHEN %(notify)s THEN pg_notify(%(channel)s, id) END FROM held
"""
FAST_FINISH = {TxStatus.SUCCESS, TxStatus.FAILED, TxStatus.ABORTED}


def checkpoint_finish(run, *, target, actor, output, status, note, error, logs, now):
    """End the transaction with `target` at `run`'s checkpoint in one statement (PostgreSQL); False when a
    condition of the fast path does not hold (then nothing was written and the general path decides)."""
    from engine.signals import send_finished

    if target not in FAST_FINISH or not statements.is_postgres():
        return False
    if run.deadline_at is not None and run.deadline_at <= now:
        return False
    found = statements.rows(FINISH_SQL, {
        "tx_id": run.tx_id, "token": run.token, "seq": run.seq, "visit": run.visit, "deadline_at": run.deadline_at,
        "run_id": run.run_id, "target": str(target), "status": status, "actor": actor, "now": now, "note": note,
        "error": error, "output": statements.jsonb(output), "logs": statements.jsonb(logs or []),
        "notify": notices.sends_notices(), "channel": notices.FINISHED_CHANNEL,
    })
    if not found:
        return False
    transaction.on_commit(lambda: send_finished(tx_id=run.tx_id, owner=run.owner, status=str(target)))
    return True
