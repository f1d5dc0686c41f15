"""The worker's heartbeat renews the running step's lease and reports a lease lost only when recovery
took the step over, not when the step ended (and gave its lease back) while the beat was renewing it."""
import logging
from datetime import timedelta

from engine import clock
from engine.models import Transaction
from engine.runtime.heartbeat import Heartbeat
from engine.services import waker
from engine.services.execution import step_complete, tx_claim
from engine.steps.outcomes import Outcome


def _claimed(harness):
    harness.load({"name": "beat", "steps": [{"name": "a", "type": "util/echo"}]})
    harness.start("beat", {})
    return tx_claim(node_group="master", node="vm:1/42")


def _beat(run):
    beat = Heartbeat()
    beat._current = run
    beat.beat()


def test_a_beat_extends_the_running_steps_lease(harness):
    run = _claimed(harness)
    harness.advance("PT10S")
    _beat(run)
    assert harness.result(run.tx_id).status == "running"
    expires = Transaction.objects.get(pk=run.tx_id).lease_expires_at
    assert expires > clock.now() + timedelta(seconds=20)


def test_a_step_that_ended_before_its_beat_is_not_reported_as_a_lost_lease(harness, caplog):
    run = _claimed(harness)
    step_complete(run=run, outcome=Outcome("success", None, {}), logs=[], error=None, may_continue=False)
    with caplog.at_level(logging.WARNING, logger="engine.runtime.heartbeat"):
        _beat(run)
    assert "lease lost" not in caplog.text


def test_a_step_whose_lease_recovery_took_over_is_reported_as_a_lost_lease(harness, caplog):
    run = _claimed(harness)
    harness.advance("PT5M")
    waker.leases_recover(now=clock.now())
    with caplog.at_level(logging.WARNING, logger="engine.runtime.heartbeat"):
        _beat(run)
    assert f"{run.tx_id}: heartbeat found the lease lost" in caplog.text
