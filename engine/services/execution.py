"""Running steps, for the runtime: claim a queued transaction, renew the lease, and checkpoint each step's
outcome under it. The top of the run core: the transitions (engine.services.state) and what follows an
outcome (engine.services.routing) do the writes; the follow-ups of an end run here, after its transition.

The claim and every checkpoint are one database transaction each; ending step k and starting
step k+1 share one commit, so a step run always exists before its step runs.
"""
import logging
from contextlib import nullcontext
from dataclasses import dataclass

from django.db import transaction

from engine import clock
from engine.errors import LeaseLost
from engine.models import GlobalSwitch, Transaction
from engine.services import statements
from engine.services.common import journal, lock_fenced, retry_on_deadlock
from engine.services.followups import follow_up
from engine.services.retries import UNKNOWN, retry_verdict
from engine.services.routing import after_outcome, after_wait, routed
from engine.services.runs import Run, StepEnd, end_step_run, lease_until
from engine.services.state.advance import advance_many
from engine.services.state.claim import CONTENDED, SETTLED, claim_fast, claim_one
from engine.services.state.finish import finish_many
from engine.states import StepRunStatus, TxStatus
from engine.steps.outcomes import Outcome, Wait

logger = logging.getLogger(__name__)


def tx_claim(*, node_group, node="inline"):
    """Claim the oldest queued transaction of `node_group` and start its step run; None if none is ready."""
    runs = tx_claim_many(node_group=node_group, node=node, limit=1)
    return runs[0] if runs else None


def tx_claim_many(*, node_group, node="inline", limit=1):
    """Claim up to `limit` of the oldest queued transactions of `node_group` (one statement on PostgreSQL, one
    database transaction on SQLite; one at a time on the general path), each with its step run started: their
    Runs, oldest first; [] if none is ready."""
    if statements.run_paths():
        runs = claim_fast(node_group=node_group, node=node, now=clock.now(), limit=limit)
        if runs or runs is SETTLED:
            return list(runs)
    while True:
        now = clock.now()
        with transaction.atomic():
            claimed = claim_one(node_group=node_group, node=node, now=now)
            if claimed is CONTENDED:
                continue
            if claimed is None:
                return []
            if isinstance(claimed, Run):
                return [claimed]
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


@dataclass(frozen=True)
class Ran:
    """A step that ran, for its checkpoint: its Outcome or Wait, and with an internal_error the traceback
    (`error`) and what the step raised (`raised`: its retry policy decides whether it runs again)."""

    run: Run
    outcome: object
    error: str | None = None
    logs: list | None = None
    raised: object = None


@retry_on_deadlock
def step_complete(*, run, outcome, logs=None, error=None, may_continue=True, raised=None):
    """Checkpoint a step's outcome; return the next Run if this worker goes on, else None.

    `outcome` is an Outcome, a Wait, or an Outcome of kind internal_error (with `error` the traceback and
    `raised` what the step raised: its retry policy decides whether it runs again).
    With `may_continue` false (the worker's node is stopping) the transaction goes back to the queue
    instead of running its next step, or a short sleep, on this worker.
    Raises LeaseLost if this worker no longer holds the transaction.
    """
    ran, now = Ran(run, outcome, error=error, logs=logs, raised=raised), clock.now()
    end = _fast_end(ran, may_continue=may_continue)
    if end is not None:
        written = _checkpoint_fast([end], now=now)
        if id(end) in written:
            return written[id(end)]
    return _checkpoint(ran, now=now, may_continue=may_continue)


def steps_complete(ran, *, may_continue=True):
    """Checkpoint the steps of several transactions (`Ran`s, one per transaction) together: the common
    checkpoints in one statement per transition (PostgreSQL), the others each in its own database transaction.
    Return, in order, the next Run of each where this worker goes on, else None (it ended, sleeps, went back
    to the queue, or its lease was lost: logged, its step's result discarded)."""
    now = clock.now()
    ends = [_fast_end(item, may_continue=may_continue) for item in ran]
    written = retry_on_deadlock(_checkpoint_fast)([end for end in ends if end is not None], now=now)
    nexts = []
    for item, end in zip(ran, ends, strict=True):
        if end is not None and id(end) in written:
            nexts.append(written[id(end)])
            continue
        try:
            nexts.append(retry_on_deadlock(_checkpoint)(item, now=clock.now(), may_continue=may_continue))
        except LeaseLost:
            logger.warning("%s: lease lost; the step's result is discarded", item.run.tx_id)
            nexts.append(None)
    return nexts


def _fast_end(ran, *, may_continue):
    """The StepEnd of an outcome a one-statement checkpoint may take (a step that ended, not raised, and goes
    on here or ends its transaction), else None: the general path decides."""
    outcome, run = ran.outcome, ran.run
    if not isinstance(outcome, Outcome) or outcome.kind == "internal_error":
        return None
    leads = routed(run, outcome=outcome)
    common = {"output": outcome.output if outcome.output is not None else run.input, "status": leads.status,
              "outcome": leads.outcome, "note": leads.note, "error": ran.error, "logs": ran.logs}
    if leads.route in (None, "end"):
        return StepEnd(run, target=leads.end, actor=f"step:{run.step_name}", **common)
    return StepEnd(run, route=leads.route, **common) if may_continue else None


def _checkpoint_fast(ends, *, now):
    """Write `ends` with the fast finish and advance (one statement each on PostgreSQL; on SQLite both in one
    database transaction, so one commit): {id(end): next Run or None} for each written (its finish's follow-ups
    done, after the writes); the others wrote nothing."""
    finishing = [end for end in ends if end.route is None]
    going = [end for end in ends if end.route is not None]
    with transaction.atomic() if ends and statements.is_sqlite() and statements.run_paths() else nullcontext():
        ended = finish_many(finishing, now=now)
        nexts = advance_many(going, now=now)
    written = {}
    for end, finished in zip(finishing, ended, strict=True):
        if finished is not None:
            follow_up(finished, now=now)
            written[id(end)] = None
    for end, next_run in zip(going, nexts, strict=True):
        if next_run is not None:
            written[id(end)] = next_run
    return written


def _checkpoint(ran, *, now, may_continue):
    """The general checkpoint of one step, in its own database transaction (see `step_complete`)."""
    run, outcome, error, logs, raised = ran.run, ran.outcome, ran.error, ran.logs, ran.raised
    if raised is None and error is not None and isinstance(outcome, Outcome) and outcome.kind == "internal_error":
        raised = UNKNOWN
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
