"""The context a step receives: its input and config, outcome builders, and the engine's public API.

It sits beside the executor, the only caller of step types: a step type sees the services only through
this object, so `engine/steps/` imports no service, model or runtime module."""
import copy
import dataclasses
import logging
from datetime import datetime, timedelta

from engine import clock, conf, deprecation, durations
from engine.errors import InvalidRequest, UnknownTransactionType
from engine.services import callbacks, children, execution, fanout, fanout_cancel, switches, transactions
from engine.steps.errors import PermanentError
from engine.steps.outcomes import Outcome, Wait, outcome_name_problem

logger = logging.getLogger("engine.steps")  # step log lines keep the name they were always logged under


class StepLogger:
    """A logger whose lines are kept with the step run (and also go to Python logging)."""

    def __init__(self, step_name, scrub=None):
        self.lines = []
        self._step_name = step_name
        self._scrub = scrub or (lambda text: text)

    def _add(self, level, message, *args):
        text = self._scrub(message % args if args else str(message))
        self.lines.append({"at": clock.now().isoformat(), "level": level, "message": text})
        logger.log(getattr(logging, level.upper()), "[%s] %s", self._step_name, text)

    def debug(self, message, *args):
        self._add("debug", message, *args)

    def info(self, message, *args):
        self._add("info", message, *args)

    def warning(self, message, *args):
        self._add("warning", message, *args)

    def error(self, message, *args):
        self._add("error", message, *args)


def _replace(value, markers):
    """`value` (JSON-like) with each token of `markers` replaced, wherever it occurs, by its marker."""
    if isinstance(value, str):
        for token, marker in markers.items():
            value = value.replace(token, marker)
        return value
    if isinstance(value, dict):
        return {_replace(key, markers): _replace(item, markers) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_replace(item, markers) for item in value]
    return value


def _as_time(value, start, field):
    try:
        if isinstance(value, datetime):
            return durations.parse_timestamp(value)
        return durations.add(start, value)
    except durations.BadDuration as exc:
        raise durations.field_error(field, exc) from exc


