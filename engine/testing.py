"""A test helper for step authors: run pipelines to their end in-process, in virtual time.

    from engine.testing import Harness

    def test_charge_waits_for_processor(db):
        with Harness() as h:
            h.load({"name": "charge", "steps": [{"type": "acme/charge-card"}]})
            tx_id = h.start("charge", {"amount": 10})
            h.settle()                      # run what is ready now, without moving time
            assert h.result(tx_id).status == "sleeping"
            h.set_switch(tx_id, "charged", True)
            assert h.run(tx_id).status == "success"   # run() also jumps time to each due moment

A `P30D` sleep costs milliseconds: when nothing is ready, the clock jumps to the next due moment.
A crash is one call: `h.crash_next_run()`, then `h.advance_past_lease()` lets recovery run the step
again. docs/testing.md shows every part with examples.
"""
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from engine import clock, deprecation, durations, tokens
from engine.errors import InvalidPipeline
from engine.models import FanOut, NodeGroup, ScheduleRun, Sleeper, Switch, Transaction
from engine.runtime import executor, faults
from engine.states import TxStatus
from engine.selectors import journal_of, step_runs_of, transaction_get
from engine.services import bulk, callbacks, duties, fanout, rewind, schedules, switches, transactions, waker
from engine.services.owners import owner_ensure
from engine.services.pipeline_files import MissingPath, json_files, read_definitions
from engine.services.pipelines import pipelines_publish_all

__all__ = ["Crash", "Harness", "SimulatedCrash", "TxResult", "VirtualClock"]


def _labelled(definition):
    """Return [(label, dict)] for one argument of Harness.load: a dict, a JSON file or a folder of them."""
    if not isinstance(definition, (str, os.PathLike)):
        return [(None, definition)]
    try:
        labelled, problems = read_definitions(json_files([definition]))
    except MissingPath as exc:
        raise InvalidPipeline([str(exc)]) from exc
    if problems:
        raise InvalidPipeline(problems)
    return labelled


class VirtualClock:
    """A clock that only moves when told to; an in-worker sleep moves it instead of waiting."""

    def __init__(self, start):
        self._now = start

    def now(self):
        return self._now

    def sleep(self, seconds):
        if seconds > 0:
            self._now += timedelta(seconds=seconds)

    def move_to(self, moment):
        self._now = max(self._now, moment)


class SimulatedCrash(faults.WorkerCrash):
    """The worker crash `Harness.crash_next_run` arms; the harness catches it as a node loses a worker."""


@dataclass(frozen=True)
class Crash:
    """A step run the harness crashed: its transaction, step name and attempt."""

    tx_id: str
    step: str
    attempt: int


