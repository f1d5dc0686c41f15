"""Short versions of the chaos scenarios, inside make test: real nodes, faults injected, each bounded."""
import os

import pytest

from engine.runtime import faults
from tests.chaos import scenarios_fanout, scenarios_faults, scenarios_schedules
from tests.machine import pg_bin
from tests.chaos.world import World, bounded

pytestmark = pytest.mark.nodes


@pytest.fixture
def world(tmp_path):
    made = World(os.environ.get("DATABASE_URL") if os.environ.get("DATABASE_URL", "").startswith("postgres")
                 else None, tmp_path)
    yield made
    made.close()


def test_nodes_killed_mid_step_lose_nothing_and_rerun_each_interrupted_step_once(world):
    with bounded(120):
        scenarios_faults.sigkill(world, "short")


def test_a_worker_paused_past_its_lease_has_its_late_checkpoint_refused(world):
    with bounded(150):
        scenarios_faults.sigstop(world, "short")


def test_a_node_stopped_with_sigterm_exits_0_within_its_grace_and_the_rest_is_recovered(world):
    with bounded(150):
        scenarios_faults.sigterm(world, "short")


def test_a_restarted_database_loses_nothing_and_health_says_degraded_while_down(world):
    if pg_bin() is None:
        pytest.fail("needs PostgreSQL's binaries for a private cluster: apt-get install postgresql")
    with bounded(180):
        scenarios_faults.database_restart(world, "short")


def test_a_step_that_crashes_its_worker_ends_internal_error_and_a_frozen_cluster_is_restarted(world):
    with bounded(180):
        scenarios_faults.crashing_step(world, "short")


def test_fifty_concurrent_switch_sets_wake_the_step_once_and_it_sees_the_last_value(world):
    with bounded(150):
        scenarios_faults.concurrent_switch(world, "short")


def test_a_map_of_300_items_while_a_node_is_killed_runs_each_item_once_and_joins_them_all(world):
    with bounded(240):
        scenarios_fanout.big_map(world, "short")


def test_schedules_on_nodes_killed_around_their_due_times_start_each_due_time_exactly_once(world):
    with bounded(150):
        scenarios_schedules.schedules(world, "short")


def test_a_fault_spec_in_the_environment_arms_named_points_by_probability_or_count():
    armed = faults.parse("after_claim:exit:#3, after_step_before_checkpoint:kill:0.5:slow")
    [nth] = armed[faults.AFTER_CLAIM]
    [chance] = armed[faults.AFTER_STEP_BEFORE_CHECKPOINT]
    assert (nth.action, nth.nth, nth.step) == ("exit", 3, None)
    assert (chance.action, chance.probability, chance.step) == ("kill", 0.5, "slow")
    with pytest.raises(ValueError):
        faults.parse("before_lunch:kill:1")
    [once] = faults.parse("fanout_after_count:kill:once:each")[faults.FANOUT_AFTER_COUNT]
    assert (once.action, once.once, once.nth, once.probability, once.step) == ("kill", True, None, None, "each")


def test_a_once_fault_fires_at_the_first_hit_of_any_process_sharing_its_marker(tmp_path, monkeypatch):
    monkeypatch.setenv("DATP_FAULT_DIR", str(tmp_path))
    fired = []
    monkeypatch.setattr(faults.os, "_exit", fired.append)
    [first] = faults.parse("fanout_after_decide:exit:once")[faults.FANOUT_AFTER_DECIDE]
    [other_process] = faults.parse("fanout_after_decide:exit:once")[faults.FANOUT_AFTER_DECIDE]
    first(None)
    other_process(None)
    first(None)
    assert fired == [70]
    assert (tmp_path / "fault-fanout_after_decide.hit").read_text() == f"{os.getpid()}\n"
