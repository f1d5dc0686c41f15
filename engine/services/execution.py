"""Running steps: claim a queued transaction, and checkpoint each step's outcome under the lease.

The claim and every checkpoint are one database transaction each; ending step k and starting
step k+1 share one commit, so a step run always exists before its step runs.
"""
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction

from engine import clock, conf
from engine.models import GlobalSwitch, NodeGroup, PipelineVersion, StepRun, Transaction
from engine.services import statements
from engine.services.common import Lease, journal, lock_fenced, retry_on_deadlock
from engine.services.moves import move
from engine.states import StepRunStatus, TxStatus
from engine.steps.outcomes import Outcome, Wait

_definitions = {}


def definition_of(version_id):
    """Return a version's definition; versions are immutable, so each is read once per process."""
    if version_id not in _definitions:
        _definitions[version_id] = PipelineVersion.objects.values_list("definition", flat=True).get(pk=version_id)
    return _definitions[version_id]


def step_definition(version_id, step_name):
    for step in definition_of(version_id)["steps"]:
        if step["name"] == step_name:
            return step
    raise KeyError(step_name)


@dataclass(frozen=True)
class Run:
    """A claimed step run, as the worker holding the lease knows it."""

    tx_id: str
    owner: str
    token: str
    node_group: str
    version_id: str
    step_name: str
    step_type: str
    config: dict
    input: dict
    metadata: dict
    seq: int
    run_id: int
    visit: int
    retry_count: int
    attempt: int
    visit_started_at: datetime
    started_at: datetime
    deadline_at: datetime | None
    node: str
    sleep_seconds: float = 0.0
    wake_reason: str | None = None
    seen_globals: dict = field(default_factory=dict)
    pipeline: str = ""
    queued_at: datetime | None = None

    @property
    def lease(self):
        return Lease(self.tx_id, self.token)


def lease_until(now):
    return now + timedelta(seconds=conf.get("LEASE_SECONDS"))


def begin_run(tx, *, step_input, now, node):
    """Insert the step run for `tx`'s current step and return the Run (inside the caller's atomic)."""
    step = step_definition(tx.version_id, tx.step_name)
    tx.step_seq += 1
    step_run = StepRun.objects.create(
        tx_id=tx.pk, seq=tx.step_seq, step=tx.step_name, step_type=step["type"], visit=tx.visit,
        attempt=tx.attempt, retry_count=tx.retry_count, input=step_input, node=node, started_at=now,
    )
    return Run(
        tx_id=tx.pk, owner=tx.owner_id, token=tx.lease_token, node_group=tx.node_group_id,
        version_id=tx.version_id, step_name=tx.step_name, step_type=step["type"],
        config=step.get("config") or {}, input=step_input, metadata=tx.metadata, seq=tx.step_seq,
        run_id=step_run.pk, visit=tx.visit, retry_count=tx.retry_count, attempt=tx.attempt,
        visit_started_at=tx.visit_started_at or now, started_at=now, deadline_at=tx.deadline_at, node=node,
        wake_reason=tx.wake_reason, pipeline=tx.pipeline_name, queued_at=tx.queued_at,
    )


def _claim_input(tx):
    if tx.pending_input is not None:
        return tx.pending_input
    if tx.step_seq == 0:  # step runs are numbered from 1: a transaction that never ran has none to read
        return tx.input
    last = StepRun.objects.filter(tx_id=tx.pk, seq=tx.step_seq).values("step", "input").first()
    if last is not None and last["step"] == tx.step_name:
        return last["input"]
    return tx.input


def _candidates(node_group):
    queryset = Transaction.objects.filter(node_group_id=node_group, status=TxStatus.QUEUED).order_by("queued_at")
    if connection.features.has_select_for_update_skip_locked:
        queryset = queryset.select_for_update(skip_locked=True)
    return list(queryset[:1])


