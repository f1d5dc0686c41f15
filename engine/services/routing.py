"""What happens after a step: route to the next step, end, sleep, or run again (short sleep, retry policy).

Called by the checkpoint with the transaction locked and the lease verified.
"""
from dataclasses import dataclass, replace

from engine import conf
from engine.models import Callback, FanOut, GlobalSwitch, NodeGroup, Switch, Transaction
from engine.services.followups import follow_up
from engine.services.runs import definition_of, step_definition
from engine.services.state.advance import continue_here, park
from engine.services.state.finish import finish
from engine.services.state.requeue import requeue
from engine.services.state.sleep import sleep
from engine.states import OTHER_OUTCOMES, TX_TERMINAL_VALUES, StepRunStatus, TxStatus


def _stop_for(tx, now):
    """Return the end (status, note) a cancel request or a passed deadline forces at the checkpoint, or None."""
    if tx.cancel_requested:
        return TxStatus.CANCELLED, "Cancelled"
    if tx.deadline_at is not None and tx.deadline_at <= now:
        return TxStatus.TIMEOUT, "Deadline passed"
    return None


def next_route(run, *, outcome):
    """Return the step that follows `outcome`, "end", or None when the outcome ends the transaction: its own
    route in `on`, else `on["*"]`, else (after `success` only) the next step in the list."""
    if outcome.kind == "internal_error":
        return None
    routes = step_definition(version_id=run.version_id, step_name=run.step_name).get("on") or {}
    route = routes.get(outcome.kind, routes.get(OTHER_OUTCOMES))
    if route is None and outcome.kind == "success":
        steps = [s["name"] for s in _steps(run)]
        index = steps.index(run.step_name)
        route = steps[index + 1] if index + 1 < len(steps) else "end"
    return route


@dataclass(frozen=True)
class Routed:
    """Where an outcome leads: `route` (a step, "end", or None), the `status` and `note` its step run ends
    with, the transaction's `end` (None while it goes on), and `outcome`, the name a named outcome records."""

    route: str | None
    status: str
    end: str | None
    note: str | None
    outcome: str | None


def routed(run, *, outcome):
    """Route `outcome`. A fixed outcome (or internal_error) ends its step run with its own status; a named
    one with `success`, or, when no route catches it, `failed`, and so does the transaction."""
    route = next_route(run, outcome=outcome)
    status, note = str(outcome.kind), outcome.note
    if outcome.named:
        status = StepRunStatus.SUCCESS if route is not None else StepRunStatus.FAILED
        if route is None:
            note = f"No route for outcome {outcome.kind!r} (on.{outcome.kind} or on.*)" + (f": {note}" if note else "")
    end = None if route not in (None, "end") else (str(TxStatus.SUCCESS) if route == "end" else str(status))
    return Routed(route=route, status=str(status), end=end, note=note, outcome=outcome.kind if outcome.named else None)


def after_outcome(tx, *, run, outcome, output, now, may_continue=True):
    """Route `outcome`: end the transaction, park it, or start the next step here (its Run)."""
    leads = routed(run, outcome=outcome)
    route = leads.route
    stop = _stop_for(tx, now)
    if stop is not None:
        if route not in (None, "end"):
            park(tx, route=route, output=output)  # so that a retry starts from the step that did not run
        follow_up(finish(tx, target=stop[0], actor="system", now=now, note=stop[1], output=output), now=now)
        return None
    if route in (None, "end"):
        follow_up(finish(tx, target=leads.end, actor=f"step:{run.step_name}", now=now, note=leads.note,
                         output=output), now=now)
        return None
    if not may_continue or NodeGroup.objects.filter(pk=tx.node_group_id, paused=True).exists():
        # Pausing (or stopping this worker's node) takes effect at the checkpoint: the next step
        # waits in the queue with its input.
        park(tx, route=route, output=output)
        requeue(tx, actor="system", now=now, why="node stopping" if not may_continue else "node group paused")
        return None
    return continue_here(tx, run=run, step_input=output, now=now, step_name=route)


def _steps(run):
    return definition_of(version_id=run.version_id)["steps"]


def after_wait(tx, *, run, wait, now, may_continue=True):
    """Sleep in the worker (short), re-queue at once (a wake-up already happened), or write a sleeper."""
    stop = _stop_for(tx, now)
    if stop is not None:
        follow_up(finish(tx, target=stop[0], actor="system", now=now, note=stop[1], output=run.input), now=now)
        return None
    retry_count = run.retry_count + 1
    next_time = wait.next_time
    short = conf.get("SHORT_SLEEP_SECONDS")
    deadline_first = tx.deadline_at is not None and next_time is not None and tx.deadline_at <= next_time
    if may_continue and wait.time_only and (next_time - now).total_seconds() <= short and not deadline_first:
        new_run = continue_here(tx, run=run, step_input=run.input, now=now, retry_count=retry_count)
        return replace(new_run, sleep_seconds=max(0.0, (next_time - now).total_seconds()))
    tx.retry_count = retry_count
    tx.attempt = 1
    tx.save(update_fields=["retry_count", "attempt"])
    why = _already_woken(tx, run, wait, now)
    if why is not None:
        requeue(tx, actor="system", now=now, why=why)
    else:
        sleep(tx, run=run, wait=wait, now=now)
    return None


def _already_woken(tx, run, wait, now):
    """Return why the step must run again at once instead of sleeping (a wake-up it would miss), or None."""
    if wait.next_time is not None and wait.next_time <= now:
        return "its time has come"
    if wait.switch and wait.scope == "transaction":
        if Switch.objects.filter(tx_id=tx.pk, name=wait.switch, unread=True).exists():
            return f"switch {wait.switch} changed while the step ran"
    if wait.switch and wait.scope == "global":
        set_at = GlobalSwitch.objects.filter(owner_id=tx.owner_id, name=wait.switch).values_list(
            "set_at", flat=True).first()
        seen = run.seen_globals.get(wait.switch, "unread")
        changed = set_at != seen if seen != "unread" else (set_at is not None and set_at >= run.started_at)
        if changed:
            return f"global switch {wait.switch} changed while the step ran"
    if wait.callback:
        callback = Callback.objects.filter(tx_id=tx.pk, name=wait.callback).values("status", "timeout_at").first()
        if callback is None:
            return f"no callback named {wait.callback}"
        if callback["status"] not in ("created", "start", "progress"):
            return f"callback {wait.callback} is final"
    if wait.child:
        status = Transaction.objects.filter(pk=wait.child).values_list("status", flat=True).first()
        if status is None or status in TX_TERMINAL_VALUES:
            return f"child {wait.child} finished"
    if wait.children is not None and FanOut.objects.filter(pk=wait.children, decided_at__isnull=False).exists():
        return "its children's join was decided"
    return None