@dataclass
class TxResult:
    """A transaction as a test sees it, with its step runs and journal, oldest first."""

    tx: object
    step_runs: list
    journal: list

    @property
    def status(self):
        """The transaction's status (`success`, `sleeping`, `timeout`, ...)."""
        return self.tx.status

    @property
    def data(self):
        """The transaction's data: what `data` holds in the REST body (its output once it has ended)."""
        return self.tx.output

    @property
    def output(self):
        """Deprecated name of `data` (warns once per process)."""
        deprecation.warn_once("TxResult.output", "TxResult.data")
        return self.data

    @property
    def note(self):
        """The note of the transaction's last outcome."""
        return self.tx.note

    @property
    def steps(self):
        """(step name, what its run ended with) for every step run, oldest first: the name of a named outcome
        (`approved`), else the step run's status (`success`, `sleeping`, `internal_error`, ...)."""
        return [(run.step, run.outcome or run.status) for run in self.step_runs]

    def runs(self, step=None):
        """The step runs (of the step named `step`, if given), oldest first: each has `status`, `outcome` (a
        named outcome's name, else None), `attempt` (1, then 2 after its worker was lost, ...), `retry_count`,
        `input`, `output`, `note` and `logs`.

            assert [(r.attempt, r.status) for r in h.result(tx_id).runs("charge")] == [(1, "lost"), (2, "success")]
        """
        return [run for run in self.step_runs if step is None or run.step == step]

    @property
    def sleeper(self):
        """What the transaction sleeps on (`reason`, `switch`, `callback`, `wake_at`, `timeout_at`), or None."""
        return Sleeper.objects.filter(tx_id=self.tx.pk).first()

    @property
    def switches(self):
        """The transaction's switches, {name: value}."""
        return {s.name: s.value for s in Switch.objects.filter(tx_id=self.tx.pk)}

    @property
    def children(self):
        """Its child transactions as they are now, each a TxResult, oldest first (a fan-out's in item order)."""
        kids = Transaction.objects.filter(parent_id=self.tx.pk).order_by(
            "created_at", "fan_out_item__fan_out_id", "fan_out_item__index").values_list("pk", flat=True)
        return [TxResult(transaction_get(tx_id=kid), step_runs_of(tx_id=kid), journal_of(tx_id=kid)) for kid in kids]

    @property
    def groups(self):
        """Its fan-outs (util/map, ctx.start_children) as they are now, oldest first: each a ChildGroup with
        `total`, `started`, `running`, `succeeded`, `failed`, `not_started`, `outcome` and, once decided,
        `results`."""
        return [fanout.group_of(fan, results=True) for fan in FanOut.objects.filter(tx_id=self.tx.pk).order_by("pk")]


