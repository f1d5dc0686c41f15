"""Running steps, for the runtime: claim a queued transaction, renew the lease, and checkpoint each step's
outcome under it. The top of the run core: the transitions (engine.services.state) and what follows an
outcome (engine.services.routing) do the writes; the follow-ups of an end run here, after its transition.

The claim and every checkpoint are one database transaction each; ending step k and starting
step k+1 share one commit, so a step run always exists before its step runs.
"""
from django.db import transaction

from engine import clock
from engine.models import GlobalSwitch, Transaction
from engine.services import statements
from engine.services.common import journal, lock_fenced, retry_on_deadlock
from engine.services.followups import follow_up
from engine.services.retries import UNKNOWN, retry_verdict
from engine.services.routing import after_outcome, after_wait, routed
from engine.services.runs import Run, end_step_run, lease_until
from engine.services.state.advance import advance_fast
from engine.services.state.claim import CONTENDED, claim_fast, claim_one
from engine.services.state.finish import finish_fast
from engine.states import StepRunStatus, TxStatus
from engine.steps.outcomes import Outcome, Wait


def tx_claim(*, node_group, node="inline"):
    """Claim the oldest queued transaction of `node_group` and start its step run; None if none is ready."""
    if statements.fast_paths():
        run = claim_fast(node_group=node_group, node=node, now=clock.now())
        if run is not None:
            return run
    while True:
        now = clock.now()
        with transaction.atomic():
            claimed = claim_one(node_group=node_group, node=node, now=now)
            if claimed is CONTENDED:
                continue
            if claimed is None or isinstance(claimed, Run):
                return claimed
            follow_up(claimed, now=now)  # its deadline had passed: it ended, and the next one is claimed


def cancel_requested(*, tx_id):
    return Transaction.objects.filter(pk=tx_id).values_list("cancel_requested", flat=True).first() or False


def lease_renew(*, lease):
    """Extend a running step's lease (the heartbeat); False if the lease was lost."""
    now = clock.now()
    return bool(
        Transaction.objects.filter(pk=lease.tx_id, lease_token=lease.token, status=TxStatus.RUNNING)
        .update(lease_expires_at=lease_until(now))
    )


@retry_on_deadlock
def step_complete(*, run, outcome, logs=None, error=None, may_continue=True, raised=None):
    """Checkpoint a step's outcome; return the next Run if this worker goes on, else None.

    `outcome` is an Outcome, a Wait, or an Outcome of kind internal_error (with `error` the traceback and
    `raised` what the step raised: its retry policy decides whether it runs again).
    With `may_continue` false (the worker's node is stopping) the transaction goes back to the queue
    instead of running its next step, or a short sleep, on this worker.
    Raises LeaseLost if this worker no longer holds the transaction.
    """
    now = clock.now()
    if raised is None and error is not None and isinstance(outcome, Outcome) and outcome.kind == "internal_error":
        raised = UNKNOWN
    if isinstance(outcome, Outcome) and outcome.kind != "internal_error":
        leads = routed(run, outcome=outcome)
        output = outcome.output if outcome.output is not None else run.input
        if leads.route in (None, "end"):
            ended = finish_fast(run, target=leads.end, actor=f"step:{run.step_name}", output=output,
                                status=leads.status, outcome=leads.outcome, note=leads.note, error=error, logs=logs,
                                now=now)
            if ended is not None:
                follow_up(ended, now=now)
                return None
        elif may_continue:
            next_run = advance_fast(run, route=leads.route, output=output, status=leads.status, outcome=leads.outcome,
                                    note=leads.note, error=error, logs=logs, now=now)
            if next_run is not None:
                return next_run
    with transaction.atomic():
        if isinstance(outcome, Wait) and outcome.scope == "global" and outcome.switch:
            GlobalSwitch.objects.select_for_update().filter(owner_id=run.owner, name=outcome.switch).first()
        tx = lock_fenced(lease=run.lease)
        if raised is not None and isinstance(outcome, Outcome) and outcome.kind == "internal_error":
            verdict = retry_verdict(run, outcome=outcome, raised=raised, now=now)
            if verdict.wait is not None:
                end_step_run(run, status=StepRunStatus.INTERNAL_ERROR, now=now, note=outcome.note, error=error,
                              logs=logs)
                return after_wait(tx, run=run, wait=verdict.wait, now=now, may_continue=may_continue)
            outcome = verdict.outcome
            if verdict.reason is not None:
                journal(tx_id=tx.pk, kind="not_retried", actor="system", at=now, step=run.step_name,
                        reason=verdict.reason, exception=raised.name)
        if isinstance(outcome, Wait):
            end_step_run(run, status=StepRunStatus.SLEEPING, now=now, note=outcome.note, logs=logs)
            return after_wait(tx, run=run, wait=outcome, now=now, may_continue=may_continue)
        output = outcome.output if outcome.output is not None else run.input
        leads = routed(run, outcome=outcome)
        end_step_run(run, status=leads.status, now=now, output=output, note=leads.note, error=error, logs=logs,
                     outcome=leads.outcome)
        return after_outcome(tx, run=run, outcome=outcome, output=output, now=now, may_continue=may_continue)
