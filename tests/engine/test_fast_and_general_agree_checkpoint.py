"""A step's checkpoint writes and sends the same in one statement (the next step here, or an end) as through
the general path: advance and finish, from each starting state of their tables (see the table of boundaries
in tests/engine/test_fast_and_general_agree.py)."""
from dataclasses import replace

import pytest

from engine.services import execution
from engine.steps import PermanentError
from engine.steps.errors import Raised
from engine.steps.outcomes import Outcome
from tests.engine.agreement import (
    DECIDE,
    LOGS,
    ONE,
    RETRYING,
    ROUTED,
    TWO,
    UNROUTED,
    WEBHOOK,
    assert_agree,
    cases,
    claimed,
    kid,
    later,
    limit,
    pause,
)

pytestmark = [pytest.mark.django_db(transaction=True)]  # on SQLite too: its fast paths (engine.services.state.lite)


def _running(definition, *, then=None, **start):
    """A transaction of `definition` claimed, at its first step (`then(h, tx_id)` after the claim): its Run."""
    def build(h):
        h.load(definition)
        tx_id = h.start(definition["name"], {"n": 1}, **start)
        run = claimed(h)
        if then is not None:
            then(h, tx_id)
        return run
    return build


def _kid_running(*, reporting=False, last=False):
    """The child of a parent that waits for it (or, `reporting`, reports to its callback), claimed at its
    first step, or at its last one: its Run."""
    def build(h):
        kid(h, reporting=reporting)
        run = claimed(h)
        if last:
            run = execution.step_complete(run=run, outcome=Outcome("success"), logs=LOGS)
        return run
    return build


def _complete(kind="success", *, note=None, output=None, error=None, may_continue=True, raised=None):
    def act(h, run):
        return execution.step_complete(run=run, outcome=Outcome(kind, note, output), logs=LOGS, error=error,
                                       may_continue=may_continue, raised=raised)
    return act


def _with_lost_lease(build):
    return lambda h: replace(build(h), token="0" * 32)


def _deadline_passed(h, tx_id):
    later(h, 120)


def _deadline_moved(h, tx_id):
    later(h, 5)
    h.set_deadline(tx_id, "PT2H", reason="more time")


def _cancel_requested(h, tx_id):
    later(h, 5)
    h.cancel(tx_id, reason="changed my mind")


def _paused(h, tx_id):
    pause()


def _cap_reached(h, tx_id):
    limit(1)


NEXT = _complete(output={"n": 2, "more": [1, "two"]})
# A step that raised PermanentError: not retried, it ends `failed` through the general path (which journals why).
PERMANENT = _complete("internal_error", note="PermanentError: bad input", error="Traceback: bad input",
                      raised=Raised.of(PermanentError("bad input")))

ADVANCE = [
    ("plain", _running(TWO), NEXT, True),
    ("keeps_its_input_without_output", _running(TWO), _complete(note="fine"), True),
    ("routed_on_failed", _running(ROUTED), _complete("failed", note="no", output={"why": "x"}), True),
    ("permanent_error_routed_on_failed", _running(ROUTED), PERMANENT, False),
    ("parent", _kid_running(), NEXT, True),
    ("report_to", _kid_running(reporting=True), NEXT, True),
    ("webhook", _running(TWO, **WEBHOOK), NEXT, True),
    ("deadline_not_passed", _running(TWO, deadline="PT1H"), NEXT, True),
    ("cap_reached", _running(TWO, then=_cap_reached), NEXT, True),
    ("node_stopping", _running(TWO), _complete(output={"n": 2}, may_continue=False), False),
    ("group_paused", _running(TWO, then=_paused), NEXT, False),
    ("cancel_requested", _running(TWO, then=_cancel_requested), NEXT, False),
    ("deadline_passed", _running(TWO, deadline="PT1M", then=_deadline_passed), NEXT, False),
    ("deadline_moved_while_running", _running(TWO, deadline="PT1H", then=_deadline_moved), NEXT, False),
    ("lease_lost", _with_lost_lease(_running(TWO)), NEXT, False),
    ("named_outcome", _running(DECIDE), _complete("approved", note="yes", output={"n": 2}), True),
    ("named_outcome_by_star", _running(DECIDE), _complete("maybe"), True),
    ("fixed_outcome_by_star", _running(DECIDE), _complete("failed", note="no"), True),
    ("named_outcome_cancel_requested", _running(DECIDE, then=_cancel_requested), _complete("approved"), False),
    ("named_outcome_group_paused", _running(DECIDE, then=_paused), _complete("maybe"), False),
]