class Harness:
    """Drive the engine deterministically: start, run, set switches, report callbacks, move time, crash.

        with Harness(owner="test", start_at=None, actor="app:test") as h:   # the defaults
            h.load(pipeline)
            result = h.run(h.start("order", {"quantity": 2}))
            assert (result.status, result.data) == ("success", {...})

    Open it inside a test that has the database; leaving it restores the real clock.
    """

    def __init__(self, *, owner="test", start_at=None, actor="app:test"):
        self.owner = owner
        self.actor = actor
        self.clock = VirtualClock(start_at or datetime.now(UTC).replace(microsecond=0))
        self._previous = None
        self._armed = []  # [step, tx_id, crashes left] for each crash_next_run still to happen
        self.crashes = []  # a Crash for every step run the harness crashed, oldest first

    def __enter__(self):
        self._previous = clock.use(self.clock)
        executor.forget_batching()  # each harness's worker starts claiming one at a time, as a fresh process
        owner_ensure(name=self.owner)
        return self

    def __exit__(self, *exc):
        self._armed.clear()
        faults.remove(faults.AFTER_STEP_BEFORE_CHECKPOINT, self._crash_if_armed)
        clock.use(self._previous)

    # Set-up --------------------------------------------------------------------------------

    def load(self, *definitions):
        """Publish pipeline definitions, which may name each other as children, all or none; return their
        versions. Each is a dict, or the path of a JSON file or of a folder of them (as `datp_load_pipelines`
        reads them): `h.load(Path(__file__).parent.parent / "pipelines")`. Problems raise InvalidPipeline."""
        labelled = [item for definition in definitions for item in _labelled(definition)]
        return [version for version, _ in pipelines_publish_all(definitions=labelled)]

    def start(self, transaction_type, data=None, **kwargs):
        """Start a transaction for the harness's owner and return its id (nothing runs yet)."""
        kwargs.setdefault("owner", self.owner)
        kwargs.setdefault("actor", self.actor)
        tx, _ = transactions.transaction_start(transaction_type=transaction_type, data=data, **kwargs)
        return tx.pk

    def schedule(self, name, transaction_type, **fields):
        """Create a schedule for the harness's owner (the fields of POST /api/v1/schedules: cron or interval,
        data, timezone, overlap, catchup_window, jitter, start_at, end_at, paused) and return its runs so far
        as `h.schedule_runs(name)` does; `h.advance("P1D")` then starts each of the day's runs at its time.

            h.schedule("nightly", "report", cron="0 2 * * *", timezone="Europe/Paris")
            h.advance("P1D")
            [(due_at, tx_id)] = h.schedule_runs("nightly")
        """
        schedules.schedule_create(owner=self.owner, name=name, transaction_type=transaction_type,
                                  actor=self.actor, **fields)
        return self.schedule_runs(name)

    def schedule_runs(self, name):
        """The runs schedule `name` started, oldest due time first: a list of (due_at, tx_id)."""
        return list(ScheduleRun.objects.filter(schedule__name=name).order_by("due_at").values_list("due_at", "tx_id"))

    # Running -------------------------------------------------------------------------------

    def now(self):
        """The virtual time."""
        return self.clock.now()

    def step(self):
        """Run the engine's duties and every ready transaction once, without moving time; return work done."""
        done = sum(waker.waker_tick().values())
        for group in NodeGroup.objects.filter(paused=False).values_list("name", flat=True):
            try:
                done += executor.drain(node_group=group)[0]
            except SimulatedCrash:
                done += 1  # the crashed transaction stays `running` until its lease expires
        return done

    def settle(self):
        """Run until nothing is ready at the current time."""
        while self.step():
            pass

    def run(self, tx_id=None, *, limit="P20Y"):
        """Run until `tx_id` finishes (or everything settles), moving time to each next due moment,
        at most `limit` ahead. Returns the TxResult of `tx_id` (None without one)."""
        horizon = durations.add(self.now(), limit)
        while True:
            self.settle()
            if tx_id is not None and transaction_get(tx_id=tx_id).is_finished:
                break
            due = duties.next_due_at(webhooks=False)  # the harness sends no webhooks
            if due is None or due > horizon:
                break
            self.clock.move_to(due)
        return self.result(tx_id) if tx_id is not None else None

    def advance(self, duration):
        """Move time forward by `duration` (ISO 8601 or seconds), running everything that falls due on the way."""
        target = durations.add(self.now(), duration)
        while True:
            self.settle()
            due = duties.next_due_at(webhooks=False)  # the harness sends no webhooks
            if due is None or due > target:
                break
            self.clock.move_to(due)
        self.clock.move_to(target)
        self.settle()

    def result(self, tx_id):
        """Return the TxResult of `tx_id` as it is now."""
        return TxResult(transaction_get(tx_id=tx_id), step_runs_of(tx_id=tx_id), journal_of(tx_id=tx_id))

    # Crashes ---------------------------------------------------------------------------------

    def crash_next_run(self, step=None, *, tx_id=None, times=1):
        """Make the next step run (of the step named `step`, of the transaction `tx_id`, if given) die as a
        worker crash does: the step's code runs to its end, then its worker is lost before the outcome is
        recorded. The transaction stays `running` until its lease expires; `advance_past_lease()` then
        lets recovery mark the run `lost` and run the step again (attempt 2). `times` crashes that many
        matching runs in a row (the third loss of a step ends the transaction `internal_error`).

            h.crash_next_run("charge")
            h.settle()                                  # the step ran; its worker "died"
            assert h.result(tx_id).status == "running"
            h.advance_past_lease()                      # recovery runs it again
            assert h.result(tx_id).steps == [("charge", "lost"), ("charge", "success")]
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        self._armed.append([step, tx_id, times])
        faults.install(faults.AFTER_STEP_BEFORE_CHECKPOINT, self._crash_if_armed)

    def _crash_if_armed(self, run):
        for armed in self._armed:
            step, tx_id, _ = armed
            if (step is None or step == run.step_name) and (tx_id is None or tx_id == run.tx_id):
                armed[2] -= 1
                if not armed[2]:
                    self._armed.remove(armed)
                self.crashes.append(Crash(run.tx_id, run.step_name, run.attempt))
                raise SimulatedCrash(f"crash_next_run: the worker running {run.step_name!r} of {run.tx_id} died")

    def advance_past_lease(self, tx_id=None):
        """Move time to the moment the lease of every `running` transaction (or of `tx_id`) has expired,
        running what falls due on the way; recovery then marks a crashed run `lost` and runs its step
        again. Return how far time moved (a timedelta; zero when no lease is held)."""
        running = Transaction.objects.filter(status=TxStatus.RUNNING, lease_expires_at__isnull=False)
        if tx_id is not None:
            running = running.filter(pk=tx_id)
        expires = max(running.values_list("lease_expires_at", flat=True), default=None)
        before = self.now()
        self.advance(max((expires - before).total_seconds(), 0) if expires is not None else 0)
        return self.now() - before

    # Outside events ------------------------------------------------------------------------

    def set_switch(self, tx_id, name, value, reason=""):
        """Set a switch of `tx_id` as the REST API does; return {"action": "unchanged"|"updated"|"woken", ...}.
        Nothing runs until settle(), run() or advance(): `h.set_switch(tx_id, "paid", True); h.run(tx_id)`."""
        return switches.switch_set(tx_id=tx_id, name=name, value=value, actor=self.actor, reason=reason)

    def set_global_switch(self, name, value, reason=""):
        """Set the harness owner's global switch `name` (waking every transaction waiting on it)."""
        return switches.global_switch_set(owner=self.owner, name=name, value=value, actor=self.actor, reason=reason)

    def callback_token(self, tx_id, name="default"):
        """The plain token of a callback, as its owner reads it (None if there is none)."""
        found = callbacks.callback_reveal(tx_id=tx_id, ref=tokens.marker(tx_id, name))
        return None if found is None else found["token"]

    def report_callback(self, tx_id, status, data=None, name="default"):
        """Report to the callback `name` of `tx_id` as a partner does (start, progress, complete, error, cancel):
        `h.report_callback(tx_id, "complete", {"approved": True}, name="manager")`."""
        return callbacks.callback_update(token=self.callback_token(tx_id, name), status=status, data=data,
                                         actor=self.actor)

    def cancel(self, tx_id, reason=""):
        """Cancel `tx_id` as an operator does."""
        return transactions.transaction_cancel(tx_id=tx_id, actor=self.actor, reason=reason)

    def wake(self, tx_id, reason=""):
        """Wake a sleeping `tx_id` now, as an operator's "wake now" does."""
        return transactions.transaction_wake(tx_id=tx_id, actor=self.actor, reason=reason)

    def retry(self, tx_id, reason="", deadline=None):
        """Run a failed, aborted, timed-out or internal-error `tx_id` again from the step that ended it."""
        return transactions.transaction_retry(tx_id=tx_id, actor=self.actor, reason=reason, deadline=deadline)

    def rewind(self, tx_id, to_step, *, data=None, version=None, reason="", deadline=None, webhook_again=False):
        """Send `tx_id` (queued, sleeping or ended) back to `to_step`, with the data that step last started with
        (or `data`), on its own version, `version="current"` or a named one: `h.rewind(tx, to_step="charge")`."""
        return rewind.transaction_rewind(tx_id=tx_id, to_step=to_step, data=data, version=version, reason=reason,
                                         deadline=deadline, webhook_again=webhook_again, actor=self.actor)

    def move_version(self, transaction_type, from_version, to_version, reason=""):
        """Move the sleeping and queued transactions of `transaction_type` on `from_version` to `to_version`, as
        the console's bulk job does, to the end; return the job (done, skipped)."""
        job = bulk.version_move_start(pipeline=transaction_type, from_version=from_version, to_version=to_version,
                                      actor=self.actor, reason=reason)
        while bulk.bulk_apply_batch(job_id=job.pk):
            pass
        job.refresh_from_db()
        return job

    def set_deadline(self, tx_id, deadline, reason=""):
        """Set (a duration from now or a time) or clear (None) the deadline of `tx_id`."""
        return transactions.transaction_set_deadline(tx_id=tx_id, deadline=deadline, actor=self.actor,
                                                     reason=reason)
