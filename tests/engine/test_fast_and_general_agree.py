"""Each transition's one-statement PostgreSQL path and its general path write and send the same thing (the
claim, advance and finish on SQLite too, whose fast paths are a few statements in one database transaction).

Every test builds a starting state twice on the same database (the engine's tables emptied in between, the
harness's clock at the same moment), runs the transition once with DATP["FAST_PATHS"] on and once off, and
compares all rows of all engine tables (transaction, journal, step runs, sleepers, switches, callbacks,
webhook deliveries...), the result, the NOTIFYs delivered and the finished signals (tests/engine/agreement.py).
Each row of a table says whether the fast statement takes that state or falls back, and the test checks it.

What each fast path checks before it writes (else nothing is written and the general path decides), and so
the boundaries its table covers; the other boundaries are not its concern and some are covered to show it:

- start (`start.insert`, INSERT_SQL): nothing; every start is one statement. Covers parent, report_to,
  webhook, paused group, deadline; the rest does not apply to a transaction not yet queued.
- claim (`claim.claim_fast`): the group is not paused and has no concurrency cap at all (a cap set but not
  reached falls back too), the oldest candidate's deadline has not passed (alone, or before a live one).
  Covers those, parent, report_to, webhook, a global switch's wake, a retry policy's backoff, parked input,
  a retry. A cancel request cannot be queued (a queued transaction is cancelled at once).
- advance (`advance.advance_fast`, CHECKPOINT_SQL): the lease, running, no cancel request, the deadline
  as the worker knew it and not passed, the group not paused, the node not stopping. Covers those, parent,
  report_to, webhook, cap reached. A retry policy applies to a raised step, which ends or sleeps instead
  (see finish); a global switch matters only to a step that sleeps, which has no one-statement path.
- finish (`finish.finish_fast`, FINISH_SQL): a success, failed or aborted end (not internal_error, where a
  retry policy may apply), the lease, no cancel request, the deadline as known and not passed, and no
  parent, report_to or webhook. Covers those, retry policy, paused group, cap reached.
- wake_due (`wake._wake_due_fast`, WAKE_DUE_SQL): sleeping, the timer due, the deadline not passed (a
  passed one is left to the deadline duty). Covers those, parent, report_to (a callback's timeout), webhook,
  paused group, a global switch's timeout, a retry policy's backoff, the batch limit, several groups.
- first switch value (`wake.wake_on_first_set`, FIRST_SET_SQL): the owner, sleeping, no row of that switch
  yet, a sleeper on that transaction-scoped switch, a value that is not null. Covers those, a global switch
  of the same name, deadline passed, paused group, parent, report_to, webhook, running, finished.

- cancel children (`cancel_many.cancel_quiet_children`, CANCEL_QUIET_SQL): a parent's cascading end, or a
  decided fan-out's fail fast; takes queued and sleeping fan-out children with no callback to report to, no
  webhook, no open callback, no unfinished child and no open fan-out. Covers queued, sleeping, some ended,
  items not started, open callbacks, a lone child (tests/engine/test_fast_and_general_agree_fanout.py).

This module: start and claim; tests/engine/test_fast_and_general_agree_checkpoint.py: advance and finish;
tests/engine/test_fast_and_general_agree_wake.py: wake_due and the first switch value.
"""
import pytest

from engine.runtime import executor
from engine.services import children, execution, waker
from engine.steps.outcomes import Outcome
from tests.engine.agreement import (
    FAILING,
    GLOBAL_WAITER,
    KID,
    LOGS,
    NAP,
    NODE,
    ONE,
    RETRYING,
    TWO,
    WEBHOOK,
    assert_agree,
    cases,
    claimed,
    kid,
    later,
    limit,
    pause,
)

pytestmark = [pytest.mark.django_db(transaction=True)]  # the claim on SQLite too (engine.services.state.lite)


# start ------------------------------------------------------------------------------------------------------

def _start(**kwargs):
    return lambda h, given: h.start(given, {"n": 1}, **kwargs)


def _loaded(*definitions, name=None, then=None):
    def build(h):
        h.load(*definitions)
        if then is not None:
            then(h)
        return name or definitions[0]["name"]
    return build


def _parent_running(h):
    """The parent's step running (the one that will start a child): its Run."""
    h.load(KID, {"name": "holder", "steps": [
        {"name": "cb", "type": "util/callback", "config": {"name": "cb"}},
        {"name": "hold", "type": "util/echo"}]})
    h.start("holder", {"p": 1})
    run = claimed(h)
    outcome, error, logs, _ = executor.invoke(run)  # the callback step creates its callback
    return execution.step_complete(run=run, outcome=outcome, error=error, logs=logs)


def _child(background):
    def act(h, run):
        return children.child_start(parent_id=run.tx_id, pipeline="kid", data={"k": 1}, background=background,
                                    callback="cb" if background else None, key="hold:1", lease=run.lease,
                                    actor="step:hold")
    return act


