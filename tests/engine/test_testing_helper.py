"""engine.testing.Harness, the step author's test helper: virtual time, run/advance/settle, outside events."""
import time
from datetime import UTC, datetime, timedelta

import pytest

from engine import clock
from engine.models import Sleeper
from engine.testing import Harness

pytestmark = pytest.mark.django_db


def sleeper(duration):
    return {"name": f"sleep-{duration.lower()}", "steps": [
        {"name": "nap", "type": "util/sleep", "config": {"duration": duration}},
        {"name": "up", "type": "util/set", "config": {"values": {"up": True}}},
    ]}


SWITCH = {"name": "switch", "steps": [{"name": "wait", "type": "util/wait-switch", "config": {"switch": "go"}}]}


def test_a_thirty_day_sleep_finishes_in_well_under_a_second_of_wall_time(harness):
    harness.load(sleeper("P30D"))
    tx_id = harness.start("sleep-p30d", {})
    started = harness.now()
    wall = time.perf_counter()
    result = harness.run(tx_id)
    assert time.perf_counter() - wall < 1.0
    assert (result.status, result.data) == ("success", {"up": True})
    assert result.tx.completed_at - started == timedelta(days=30)
    assert result.steps == [("nap", "sleeping"), ("nap", "success"), ("up", "success")]


def test_a_short_sleep_in_the_worker_moves_the_virtual_clock_instead_of_waiting(harness):
    harness.load(sleeper("PT1S"))
    tx_id = harness.start("sleep-pt1s", {})
    started = harness.now()
    wall = time.perf_counter()
    harness.settle()
    assert time.perf_counter() - wall < 0.5
    assert harness.result(tx_id).status == "success"
    assert harness.now() - started == timedelta(seconds=1)
    assert not Sleeper.objects.exists()


def test_settle_runs_what_is_ready_without_moving_time(harness):
    harness.load(sleeper("PT5M"))
    tx_id = harness.start("sleep-pt5m", {})
    before = harness.now()
    harness.settle()
    assert harness.now() == before
    result = harness.result(tx_id)
    assert result.status == "sleeping"
    assert result.sleeper.wake_at == before + timedelta(minutes=5)


def test_advance_runs_only_what_falls_due_within_the_duration(harness):
    harness.load(sleeper("PT5M"))
    tx_id = harness.start("sleep-pt5m", {})
    start = harness.now()
    harness.advance("PT4M")
    assert harness.result(tx_id).status == "sleeping"
    assert harness.now() == start + timedelta(minutes=4)
    harness.advance(60)
    assert harness.result(tx_id).status == "success"
    assert harness.now() == start + timedelta(minutes=5)
    assert harness.result(tx_id).tx.completed_at == start + timedelta(minutes=5)


def test_run_returns_a_transaction_waiting_for_a_switch_forever_instead_of_hanging(harness):
    harness.load(SWITCH)
    tx_id = harness.start("switch", {})
    before = harness.now()
    wall = time.perf_counter()
    result = harness.run(tx_id)
    assert time.perf_counter() - wall < 1.0
    assert result.status == "sleeping"
    assert (result.sleeper.reason, result.sleeper.switch, result.sleeper.wake_at) == ("switch", "go", None)
    assert harness.now() == before


def test_run_stops_at_its_limit_and_leaves_a_later_timer_asleep(harness):
    harness.load(sleeper("P1Y"))
    tx_id = harness.start("sleep-p1y", {})
    start = harness.now()
    assert harness.run(tx_id, limit="P1M").status == "sleeping"
    assert harness.now() == start
    assert harness.run(tx_id).status == "success"


def test_run_without_a_transaction_settles_everything_and_returns_none(harness):
    harness.load(sleeper("PT1H"))
    tx_ids = [harness.start("sleep-pt1h", {}) for _ in range(3)]
    assert harness.run() is None
    assert {harness.result(tx_id).status for tx_id in tx_ids} == {"success"}


def test_step_reports_how_much_work_it_did(harness):
    harness.load(sleeper("PT1H"))
    harness.start("sleep-pt1h", {})
    assert harness.step() == 1
    assert harness.step() == 0


def test_outside_events_go_through_the_services_as_the_harness_actor(harness):
    harness.load(SWITCH)
    tx_id = harness.start("switch", {})
    harness.run(tx_id)
    assert harness.set_switch(tx_id, "go", True, reason="test")["action"] == "woken"
    result = harness.run(tx_id)
    assert (result.status, result.switches) == ("success", {"go": True})
    assert {entry.actor for entry in result.journal if entry.kind in ("created", "switch", "woken")} == {"app:test"}


def test_wake_cancel_retry_and_set_deadline_are_available(harness):
    harness.load(sleeper("P1D"), SWITCH)
    woken = harness.start("sleep-p1d", {})
    harness.settle()
    harness.wake(woken)
    harness.settle()
    assert harness.result(woken).status == "success"
    cancelled = harness.start("switch", {})
    harness.settle()
    harness.cancel(cancelled)
    assert harness.result(cancelled).status == "cancelled"
    late = harness.start("switch", {})
    harness.settle()
    harness.set_deadline(late, "PT1M")
    assert harness.run(late).status == "timeout"
    harness.retry(late, deadline="PT1H")
    harness.set_switch(late, "go", True)
    assert harness.run(late).status == "success"


def test_the_harness_starts_at_the_given_moment_and_restores_the_clock_on_exit(db):
    start_at = datetime(2030, 1, 31, 12, 0, tzinfo=UTC)
    with Harness(owner="other", start_at=start_at) as h:
        assert clock.now() == start_at
        h.advance("P1M")
        assert clock.now() == datetime(2030, 2, 28, 12, 0, tzinfo=UTC)
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)