class StepContext:
    """Everything a step may see and do; built-in step types use nothing else."""

    def __init__(self, run, config):
        self._run = run
        self._children_started = 0
        self._fan_outs_started = 0
        self.input = copy.deepcopy(run.input)
        self.config = config
        self.metadata = copy.deepcopy(run.metadata)
        self.tx_id = run.tx_id
        self.owner = run.owner
        self.step_name = run.step_name
        self.retry_count = run.retry_count
        self.attempt = run.attempt
        self.deadline_at = run.deadline_at
        self.visit_started_at = run.visit_started_at
        # Why this run follows a sleep: timer, switch, callback, child or wake_now (an operator's
        # "wake now"); None on a first run and on a run in the worker after a short sleep.
        self.wake_reason = run.wake_reason
        # The callback tokens handed to this run (token -> marker): scrubbed from all it writes.
        self._tokens = {}
        self.log = StepLogger(run.step_name, scrub=self.scrub)

    def scrub(self, value):
        """`value` with every callback token this run was handed replaced by its callback's marker."""
        return _replace(value, self._tokens) if self._tokens else value

    def scrub_outcome(self, outcome):
        """The outcome as it may be recorded: no token in its note or output (the runtime calls this)."""
        if not self._tokens:
            return outcome
        changes = {"note": self.scrub(outcome.note)}
        if isinstance(outcome, Outcome):
            changes["output"] = self.scrub(outcome.output)
        return dataclasses.replace(outcome, **changes)

    def _hand_out(self, callback):
        if callback.get("token"):
            self._tokens[callback["token"]] = callback["ref"]
        return callback

    # Outcomes ------------------------------------------------------------------------------

    def succeeded(self, note=None, output=None):
        return Outcome("success", note, output)

    def failed(self, note, output=None):
        return Outcome("failed", note, output)

    def aborted(self, note, output=None):
        return Outcome("aborted", note, output)

    def timeout(self, note, output=None):
        """End the step `timeout` (routable with `on.timeout`), e.g. when what it waited for never came."""
        return Outcome("timeout", note, output)

    def timed_out(self, note, output=None):
        """Deprecated spelling of `timeout` (warns once per process)."""
        deprecation.warn_once("ctx.timed_out()", "ctx.timeout()")
        return self.timeout(note, output)

    def cancelled(self, note, output=None):
        return Outcome("cancelled", note, output)

    def outcome(self, name, *, output=None, note=None):
        """End the step with the outcome `name`: a name of its own (`approved`), routed by `on.approved`
        or `on["*"]`, else the transaction ends `failed`; or a fixed one (`success`, ...), as its builder."""
        problem = outcome_name_problem(name)
        if problem:
            raise InvalidRequest(f"ctx.outcome({name!r}): {problem}.", fields={"name": [problem]})
        return Outcome(name, note, output)

    def retry_later(self, switch=None, seconds=None, until=None, scope="transaction"):
        """Run this step again later, with the same input (see concepts.md for the defaults)."""
        if seconds is not None and until is not None:
            raise InvalidRequest("retry_later takes seconds or until, not both.")
        now = clock.now()
        if until is not None:
            wake_at = _as_time(until, now, "until")
        elif seconds is not None:
            wake_at = _as_time(seconds, now, "seconds")
        elif switch is not None:
            wake_at = now + timedelta(seconds=conf.get("SWITCH_FALLBACK_SECONDS"))
        else:
            wake_at = now + timedelta(seconds=conf.get("DEFAULT_RETRY_LATER_SECONDS"))
        return self._wait(Wait(wake_at=wake_at, switch=switch, scope=scope))

    def wait(self, *, switch=None, scope="transaction", callback=None, child=None, children=None, until=None,
             seconds=None, timeout=None, poll_interval=None, note=None):
        """Sleep until any of the conditions holds; no fallback timer unless `until`/`seconds` is given.

        `timeout` is measured from the step's first run in this visit and stored as an absolute time.
        """
        now = clock.now()
        wake_at = None
        if until is not None:
            wake_at = _as_time(until, now, "until")
        elif seconds is not None:
            wake_at = _as_time(seconds, now, "seconds")
        timeout_at = self.timeout_at(timeout) if timeout is not None else None
        poll_seconds = None
        if poll_interval is not None:
            poll_seconds = (_as_time(poll_interval, now, "poll_interval") - now).total_seconds()
        outcome = Wait(wake_at=wake_at, timeout_at=timeout_at, switch=switch, scope=scope,
                       callback=callback, child=child, children=getattr(children, "id", children),
                       poll_seconds=poll_seconds, note=note)
        if outcome.time_only and outcome.next_time is None:
            raise InvalidRequest("wait() needs something to wait for: a switch, callback, child or time.")
        return self._wait(outcome)

    def _wait(self, outcome):
        if outcome.switch is not None:
            switches.validate_switch_name(name=outcome.switch)
        if outcome.scope not in ("transaction", "global"):
            raise InvalidRequest("scope must be 'transaction' or 'global'.", fields={"scope": ["Unknown scope."]})
        return outcome

    # Time ----------------------------------------------------------------------------------

    def now(self):
        return clock.now()

    def timeout_at(self, timeout):
        """The absolute time at which `timeout` (a duration) from this visit's first run passes."""
        return _as_time(timeout, self.visit_started_at, "timeout")

    def timeout_passed(self, timeout):
        return clock.now() >= self.timeout_at(timeout)

    # The engine's public API -----------------------------------------------------------------

    @property
    def cancel_requested(self):
        return execution.cancel_requested(tx_id=self.tx_id)

    def get_switch(self, name, scope="transaction"):
        if scope == "global":
            value, set_at = switches.global_switch_read(owner=self.owner, name=name)
            self._run.seen_globals[name] = set_at
            return value
        return switches.switch_read(tx_id=self.tx_id, name=name, lease=self._run.lease)

    def set_switch(self, name, value, reason=""):
        return switches.switch_set(
            tx_id=self.tx_id, name=name, value=self.scrub(value), actor=f"step:{self.step_name}",
            channel="step", reason=self.scrub(reason), lease=self._run.lease,
        )

    def progress(self, report):
        transactions.transaction_progress(tx_id=self.tx_id, report=self.scrub(report), lease=self._run.lease)

    def create_callback(self, name="default", callback_data=None, timeout=None):
        """Create a callback; the reply has its `token` and `url` (to give a partner) and `ref`, the
        marker to put in outputs instead: whatever this run writes has its token replaced by `ref`."""
        timeout_at = _as_time(timeout, clock.now(), "timeout") if timeout is not None else None
        return self._hand_out(callbacks.callback_create(
            tx_id=self.tx_id, name=name, callback_data=self.scrub(callback_data or {}), timeout_at=timeout_at,
            lease=self._run.lease, actor=f"step:{self.step_name}",
        ))

    def get_callback(self, name="default"):
        """The callback `name` of this transaction (its `ref`, status and data; not its token)."""
        return callbacks.callback_by_name(tx_id=self.tx_id, name=name)

    def reveal_callback(self, ref):
        """{"token", "url"} of the callback `ref` names (a callback of this transaction or an ancestor),
        to pass to a partner; None if there is none. Like create_callback's, it is scrubbed from writes."""
        found = callbacks.callback_reveal(tx_id=self.tx_id, ref=ref)
        if found is not None:
            self._hand_out({**found, "ref": ref})
        return found

    def update_callback(self, token, status, data=None):
        """Report to a callback by its token, or by its `ref` (a callback of this transaction or an
        ancestor); a step (unlike an outside reporter) may also force `timeout`."""
        return callbacks.callback_update(token=token, status=status, data=self.scrub(data),
                                         actor=f"step:{self.step_name}", allow_timeout=True, within=self.tx_id)

    def start_child(self, pipeline, data, background=False, callback=None):
        """Start a child transaction of the same owner and return its id (idempotent on re-runs)."""
        self._children_started += 1
        # The n-th child asked for in any run of this visit is the same child: a re-run (after a
        # wake-up or a lost worker) finds the child its earlier run started instead of a new one.
        key = f"{self.step_name}:{self._run.visit}:{self._children_started}"
        try:
            return children.child_start(
                parent_id=self.tx_id, pipeline=pipeline, data=self.scrub(data), background=background,
                callback=callback, key=key, lease=self._run.lease, actor=f"step:{self.step_name}",
            )
        except UnknownTransactionType as exc:  # no retry makes it exist (a name from the data, say)
            raise PermanentError(f"No pipeline named {pipeline!r} to start as a child") from exc

    def start_children(self, pipeline, items, *, data=None, join="all", first_n=None, tolerated_failures=None,
                       max_parallel=None, on_failure="fail_fast"):
        """Start a child of `pipeline` for each of `items` (an object item is the child's data, any other
        value {"item": value}, over `data`) and return their ChildGroup; the same group on every run of this
        visit. Wait for it with `ctx.wait(children=group)` until `group.decided`; then `group.results` holds
        each child's status and data in item order, and the children still running have been cancelled.
        `join`: all (default), all_success, any or first_n (with `first_n`); see engine.joins."""
        self._fan_outs_started += 1
        try:
            group = fanout.children_start(
                lease=self._run.lease, step=self.step_name, visit=self._run.visit, seq=self._fan_outs_started,
                pipeline=pipeline, items=items, data=self.scrub(data), join=join, first_n=first_n,
                tolerated=tolerated_failures, max_parallel=max_parallel, on_failure=on_failure,
                actor=f"step:{self.step_name}")
        except UnknownTransactionType as exc:
            raise PermanentError(f"No pipeline named {pipeline!r} to start as children") from exc
        except InvalidRequest as exc:  # settings or items no retry mends
            raise PermanentError(f"start_children: {exc}") from exc
        return self.get_children(group.id) if group.decided else group

    def get_children(self, group_id):
        """A fan-out's ChildGroup; once decided, with its results (and its running children cancelled)."""
        group_id = getattr(group_id, "id", group_id)
        group = fanout.children_state(parent_id=self.tx_id, fan_out_id=group_id)
        if group.decided and group.running and fanout_cancel.children_cancel_rest(
                parent_id=self.tx_id, fan_out_id=group_id, actor=f"step:{self.step_name}"):
            group = fanout.children_state(parent_id=self.tx_id, fan_out_id=group_id)
        return group

    def get_child(self, tx_id):
        """A child's state: {"tx_id", "status", "data", "note", "transaction_type"}, `data` as in the REST body
        (its output once it has ended); the old key "output" still reads it and warns once."""
        return deprecation.AliasedDict(children.child_state(parent_id=self.tx_id, child_id=tx_id),
                                       aliases={"output": "data"}, owner="ctx.get_child()")
