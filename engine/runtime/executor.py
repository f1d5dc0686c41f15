"""The only caller of step types: claim ready transactions of a node group and run their steps,
checkpointing each outcome; consecutive steps stay on this worker, and under load a worker claims several
transactions at once and checkpoints their steps together."""
import logging
import time
import traceback
from collections import deque

from engine import clock, conf
from engine.errors import LeaseLost
from engine.runtime import faults, node_metrics
from engine.runtime.context import StepContext
from engine.services.execution import Ran, steps_complete, tx_claim_many
from engine.services.runs import Run
from engine.steps import hints, registry
from engine.steps.errors import Raised
from engine.steps.outcomes import Outcome, Wait, returned_problem

logger = logging.getLogger(__name__)


def invoke(run):
    """Run one step (its input checked against its step type's input_schema first); return (outcome,
    traceback or None, log lines, Raised or None: what it raised). Never raises for the step's faults."""
    step_type = registry.get(run.step_type)
    if step_type is None:
        hint = hints.unregistered_hint(run.step_type)
        note = f"Step type {run.step_type!r} is no longer registered" + (f": {hint}" if hint else "")
        return Outcome("internal_error", note), None, [], None
    ctx = StepContext(run, run.config)
    try:
        step_type.check_input(ctx.input)
        ctx.config = step_type.resolve_config(run.config, ctx.input, now=clock.now())
        outcome = step_type().invoke(ctx)
    except LeaseLost:
        raise
    except Exception as exc:  # a step's exception is data: recorded with its traceback (never a token)
        note = ctx.scrub(f"{type(exc).__name__}: {exc}")
        return Outcome("internal_error", note), ctx.scrub(traceback.format_exc()), ctx.log.lines, Raised.of(exc)
    if not isinstance(outcome, Outcome | Wait):
        note = f"Step {run.step_name!r} returned {type(outcome).__name__} instead of an outcome from ctx"
        return Outcome("internal_error", note), None, ctx.log.lines, None
    problem = returned_problem(step_type, run.config, outcome)
    if problem:
        return Outcome("internal_error", f"Step {run.step_name!r} returned {problem}"), None, ctx.log.lines, None
    return ctx.scrub_outcome(outcome), None, ctx.log.lines, None


def run_claimed(runs, *, watch=None, stop=None):
    """Run the claimed `runs` (a Run or several) and every step that follows each on this worker; a
    transaction leaves it when it ends, sleeps or goes back to the queue.

    The steps of several transactions are checkpointed together (`steps_complete`: one statement per
    transition on PostgreSQL): a step's checkpoint waits at most `DATP["BATCH_WINDOW_SECONDS"]` for the steps
    run after it, and never for a step expected to take longer than that (its type's recent time here),
    which runs only after the checkpoint of those before it. A lone transaction is checkpointed at once.
    `watch`, if given, is told which runs are current (the heartbeat renews their leases); once `stop()`
    says so, the transactions go back to the queue at their next checkpoint.
    Return whether a step took longer than the window (its sleep included): the claimed transactions behind
    it waited for it, so the worker's next claim takes one (`BatchSize`).
    """
    ready = deque([runs] if isinstance(runs, Run) else runs)
    ran, since, slow = [], None, False
    window = conf.get("BATCH_WINDOW_SECONDS")
    while ready or ran:
        if ran and (not ready or _checkpoint_first(ready[0], since, window)):
            ready.extend(run for run in steps_complete(ran, may_continue=stop is None or not stop()) if run)
            ran, since = [], None
            continue
        if watch is not None:
            watch([*ready, *(item.run for item in ran)])
        run = ready.popleft()
        if run.sleep_seconds:
            clock.sleep(run.sleep_seconds)
        began = time.monotonic()
        try:
            outcome, error, logs, raised = invoke(run)
        except LeaseLost:
            logger.warning("%s: lease lost; the step's result is discarded", run.tx_id)
            continue
        took = time.monotonic() - began
        slow = slow or took + run.sleep_seconds > window
        _took[run.step_type] = took if run.step_type not in _took else (_took[run.step_type] + took) / 2
        node_metrics.observe("step_seconds", (run.pipeline, run.step_name, getattr(outcome, "kind", "wait")), took)
        faults.hit(faults.AFTER_STEP_BEFORE_CHECKPOINT, run)
        ran.append(Ran(run, outcome, error=error, logs=logs, raised=raised))
        since = began if since is None else since
    if watch is not None:
        watch(None)
    return slow


# The recent time of each step type's run in this worker (seconds, a running average), which decides
# whether steps run before it wait for it to be checkpointed.
_took = {}


def _checkpoint_first(run, since, window):
    """Whether the steps that ran (since the monotonic time `since`) are checkpointed before `run` runs: they
    have waited long enough, or `run` sleeps first or is expected to take longer than the window."""
    expected = _took.get(run.step_type, window)
    return bool(run.sleep_seconds) or time.monotonic() - since + expected > window


class BatchSize:
    """How many transactions a worker claims at once: one while the queue is short (a claim found fewer than
    it asked for) or after a batch with a slow step (the transactions claimed behind it waited, where another
    worker might have run them), doubling while claims come back full, up to `DATP["BATCH_MAX"]`."""

    def __init__(self):
        self.size = 1

    def claimed(self, count, asked):
        self.size = min(self.size * 2, conf.get("BATCH_MAX")) if count >= asked else max(1, count)

    def slow(self):
        self.size = 1


_sizes = {}


def forget_batching():
    """Forget what this process learned about batches (claim sizes, step times), as a fresh worker process."""
    _sizes.clear()
    _took.clear()


def drain(*, node_group, node="inline", max_transactions=None, until=None, watch=None, stop=None):
    """Claim and run ready transactions of `node_group` until none is left (or `max_transactions`
    ran, the monotonic time `until` passed, or `stop()` says so); return (how many ran, whether the
    queue was found empty). Under load a claim takes several transactions at once (`BatchSize`)."""
    size = _sizes.setdefault(node_group, BatchSize())
    count = 0
    while max_transactions is None or count < max_transactions:
        if (until is not None and time.monotonic() >= until) or (stop is not None and stop()):
            return count, False
        asked = size.size if max_transactions is None else min(size.size, max_transactions - count)
        runs = tx_claim_many(node_group=node_group, node=node, limit=asked)
        if not runs:
            size.claimed(0, asked)
            return count, True
        size.claimed(len(runs), asked)
        for run in runs:
            faults.hit(faults.AFTER_CLAIM, run)
            node_metrics.observe("claims", (node_group,))
            if run.queued_at is not None:
                node_metrics.observe("queue_wait_seconds", (node_group,),
                                     (run.started_at - run.queued_at).total_seconds())
        if run_claimed(runs, watch=watch, stop=stop):
            size.slow()
        count += len(runs)
    return count, False
