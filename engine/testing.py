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
"""
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from engine import clock, deprecation, durations, tokens
from engine.models import NodeGroup, Sleeper, Switch
from engine.runtime import executor
from engine.selectors import journal_of, step_runs_of, transaction_get
from engine.services import callbacks, duties, switches, transactions, waker
from engine.services.owners import owner_ensure
from engine.services.pipelines import pipeline_publish

__all__ = ["Harness", "TxResult", "VirtualClock"]


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


@dataclass
class TxResult:
    """A transaction as a test sees it, with its step runs and journal, oldest first."""

    tx: object
    step_runs: list
    journal: list

    @property
    def status(self):
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
        return self.tx.note

    @property
    def steps(self):
        """(step name, step run status) for every step run, oldest first."""
        return [(run.step, run.status) for run in self.step_runs]

    @property
    def sleeper(self):
        return Sleeper.objects.filter(tx_id=self.tx.pk).first()

    @property
    def switches(self):
        return {s.name: s.value for s in Switch.objects.filter(tx_id=self.tx.pk)}


class Harness:
    """Drive the engine deterministically: start, run, set switches, report callbacks, move time."""

    def __init__(self, *, owner="test", start_at=None, actor="app:test"):
        self.owner = owner
        self.actor = actor
        self.clock = VirtualClock(start_at or datetime.now(UTC).replace(microsecond=0))
        self._previous = None

    def __enter__(self):
        self._previous = clock.use(self.clock)
        owner_ensure(name=self.owner)
        return self

    def __exit__(self, *exc):
        clock.use(self._previous)

    # Set-up --------------------------------------------------------------------------------

    def load(self, *definitions):
        """Publish pipeline definitions (dicts); return their versions."""
        return [pipeline_publish(definition=definition)[0] for definition in definitions]

    def start(self, transaction_type, data=None, **kwargs):
        """Start a transaction for the harness's owner and return its id (nothing runs yet)."""
        kwargs.setdefault("owner", self.owner)
        kwargs.setdefault("actor", self.actor)
        tx, _ = transactions.transaction_start(transaction_type=transaction_type, data=data, **kwargs)
        return tx.pk

    # Running -------------------------------------------------------------------------------

    def now(self):
        return self.clock.now()

    def step(self):
        """Run the engine's duties and every ready transaction once, without moving time; return work done."""
        done = sum(waker.waker_tick().values())
        for group in NodeGroup.objects.filter(paused=False).values_list("name", flat=True):
            done += executor.drain(node_group=group)[0]
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
        return TxResult(transaction_get(tx_id=tx_id), step_runs_of(tx_id=tx_id), journal_of(tx_id=tx_id))

    # Outside events ------------------------------------------------------------------------

    def set_switch(self, tx_id, name, value, reason=""):
        return switches.switch_set(tx_id=tx_id, name=name, value=value, actor=self.actor, reason=reason)

    def set_global_switch(self, name, value, reason=""):
        return switches.global_switch_set(owner=self.owner, name=name, value=value, actor=self.actor, reason=reason)

    def callback_token(self, tx_id, name="default"):
        """The plain token of a callback, as its owner reads it (None if there is none)."""
        found = callbacks.callback_reveal(tx_id=tx_id, ref=tokens.marker(tx_id, name))
        return None if found is None else found["token"]

    def report_callback(self, tx_id, status, data=None, name="default"):
        return callbacks.callback_update(token=self.callback_token(tx_id, name), status=status, data=data,
                                         actor=self.actor)

    def cancel(self, tx_id, reason=""):
        return transactions.transaction_cancel(tx_id=tx_id, actor=self.actor, reason=reason)

    def wake(self, tx_id, reason=""):
        return transactions.transaction_wake(tx_id=tx_id, actor=self.actor, reason=reason)

    def retry(self, tx_id, reason="", deadline=None):
        return transactions.transaction_retry(tx_id=tx_id, actor=self.actor, reason=reason, deadline=deadline)

    def set_deadline(self, tx_id, deadline, reason=""):
        return transactions.transaction_set_deadline(tx_id=tx_id, deadline=deadline, actor=self.actor,
                                                     reason=reason)
