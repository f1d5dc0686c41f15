"""The common checkpoint in few statements: a step succeeded (or routed on) and its next step runs here.

`step_complete` asks this module first. One conditional UPDATE of the transaction row is the lease
fence, the row lock and every check of the general path at once (same lease and step run, running,
no cancel request, the deadline it knew and not passed, its node group not paused); then the step run
ends and the next one starts, in the same commit. If the UPDATE matches no row, nothing was written and
the general path (`engine.services.routing`) decides: lease lost, cancel, deadline, pause, or a deadline
moved while the step ran. The general path reads the whole row back; this one knows every value already
from the Run it holds, which is what the UPDATE's conditions guarantee.
"""
from dataclasses import replace

from django.db import transaction
from django.db.models import Exists, OuterRef

from engine.models import NodeGroup, StepRun, Transaction
from engine.states import TxStatus


def checkpoint_continue(run, *, route, output, status, note, error, logs, now):
    """Checkpoint `run` ending with `status` and start step `route` in this worker; the next Run, or
    None when a condition of the fast path does not hold (then nothing was written)."""
    from engine.services.execution import lease_until, step_definition

    if run.deadline_at is not None and run.deadline_at <= now:
        return None
    step = step_definition(run.version_id, route)
    group_paused = NodeGroup.objects.filter(pk=OuterRef("node_group_id"), paused=True)
    with transaction.atomic():
        held = Transaction.objects.filter(
            ~Exists(group_paused), pk=run.tx_id, lease_token=run.token, status=TxStatus.RUNNING,
            step_seq=run.seq, visit=run.visit, cancel_requested=False, deadline_at=run.deadline_at,
        ) if run.deadline_at is not None else Transaction.objects.filter(
            ~Exists(group_paused), pk=run.tx_id, lease_token=run.token, status=TxStatus.RUNNING,
            step_seq=run.seq, visit=run.visit, cancel_requested=False, deadline_at__isnull=True,
        )
        if not held.update(step_name=route, visit=run.visit + 1, visit_started_at=now, retry_count=0, attempt=1,
                           lease_expires_at=lease_until(now), updated_at=now, step_seq=run.seq + 1):
            return None
        StepRun.objects.filter(pk=run.run_id).update(
            status=status, output=output, note=note, error=error, logs=logs or [], ended_at=now
        )
        step_run = StepRun.objects.create(
            tx_id=run.tx_id, seq=run.seq + 1, step=route, step_type=step["type"], visit=run.visit + 1,
            attempt=1, retry_count=0, input=output, node=run.node, started_at=now,
        )
    return replace(
        run, step_name=route, step_type=step["type"], config=step.get("config") or {}, input=output,
        seq=run.seq + 1, run_id=step_run.pk, visit=run.visit + 1, retry_count=0, attempt=1,
        visit_started_at=now, started_at=now, sleep_seconds=0.0, wake_reason=None, seen_globals={},
    )