@pytest.mark.parametrize("case", cases("advance", ADVANCE))
def test_a_checkpoint_that_goes_on_writes_and_returns_the_same_in_one_statement(case):
    assert_agree(case)


DONE = _complete(output={"done": True})
RAISED = _complete("internal_error", note="ValueError: boom", error="Traceback (most recent call last): boom")

FINISH = [
    ("success", _running(ONE), DONE, True),
    ("success_keeping_its_input", _running(ONE), _complete(note="fine"), True),
    ("failed", _running(ONE), _complete("failed", note="no", output={"why": "x"}), True),
    ("aborted", _running(ONE), _complete("aborted", note="stop"), True),
    ("routed_to_end", _running({**ONE, "steps": [{**ONE["steps"][0], "on": {"failed": "end"}}]}),
     _complete("failed", note="no"), True),
    ("group_paused", _running(ONE, then=_paused), DONE, True),
    ("cap_reached", _running(ONE, then=_cap_reached), DONE, True),
    ("deadline_not_passed", _running(ONE, deadline="PT1H"), DONE, True),
    ("internal_error", _running(ONE), RAISED, False),
    ("retry_policy", _running(RETRYING), RAISED, False),
    ("permanent_error", _running(ONE), PERMANENT, False),
    ("permanent_error_with_a_retry_policy", _running(RETRYING), PERMANENT, False),
    ("non_retryable", _running({**RETRYING, "steps": [{**RETRYING["steps"][0], "retry": {
        "non_retryable": ["ValueError"]}}]}), _complete("internal_error", note="ValueError: boom", error="Traceback",
                                                        raised=Raised.of(ValueError("boom"))), False),
    ("parent", _kid_running(last=True), DONE, False),
    ("report_to", _kid_running(reporting=True, last=True), DONE, False),
    ("report_to_failed", _kid_running(reporting=True, last=True), _complete("failed", note="no"), False),
    ("webhook", _running(ONE, **WEBHOOK), DONE, False),
    ("cancel_requested", _running(ONE, then=_cancel_requested), DONE, False),
    ("deadline_passed", _running(ONE, deadline="PT1M", then=_deadline_passed), DONE, False),
    ("deadline_moved_while_running", _running(ONE, deadline="PT1H", then=_deadline_moved), DONE, False),
    ("lease_lost", _with_lost_lease(_running(ONE)), DONE, False),
    ("named_outcome_to_end", _running(DECIDE), _complete("rejected", note="no", output={"why": "x"}), True),
    ("named_outcome_without_a_route", _running(UNROUTED), _complete("rejected", note="no"), True),
    ("named_outcome_without_a_route_or_note", _running(UNROUTED), _complete("rejected"), True),
    ("named_outcome_without_a_route_cancel_requested", _running(UNROUTED, then=_cancel_requested),
     _complete("rejected"), False),
    ("named_outcome_webhook", _running(DECIDE, **WEBHOOK), _complete("rejected"), False),
    ("named_outcome_parent", _kid_running(last=True), _complete("whatever"), False),
]


@pytest.mark.parametrize("case", cases("finish", FINISH))
def test_a_checkpoint_that_ends_writes_and_sends_the_same_in_one_statement(case):
    assert_agree(case)
