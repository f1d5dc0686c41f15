"""Runs: what a worker holds while it runs a step (the Run and its lease), pipeline definitions, and the
step-run rows. The bottom of the run core: the state layer and the callers above it build on this."""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from engine import conf
from engine.models import PipelineVersion, StepRun
from engine.services.common import Lease

_definitions = {}


def definition_of(*, version_id):
    """Return a version's definition; versions are immutable, so each is read once per process."""
    if version_id not in _definitions:
        _definitions[version_id] = PipelineVersion.objects.values_list("definition", flat=True).get(pk=version_id)
    return _definitions[version_id]


def step_definition(*, version_id, step_name):
    for step in definition_of(version_id=version_id)["steps"]:
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


@dataclass(frozen=True)
class StepEnd:
    """How a step ended, for its checkpoint: the step run's `status` (and `outcome`, a named outcome's name),
    and where the transaction goes: the next step (`route`) or an end (`target`, written by `actor`)."""

    run: Run
    output: object
    status: str
    note: str | None = None
    error: str | None = None
    logs: list | None = None
    outcome: str | None = None
    route: str | None = None
    target: str | None = None
    actor: str | None = None


def lease_until(now):
    return now + timedelta(seconds=conf.get("LEASE_SECONDS"))


def begin_run(tx, *, step_input, now, node):
    """Insert the step run for `tx`'s current step and return the Run (inside the caller's atomic)."""
    step = step_definition(version_id=tx.version_id, step_name=tx.step_name)
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


def claim_input(tx):
    """Return the input of the step a claimed transaction runs: its parked input, else the last run's of that step."""
    if tx.pending_input is not None:
        return tx.pending_input
    if tx.step_seq == 0:  # step runs are numbered from 1: a transaction that never ran has none to read
        return tx.input
    last = StepRun.objects.filter(tx_id=tx.pk, seq=tx.step_seq).values("step", "input").first()
    if last is not None and last["step"] == tx.step_name:
        return last["input"]
    return tx.input


def end_step_run(run, *, status, now, output=None, note=None, error=None, logs=None, outcome=None):
    """End the step run of `run` with `status` (and `outcome`, the name of a named outcome)."""
    StepRun.objects.filter(pk=run.run_id).update(
        status=status, outcome=outcome, output=output, note=note, error=error, logs=logs or [], ended_at=now
    )