def tx_claim(*, node_group, node="inline"):
    """Claim the oldest queued transaction of `node_group` and start its step run; None if none is ready."""
    from engine.services.claims import claim_postgres

    if statements.is_postgres():
        run = claim_postgres(node_group=node_group, node=node, now=clock.now())
        if run is not None:
            return run
    while True:
        now = clock.now()
        with transaction.atomic():
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
            step_input = _claim_input(tx)
            claimed = {"status": TxStatus.RUNNING, "lease_token": secrets.token_hex(16),
                       "lease_expires_at": lease_until(now), "node": node, "updated_at": now}
            # The step run's fields go into the same UPDATE as the claim; `tx` keeps their values as read,
            # which begin_run numbers and hands to the Run.
            started = {} if expired else {"step_seq": tx.step_seq + 1, "pending_input": None, "wake_reason": None,
                                          "visit_started_at": tx.visit_started_at or now}
            if not Transaction.objects.filter(pk=tx.pk, status=TxStatus.QUEUED).update(**claimed, **started):
                continue
            for name, value in claimed.items():
                setattr(tx, name, value)
            journal(tx.pk, "status", "system", now, step=tx.step_name, **{"from": "queued", "to": "running",
                                                                           "node": node})
            if expired:
                move(tx, TxStatus.TIMEOUT, actor="system", now=now, note="Deadline passed", output=step_input)
                continue
            return begin_run(tx, step_input=step_input, now=now, node=node)


def cancel_requested(*, tx_id):
    return Transaction.objects.filter(pk=tx_id).values_list("cancel_requested", flat=True).first() or False


def lease_renew(*, lease):
    """Extend a running step's lease (the heartbeat); False if the lease was lost."""
    now = clock.now()
    return bool(
        Transaction.objects.filter(pk=lease.tx_id, lease_token=lease.token, status=TxStatus.RUNNING)
        .update(lease_expires_at=lease_until(now))
    )


def end_step_run(run, *, status, now, output=None, note=None, error=None, logs=None):
    StepRun.objects.filter(pk=run.run_id).update(
        status=status, output=output, note=note, error=error, logs=logs or [], ended_at=now
    )


@retry_on_deadlock
def step_complete(*, run, outcome, logs=None, error=None, may_continue=True):
    """Checkpoint a step's outcome; return the next Run if this worker goes on, else None.

    `outcome` is an Outcome, a Wait, or an Outcome of kind internal_error (with `error` the traceback).
    With `may_continue` false (the worker's node is stopping) the transaction goes back to the queue
    instead of running its next step, or a short sleep, on this worker.
    Raises LeaseLost if this worker no longer holds the transaction.
    """
    from engine.services.checkpoints import checkpoint_continue, checkpoint_finish
    from engine.services.routing import after_outcome, after_wait, next_route, retry_policy_wait

    now = clock.now()
    if isinstance(outcome, Outcome) and outcome.kind != "internal_error":
        route = next_route(run, outcome)
        output = outcome.output if outcome.output is not None else run.input
        if route in (None, "end"):
            if checkpoint_finish(run, target=TxStatus.SUCCESS if route == "end" else outcome.kind,
                                 actor=f"step:{run.step_name}", output=output, status=outcome.kind,
                                 note=outcome.note, error=error, logs=logs, now=now):
                return None
        elif may_continue:
            next_run = checkpoint_continue(run, route=route, output=output, status=outcome.kind, note=outcome.note,
                                           error=error, logs=logs, now=now)
            if next_run is not None:
                return next_run
    with transaction.atomic():
        if isinstance(outcome, Wait) and outcome.scope == "global" and outcome.switch:
            GlobalSwitch.objects.select_for_update().filter(owner_id=run.owner, name=outcome.switch).first()
        tx = lock_fenced(run.lease)
        if isinstance(outcome, Outcome) and outcome.kind == "internal_error":
            policy_wait = retry_policy_wait(run, now=now, raised=error is not None)
            if policy_wait is not None:
                end_step_run(run, status=StepRunStatus.INTERNAL_ERROR, now=now, note=outcome.note, error=error,
                              logs=logs)
                return after_wait(tx, run, policy_wait, now=now, may_continue=may_continue)
        if isinstance(outcome, Wait):
            end_step_run(run, status=StepRunStatus.SLEEPING, now=now, note=outcome.note, logs=logs)
            return after_wait(tx, run, outcome, now=now, may_continue=may_continue)
        output = outcome.output if outcome.output is not None else run.input
        end_step_run(run, status=outcome.kind, now=now, output=output, note=outcome.note, error=error, logs=logs)
        return after_outcome(tx, run, outcome, output=output, now=now, may_continue=may_continue)
