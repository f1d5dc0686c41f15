"""Real `datp_node` processes: end to end, restarts, kills, a paused worker, several nodes."""
import os
import signal
import time
from collections import Counter

import pytest

pytestmark = pytest.mark.nodes


def test_pipeline_runs_end_to_end_on_a_real_node(system):
    node = system.start_node()
    tx_ids = system.drive("start", "rt-quick", 20)
    system.all_finished(tx_ids)
    assert Counter(line.split()[0] for line in system.runlog_lines()) == {tx: 3 for tx in tx_ids}
    assert system.stop_node(node) == 0


def test_sleeping_transaction_survives_a_node_restart(system):
    node = system.start_node()
    [tx] = system.drive("start", "rt-sleep")
    system.wait_for(lambda: system.statuses([tx])[tx] == "sleeping", what="sleeping")
    assert system.stop_node(node) == 0
    assert system.statuses([tx])[tx] == "sleeping"
    system.start_node()
    system.all_finished([tx])
    assert [run[:2] for run in system.drive("runs", tx)] == [
        ["nap", "sleeping"], ["nap", "success"], ["after", "success"]]


def test_switch_set_from_another_process_wakes_a_sleeper(system):
    system.start_node()
    [tx] = system.drive("start", "rt-switch")
    system.wait_for(lambda: system.statuses([tx])[tx] == "sleeping", what="sleeping")
    assert system.drive("set_switch", tx, "go", "true") == "woken"
    system.all_finished([tx])


@pytest.mark.parametrize("system", [4], indirect=True)
def test_node_killed_mid_step_is_recovered_and_the_transaction_finishes(system):
    node = system.start_node()
    [tx] = system.drive("start", "rt-slow")
    system.wait_for(lambda: any(" start " in line for line in system.runlog_lines()), what="the slow step to start")
    system.kill_node(node)
    system.start_node()
    system.all_finished([tx])
    runs = system.drive("runs", tx)
    assert [run[:3] for run in runs] == [["slow", "lost", 1], ["slow", "success", 2], ["after", "success", 1]]


@pytest.mark.parametrize("system", [3], indirect=True)
def test_worker_paused_past_its_lease_has_its_late_write_refused(system):
    system.start_node(workers=1)
    system.start_node(workers=1)
    [tx] = system.drive("start", "rt-slow")
    [(_, worker)] = system.wait_for(lambda: system.drive("running"), what="a running step")
    pid = int(worker.rsplit("/", 1)[1])
    os.kill(pid, signal.SIGSTOP)
    try:
        # Recovery re-queues the step once the lease (3 s) expires; the other worker runs it again.
        system.all_finished([tx])
    finally:
        os.kill(pid, signal.SIGCONT)
    time.sleep(6)  # the paused worker wakes, finishes its step and tries to checkpoint it
    runs = system.drive("runs", tx)
    assert [run[:3] for run in runs] == [["slow", "lost", 1], ["slow", "success", 2], ["after", "success", 1]]
    assert runs[1][3].endswith(f"/{pid}") is False
    assert system.statuses([tx])[tx] == "success"


def test_two_nodes_on_one_group_never_run_a_step_twice(system):
    # Queued before the nodes start, so that every worker finds work at once: a worker that claims in batches
    # could otherwise run all 150 before the others' first look at the queue.
    tx_ids = system.drive("start", "rt-quick", 150)
    system.start_node(workers=2)
    system.start_node(workers=2)
    system.all_finished(tx_ids)
    executions = Counter((line.split()[0], line.split()[1]) for line in system.runlog_lines())
    assert len(executions) == 150 * 3
    assert set(executions.values()) == {1}
    workers = {line.split()[4] for line in system.runlog_lines()}
    assert len(workers) >= 2


def test_sigterm_lets_the_running_step_finish_and_the_node_exits_0(system):
    node = system.start_node(grace=20)
    [tx] = system.drive("start", "rt-slow")
    system.wait_for(lambda: any(" start " in line for line in system.runlog_lines()), what="the slow step to start")
    started = time.monotonic()
    assert system.stop_node(node) == 0
    assert time.monotonic() - started < 20
    runs = system.drive("runs", tx)
    assert runs[0][:3] == ["slow", "success", 1]
    # The next step was not started by the stopping node; another node finishes the transaction.
    assert system.statuses([tx])[tx] in ("queued", "running")
    system.start_node()
    system.all_finished([tx])
    assert [line.split()[2] for line in system.runlog_lines()].count("start") == 1


def test_a_dead_cluster_is_restarted_by_its_node(system):
    node = system.start_node()
    [cluster] = system.wait_for(lambda: system._cluster_groups(node), what="the cluster process")
    os.killpg(cluster, signal.SIGKILL)
    tx_ids = system.drive("start", "rt-quick", 5)
    system.all_finished(tx_ids)
    assert node.poll() is None
    assert system.stop_node(node) == 0
