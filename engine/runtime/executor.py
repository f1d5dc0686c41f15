"""The only caller of step types: claim ready transactions of a node group and run their steps,
checkpointing each outcome; consecutive steps stay on this worker."""
import logging
import time
import traceback

from engine import clock
from engine.errors import LeaseLost
from engine.runtime import faults, node_metrics
from engine.runtime.context import StepContext
from engine.services.execution import step_complete, tx_claim
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


def run_claimed(run, *, watch=None, stop=None):
    """Run `run` and every step that follows it on this worker; stop when the transaction leaves it.

    `watch`, if given, is told which run is current (the heartbeat renews its lease); once `stop()`
    says so, the transaction goes back to the queue at its next checkpoint.
    """
    while run is not None:
        if watch is not None:
            watch(run)
        if run.sleep_seconds:
            clock.sleep(run.sleep_seconds)
        try:
            began = time.monotonic()
            outcome, error, logs, raised = invoke(run)
            node_metrics.observe("step_seconds", (run.pipeline, run.step_name, getattr(outcome, "kind", "wait")),
                                 time.monotonic() - began)
            faults.hit(faults.AFTER_STEP_BEFORE_CHECKPOINT, run)
            may_continue = stop is None or not stop()
            run = step_complete(run=run, outcome=outcome, logs=logs, error=error, may_continue=may_continue,
                                raised=raised)
        except LeaseLost:
            logger.warning("%s: lease lost; the step's result is discarded", run.tx_id)
            run = None
    if watch is not None:
        watch(None)


def drain(*, node_group, node="inline", max_transactions=None, until=None, watch=None, stop=None):
    """Claim and run ready transactions of `node_group` until none is left (or `max_transactions`
    ran, the monotonic time `until` passed, or `stop()` says so); return (how many ran, whether the
    queue was found empty)."""
    count = 0
    while max_transactions is None or count < max_transactions:
        if (until is not None and time.monotonic() >= until) or (stop is not None and stop()):
            return count, False
        run = tx_claim(node_group=node_group, node=node)
        if run is None:
            return count, True
        faults.hit(faults.AFTER_CLAIM, run)
        node_metrics.observe("claims", (node_group,))
        if run.queued_at is not None:
            node_metrics.observe("queue_wait_seconds", (node_group,), (run.started_at - run.queued_at).total_seconds())
        run_claimed(run, watch=watch, stop=stop)
        count += 1
    return count, False
