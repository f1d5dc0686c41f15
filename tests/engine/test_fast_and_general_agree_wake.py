"""Waking writes and sends the same in one statement as through the general path: the due timers
(`wake_due`) and a switch's first value waking its sleeper (`wake_on_first_set`), from each starting state of
their tables (see the table of boundaries in tests/engine/test_fast_and_general_agree.py)."""
import pytest

from engine.models import Transaction
from engine.services import execution, switches, waker
from engine.steps.outcomes import Outcome
from tests.engine.agreement import (
    GLOBAL_WAITER,
    NAP,
    REPORTER,
    RETRYING,
    WAITER,
    WEBHOOK,
    assert_agree,
    cases,
    claimed,
    later,
    pause,
    run_one,
)

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


# the due timers -------------------------------------------------------------------------------------------

def _napping(*naps, groups=("master",), then=None, after=120, **start):
    """Transactions sleeping `naps` (one per group in turn), the clock `after` seconds on."""
    def build(h):
        for group in groups:
            h.load({**NAP, "name": f"nap-{group}", "node_group": group})
        for index, nap in enumerate(naps):
            h.start(f"nap-{groups[index % len(groups)]}", {"nap": nap}, **start)
        h.settle()
        if then is not None:
            then(h)
        later(h, after)
    return build


def _wake_due(limit=500):
    def act(h, given):
        woken = []
        count = waker.sleepers_wake_due(limit=limit, on_woken=woken.append)
        return {"count": count, "woken": woken}
    return act


def _global_waiter(h):
    h.load(GLOBAL_WAITER)
    h.start("global-waiter", {})
    h.settle()
    later(h, 301)


def _backing_off(h):
    h.load(RETRYING)
    h.start("retrying", {"n": 1})
    execution.step_complete(run=claimed(h), outcome=Outcome("internal_error", "boom"), error="Traceback: boom")
    later(h, 11)


def _awaiting_with_timeout(h):
    h.load({**REPORTER, "steps": [REPORTER["steps"][0], {"name": "await", "type": "util/await",
                                                        "config": {"callback": "cb", "timeout": "PT1M"}}]})
    h.start("reporter", {})
    h.settle()
    later(h, 61)


def _kid_napping(h):
    h.load({**NAP, "name": "kid", "transaction_type": False},
           {"name": "parent", "steps": [{"name": "call", "type": "util/call", "config": {"transaction_type": "kid"}}]})
    h.start("parent", {"nap": "PT1M"})
    h.settle()
    later(h, 61)


def _one_past_its_deadline(h):
    h.load(NAP)
    short = h.start("nap", {"nap": "PT1M"}, deadline="PT90S")
    h.start("nap", {"nap": "PT2M"})
    h.settle()
    assert Transaction.objects.get(pk=short).status == "sleeping"
    later(h, 150)


WAKE_DUE = [
    ("plain", _napping("PT1M"), _wake_due(), True),
    ("several_groups", _napping("PT1M", "PT70S", "PT80S", groups=("master", "side")), _wake_due(), True),
    ("limit_takes_the_earliest", _napping("PT1M", "PT70S", "PT80S", after=100), _wake_due(limit=2), True),
    ("webhook", _napping("PT1M", **WEBHOOK), _wake_due(), True),
    ("group_paused", _napping("PT1M", then=lambda h: pause()), _wake_due(), True),
    ("deadline_not_passed", _napping("PT1M", deadline="PT1H"), _wake_due(), True),
    ("a_global_switch_timeout", _global_waiter, _wake_due(), True),
    ("retry_policy_backoff", _backing_off, _wake_due(), True),
    ("report_to_timeout_of_an_await", _awaiting_with_timeout, _wake_due(), True),
    ("parent_waits_on_a_napping_child", _kid_napping, _wake_due(), True),
    ("deadline_passed_on_one_of_two", _one_past_its_deadline, _wake_due(), True),
    ("not_due_yet", _napping("PT1M", after=30), _wake_due(), False),
    ("deadline_passed", _napping("PT1M", deadline="PT90S", after=100), _wake_due(), False),
]


@pytest.mark.parametrize("case", cases("wake_due", WAKE_DUE))
def test_the_due_timers_wake_the_same_in_one_statement(case):
    assert_agree(case)


# a switch's first value -----------------------------------------------------------------------------------

def _sleeping(definition=WAITER, then=None, **start):
    """A transaction sleeping on its switch `go` (`then(h, tx_id)` afterwards): its id."""
    def build(h):
        h.load(definition)
        tx_id = h.start(definition["name"], {"n": 1}, **start)
        h.settle()
        later(h, 5)
        if then is not None:
            then(h, tx_id)
        return tx_id
    return build


def _set(value="yes", owner="test", name="go"):
    def act(h, tx_id):
        return switches.switch_set(tx_id=tx_id, name=name, value=value, actor="user:ann", channel="api",
                                   reason="ok", owner=owner)
    return act


def _set_to_null_first(h, tx_id):
    h.set_switch(tx_id, "go", None)


def _woken_by_another_value(h, tx_id):
    h.set_switch(tx_id, "go", "no")
    h.settle()
    assert Transaction.objects.get(pk=tx_id).status == "sleeping"
    later(h, 5)


def _finished(h, tx_id):
    h.cancel(tx_id)


def _running(h, tx_id):
    h.wake(tx_id)
    claimed(h)


def _deadline_passed(h, tx_id):
    h.set_deadline(tx_id, "PT1S")
    later(h, 10)


def _kid_on_switch(h):
    h.load({**WAITER, "name": "kid", "transaction_type": False},
           {"name": "parent", "steps": [{"name": "call", "type": "util/call", "config": {"transaction_type": "kid"}}]})
    h.start("parent", {})
    h.settle()
    return Transaction.objects.get(parent__isnull=False).pk


def _reporting_kid_on_switch(h):
    h.load({**WAITER, "name": "kid", "transaction_type": False}, REPORTER)
    h.start("reporter", {})
    run_one(h)
    kid_id = Transaction.objects.get(parent__isnull=False).pk
    h.settle()
    return kid_id


OTHER_SWITCH = {**WAITER, "steps": [{**WAITER["steps"][0], "config": {"switch": "other"}}]}
GLOBAL_SAME_NAME = {**GLOBAL_WAITER, "name": "waiter"}

FIRST_SET = [
    ("plain", _sleeping(), _set(), True),
    ("a_number", _sleeping(), _set(value=1.5), True),
    ("webhook", _sleeping(**WEBHOOK), _set(), True),
    ("group_paused", _sleeping(then=lambda h, tx_id: pause()), _set(), True),
    ("deadline_passed", _sleeping(then=_deadline_passed), _set(), True),
    ("parent", _kid_on_switch, _set(), True),
    ("report_to", _reporting_kid_on_switch, _set(), True),
    ("switch_row_already_there", _sleeping(then=_set_to_null_first), _set(), False),
    ("a_second_value", _sleeping(then=_woken_by_another_value), _set(), False),
    ("waits_on_another_switch", _sleeping(OTHER_SWITCH), _set(), False),
    ("a_global_switch_of_the_same_name", _sleeping(GLOBAL_SAME_NAME), _set(), False),
    ("null_value", _sleeping(), _set(value=None), False),
    ("running", _sleeping(then=_running), _set(), False),
    ("finished", _sleeping(then=_finished), _set(), False),
    ("another_owner", _sleeping(), _set(owner="other"), False),
]


@pytest.mark.parametrize("case", cases("first_set", FIRST_SET))
def test_a_switch_first_value_wakes_the_same_in_one_statement(case):
    assert_agree(case)