def _replayed(h):
    h.load(ONE)
    h.start("one", {"n": 1}, external_id="order-1")
    return "one"


START = [
    ("plain", _loaded(ONE), _start(), True),
    ("metadata_and_external_id", _loaded(ONE), _start(metadata={"m": [1, 2]}, external_id="order-1"), True),
    ("deadline_given", _loaded(ONE), _start(deadline="PT1H"), True),
    ("deadline_of_the_pipeline", _loaded({**ONE, "deadline": "P1D"}), _start(), True),
    ("webhook", _loaded(ONE), _start(**WEBHOOK), True),
    ("group_paused", _loaded(ONE, then=lambda h: pause()), _start(), True),
    ("another_group", _loaded({**ONE, "node_group": "side"}), _start(), True),
    ("parent", _parent_running, _child(background=False), True),
    ("report_to", _parent_running, _child(background=True), True),
    ("external_id_replayed", _replayed, _start(external_id="order-1"), False),
]


@pytest.mark.postgres_only
@pytest.mark.parametrize("case", cases("start", START))
def test_a_start_writes_the_same_in_one_statement_as_through_the_orm(case):
    assert_agree(case)


# claim ------------------------------------------------------------------------------------------------------

def _no(_built):
    return None  # the claim's group: the default one


def _claim(h, group):
    return execution.tx_claim(node_group=group or "master", node=NODE)


def _queued(definition=ONE, then=None, **start):
    def build(h):
        h.load(definition)
        h.start(definition["name"], {"n": 1}, **start)
        if then is not None:
            then(h)
    return build


def _several(h):
    h.load(TWO)
    for n in range(3):
        h.start("two", {"n": n})
        later(h, 1)


def _woken_by_timer(h):
    h.load(NAP)
    h.start("nap", {"nap": "PT1M"})
    h.settle()
    later(h, 120)
    waker.sleepers_wake_due()  # and not h.step(), which would claim it too


def _woken_by_global_switch(h):
    h.load(GLOBAL_WAITER)
    h.start("global-waiter", {})
    h.settle()
    later(h, 5)
    h.set_global_switch("go", True)


def _backed_off(h):
    h.load(RETRYING)
    h.start("retrying", {"n": 1})
    run = claimed(h)
    execution.step_complete(run=run, outcome=Outcome("internal_error", "boom"), error="Traceback: boom", logs=LOGS)
    later(h, 11)
    waker.sleepers_wake_due()


def _parked(h):
    h.load(TWO)
    h.start("two", {"n": 1})
    execution.step_complete(run=claimed(h), outcome=Outcome("success", output={"n": 2}), may_continue=False)


def _retried(h):
    h.load(FAILING)
    tx_id = h.start("failing", {"n": 1})
    h.settle()
    later(h, 5)
    h.retry(tx_id, reason="again")


def _cap_reached(h):
    h.load(TWO)
    h.start("two", {"n": 1})
    later(h, 1)
    h.start("two", {"n": 2})
    claimed(h)
    limit(1)


def _expired_before_a_live_one(h):
    h.load(ONE)
    h.start("one", {"n": 1}, deadline="PT1M")
    later(h, 1)
    h.start("one", {"n": 2})
    later(h, 120)


def _expired(h):
    _queued(deadline="PT1M")(h)
    later(h, 120)


CLAIM = [
    ("plain", _queued(), _claim, True),
    ("several_queued_the_oldest", _several, _claim, True),
    ("parent", lambda h: _no(kid(h)), _claim, True),
    ("report_to", lambda h: _no(kid(h, reporting=True)), _claim, True),
    ("webhook", _queued(**WEBHOOK), _claim, True),
    ("deadline_not_passed", _queued(deadline="PT1H"), _claim, True),
    ("woken_by_a_timer", _woken_by_timer, _claim, True),
    ("woken_by_a_global_switch", _woken_by_global_switch, _claim, True),
    ("retry_policy_backoff_over", _backed_off, _claim, True),
    ("parked_with_its_input", _parked, _claim, True),
    ("retried_after_failing", _retried, _claim, True),
    ("another_group", _queued({**ONE, "node_group": "side"}), lambda h, given: _claim(h, "side"), True),
    ("nothing_queued", lambda h: _no(h.load(ONE)), _claim, False),
    ("group_paused", _queued(then=lambda h: pause()), _claim, False),
    ("cap_set_not_reached", _queued(then=lambda h: limit(2)), _claim, False),
    ("cap_reached", _cap_reached, _claim, False),
    ("deadline_passed", _expired, _claim, False),
    ("deadline_passed_on_the_oldest", _expired_before_a_live_one, _claim, False),
]


@pytest.mark.parametrize("case", cases("claim", CLAIM))
def test_a_claim_writes_and_returns_the_same_in_one_statement_as_through_the_orm(case):
    assert_agree(case)
