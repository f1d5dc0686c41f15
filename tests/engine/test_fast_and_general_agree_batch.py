"""A worker's batch writes and sends exactly what its transactions would one at a time.

- Claims: one claim of three (one statement) leaves the same rows as three claims of one.
- Checkpoints: `steps_complete` over several transactions' steps (one statement per transition, the rest
  through the general path one by one) does the same as `step_complete` of each in turn, and the same as the
  general path alone (DATP["FAST_PATHS"] off), in every mix of the states the one-statement checkpoints take
  or leave: going on, ending, raising, sleeping, a lease lost, a cancel requested, a deadline passed, a child.
"""
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from engine.services import execution
from engine.steps.outcomes import Outcome, Wait
from tests.engine.agreement import (
    FAILING,
    LOGS,
    NAP,
    ONE,
    RETRYING,
    TWO,
    Case,
    assert_agree,
    claimed,
    kid,
    later,
    observe,
)

pytestmark = [pytest.mark.django_db(transaction=True)]  # on SQLite too: its fast paths (engine.services.state.lite)


def _same(build, batched, one_by_one, statement):
    """Run `batched` and `one_by_one` from the same starting rows (fast paths on) and compare all they did."""
    start_at = datetime.now(UTC).replace(microsecond=0)
    seen = [observe(Case(build, act, statement, True), fast=True, start_at=start_at) for act in (batched, one_by_one)]
    ran = [[name for name, matched in each.pop("statements") if matched] for each in seen]
    assert ran[0].count(statement) == 1, f"the batch ran {ran[0]}"
    assert ran[1].count(statement) > 1, f"one by one ran {ran[1]}"
    differ = [section for section in seen[0] if seen[0][section] != seen[1][section]]
    assert not differ, {section: (seen[0][section], seen[1][section]) for section in differ}


# Claims ------------------------------------------------------------------------------------------------------

def _queued(h):
    h.load(ONE, TWO)
    for number in range(4):
        h.start("two" if number % 2 else "one", {"n": number}, metadata={"k": number})
        later(h, 1)


def test_one_claim_of_three_writes_what_three_claims_of_one_write():
    def batched(h, _):
        return execution.tx_claim_many(node_group="master", node="node-a", limit=3)

    def one_by_one(h, _):
        return [execution.tx_claim(node_group="master", node="node-a") for _ in range(3)]

    _same(_queued, batched, one_by_one, "claim")


def test_a_claim_takes_the_oldest_first_each_under_its_own_lease(harness):
    _queued(harness)
    runs = execution.tx_claim_many(node_group="master", node="node-a", limit=3)
    assert [run.input for run in runs] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert len({run.token for run in runs}) == 3
    assert [run.seq for run in runs] == [1, 1, 1]
    assert execution.tx_claim_many(node_group="master", node="node-a", limit=3)[0].input == {"n": 3}
    assert execution.tx_claim_many(node_group="master", node="node-a", limit=3) == []


# Checkpoints -------------------------------------------------------------------------------------------------

def _runs(*makers):
    """A starting state of several claimed transactions, each made by one of `makers(h)` (returning its Run,
    or a (Run, Outcome) pair when its step ends other than with success)."""
    def build(h):
        made = []
        for make in makers:
            made.append(make(h))
            later(h, 1)
        return [item if isinstance(item, tuple) else (item, Outcome("success", None, {"n": 2})) for item in made]
    return build


def _at_first(definition, **start):
    def make(h):
        h.load(definition)
        h.start(definition["name"], {"n": 1}, **start)
        return claimed(h)
    return make


def _ending(kind, note=None):
    def make(h):
        return _at_first(FAILING)(h), Outcome(kind, note)
    return make


def _raising(h):
    return _at_first(RETRYING)(h), Outcome("internal_error", "boom")


def _sleeping(h):
    h.load(NAP)
    h.start("nap", {"nap": "PT1H"})
    return claimed(h), Wait(wake_at=h.now().replace(year=2100), note="a nap")


def _lease_lost(h):
    return replace(_at_first(TWO)(h), token="0" * 32)


def _cancel_requested(h):
    run = _at_first(TWO)(h)
    h.cancel(run.tx_id, reason="changed my mind")
    return run


def _deadline_passed(h):
    run = _at_first(TWO, deadline="PT5S")(h)
    later(h, 10)
    return run


def _child(h):
    kid(h)
    return claimed(h)


def _traceback(outcome):
    return "Traceback: boom" if getattr(outcome, "kind", None) == "internal_error" else None


def _batched(h, given):
    return execution.steps_complete([execution.Ran(run, outcome, logs=LOGS, error=_traceback(outcome))
                                     for run, outcome in given])


def _one_by_one(h, given):
    done = []
    for run, outcome in given:
        try:
            done.append(execution.step_complete(run=run, outcome=outcome, logs=LOGS, error=_traceback(outcome)))
        except execution.LeaseLost:
            done.append(None)
    return done


MIXES = {
    "all go on": (_runs(_at_first(TWO), _at_first(TWO), _at_first(TWO)), "advance"),
    "all end": (_runs(_at_first(ONE), _at_first(ONE), _at_first(ONE)), "finish"),
    "all end otherwise": (_runs(_ending("failed", "declined"), _ending("aborted"), _at_first(ONE)), "finish"),
    "mixed": (_runs(_at_first(TWO), _at_first(ONE), _raising, _sleeping, _at_first(TWO), _lease_lost,
                    _cancel_requested, _deadline_passed, _child, _at_first(ONE)), "advance"),
}


@pytest.mark.parametrize("mix", MIXES.values(), ids=MIXES.keys())
def test_a_batch_of_checkpoints_writes_what_one_at_a_time_writes(mix):
    build, statement = mix
    _same(build, _batched, _one_by_one, statement)


@pytest.mark.parametrize("mix", MIXES.values(), ids=MIXES.keys())
def test_a_batch_of_checkpoints_writes_what_the_general_path_writes(mix):
    build, statement = mix
    assert_agree(Case(build, _batched, statement, True))


def test_the_batch_returns_each_next_run_in_order(harness):
    given = _runs(_at_first(TWO), _at_first(ONE), _lease_lost, _at_first(TWO))(harness)
    nexts = _batched(harness, given)
    assert [run.step_name if run else None for run in nexts] == ["second", None, None, "second"]
    assert [run.seq for run in (nexts[0], nexts[3])] == [2, 2]
    assert harness.result(given[1][0].tx_id).status == "success"
    assert harness.result(given[2][0].tx_id).status == "running"  # its worker lost it: left to recovery
