"""A cluster whose node died without stopping it stops itself, and another node finishes its work."""
import os
import signal
import subprocess

import pytest

pytestmark = pytest.mark.nodes


def group_members(pgid):
    out = subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in out]


def test_a_cluster_stops_itself_when_its_node_is_killed_alone(system):
    node = system.start_node()
    [tx] = system.drive("start", "rt-switch")
    system.wait_for(lambda: system.statuses([tx])[tx] == "sleeping", what="sleeping")
    [cluster_pgid] = system.wait_for(lambda: system._cluster_groups(node), what="the node's cluster")
    assert group_members(cluster_pgid)
    os.kill(node.pid, signal.SIGKILL)  # the supervisor alone: its cluster is in a process group of its own
    node.wait(timeout=30)
    system.wait_for(lambda: not group_members(cluster_pgid), timeout=30, what="the orphaned cluster to stop")
    system.start_node()
    assert system.drive("set_switch", tx, "go", "true") == "woken"
    system.all_finished([tx])
