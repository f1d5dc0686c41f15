"""Crashes mid-fan-out (issue 19), with real `datp_node` processes: a worker SIGKILLs itself once at a named
fault point of the fan-out (DATP_FAULT=<point>:kill:once), its lease expires, the node recovers the lost step
run; then no item was started twice or lost, the counters equal the counted items, the join was decided once,
the parent was woken once and ended once, and no child is left running (tests/fanout_facts.py). Two nodes
ending children at the same time keep the counters exact."""
import json

import pytest

pytestmark = pytest.mark.nodes

LEASE = 4


def settled(system, parent, status="success", timeout=120):
    system.wait_for(lambda: system.statuses([parent])[parent] == status, timeout=timeout,
                    what=f"the parent to end {status}")
    report = system.wait_for(lambda: _quiet(system, parent), timeout=60, what="every child to end")
    assert report["problems"] == [], report
    return report["facts"]


def _quiet(system, parent):
    report = system.drive("fanout", parent)
    return report if not report["facts"]["children_active"] else None


def crashed_at(system, point):
    """The pid the fault killed at `point` (its marker file), asserting that it fired."""
    marker = system.tmp / f"fault-{point}.hit"
    assert marker.exists(), f"the fault at {point} never fired"
    return int(marker.read_text())


def lost_runs(system, tx_ids, step):
    return [(tx, run) for tx in tx_ids for run in system.drive("runs", tx) if run[0] == step and run[1] == "lost"]


def children_of(system, parent):
    return [tx for tx in system.drive("status") if tx != parent]


ITEMS = {"items": [{"i": i} for i in range(8)]}


@pytest.mark.parametrize("system", [LEASE], indirect=True)
@pytest.mark.parametrize("point, who", [
    ("fanout_first_window", "parent"),  # the parent's worker, its first 3 children inserted, before commit
    ("fanout_after_count", "child"),    # a child's worker, its end counted, before the next item starts
    ("fanout_after_decide", "child"),   # the last child's worker, the join decided, before the parent wakes
])
def test_a_worker_killed_at_a_fan_out_point_starts_no_item_twice_loses_none_and_wakes_the_parent_once(
        system, point, who):
    system.start_node(workers=2, env={"DATP_FAULT": f"{point}:kill:once"})
    parent = system.drive("start_with", "rt-map", json.dumps(ITEMS))
    facts = settled(system, parent)
    crashed_at(system, point)
    assert (facts["total"], facts["started"], facts["succeeded"], facts["failed"]) == (8, 8, 8, 0), facts
    assert facts["children_successful_step_runs"] == {"1": 8}, facts  # one successful run of each item's step
    assert (facts["outcome"], facts["woken_for_join"] + facts["requeued_for_join"], facts["ended"]) == (
        "success", 1, 1)
    # the killed step run was found lost and ran again with the next attempt; a worker that claimed several
    # children at once (a batch: engine.runtime.executor) loses the steps it ran but had not checkpointed too,
    # each found lost once and run again
    lost = lost_runs(system, [parent], "each") if who == "parent" else lost_runs(
        system, children_of(system, parent), "item")
    assert lost and all(run[2] == 1 for _, run in lost) and len({tx for tx, _ in lost}) == len(lost), lost
    assert len(lost) == 1 or who == "child", lost
    assert [run[:2] for run in system.drive("runs", parent)][-2:] == [["each", "success"], ["after", "success"]]


@pytest.mark.parametrize("system", [LEASE], indirect=True)
def test_a_worker_killed_between_two_cancels_of_a_fail_fast_leaves_no_child_running(system):
    """One item fails at once (join all_success): the parent wakes and cancels its three running siblings;
    its worker dies after the first cancel; its re-run (attempt 2) cancels the other two."""
    # One transaction per claim: each of the three slow siblings must be running on a worker of its own (a
    # worker claiming two would hold the second queued behind the first's 90-second step).
    system.start_node(workers=5, env={"DATP_FAULT": "fanout_between_cancels:kill:once", "DATP_BATCH_MAX": "1"})
    items = {"items": [{"fail": True}] + [{"seconds": 90, "i": i} for i in range(3)]}
    parent = system.drive("start_with", "rt-map-fail-fast", json.dumps(items))
    facts = settled(system, parent, status="failed")
    crashed_at(system, "fanout_between_cancels")
    assert facts["outcome"] == "failed" and facts["children_by_status"] == {"failed": 1, "cancelled": 3}, facts
    assert (facts["counted"], facts["succeeded"], facts["failed"]) == (4, 0, 4), facts
    runs = [run[:3] for run in system.drive("runs", parent)]
    assert ["each", "lost", 1] in runs and runs[-1][:2] == ["each", "failed"], runs


@pytest.mark.postgres_only  # SQLite serialises every writer: the race is PostgreSQL's row locks
@pytest.mark.parametrize("system", [LEASE], indirect=True)
def test_two_nodes_ending_children_at_the_same_time_keep_the_counters_exact(system):
    # Batches of at most 2, and items that work 0.2 s each, so that the children spread over both nodes'
    # workers (a worker claiming 16 at a time, or a node up a few seconds before the other, could end most of
    # them alone) and their ends race on the fan-out's row. The parent starts once both nodes have registered.
    system.start_node(workers=2, env={"DATP_BATCH_MAX": "2"})
    system.start_node(workers=2, env={"DATP_BATCH_MAX": "2"})
    system.wait_for(lambda: len(system.drive("nodes")) == 2, what="both nodes to register")
    items = {"items": [{"i": i, **({"fail": True} if i % 10 == 3 else {"seconds": 0.2})} for i in range(120)]}
    parent = system.drive("start_with", "rt-map-wide", json.dumps(items))
    facts = settled(system, parent, timeout=240)
    assert (facts["started"], facts["succeeded"], facts["failed"], facts["counted"]) == (120, 108, 12, 120), facts
    assert facts["children_by_status"] == {"success": 108, "failed": 12}, facts
    assert facts["children_successful_step_runs"] == {"1": 108}, facts
    assert facts["children_nodes"] == 2 and facts["children_workers"] >= 3, facts  # children ended on both nodes
