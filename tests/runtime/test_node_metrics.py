"""A node's own figures on --metrics-port: workers in other processes report to the supervisor over
loopback UDP, and the supervisor serves them for Prometheus."""
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from engine.runtime import node_metrics

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def sample(text, line_start):
    """The value of the first sample line starting with `line_start`, or None."""
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_observations_from_another_process_reach_the_supervisors_figures():
    server = node_metrics.MetricsServer(0)
    try:
        code = ("from engine.runtime import node_metrics as m;"
                "m.observe('step_seconds', ('p', 's', 'success'), 0.02);"
                "m.observe('claims', ('master',)); m.observe('claims', ('master',))")
        env = {**os.environ, node_metrics.SINK_ENV: str(server.sink_port)}
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=60)
        deadline = time.monotonic() + 5
        text = scrape(server.port)
        while sample(text, 'datp_node_claims_total{node_group="master"}') != 2.0 and time.monotonic() < deadline:
            time.sleep(0.05)
            text = scrape(server.port)
        assert sample(text, 'datp_node_claims_total{node_group="master"}') == 2.0
        assert sample(text, 'datp_node_step_duration_seconds_count{outcome="success",pipeline="p",step="s"}') == 1.0
    finally:
        server.close()


def test_a_malformed_datagram_is_ignored():
    server = node_metrics.MetricsServer(0)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"not json", ("127.0.0.1", server.sink_port))
            s.sendto(b'["claims", ["g"], 1]', ("127.0.0.1", server.sink_port))
        deadline = time.monotonic() + 5
        while sample(scrape(server.port), 'datp_node_claims_total{node_group="g"}') != 1.0:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        server.close()


def test_observing_without_a_sink_sends_nothing(monkeypatch):
    monkeypatch.delenv(node_metrics.SINK_ENV, raising=False)
    monkeypatch.setattr(node_metrics, "_local", None)
    monkeypatch.setattr(node_metrics, "_socket", None)
    node_metrics.observe("claims", ("master",))
    assert node_metrics._socket is None  # no socket was opened, and nothing raised


@pytest.mark.nodes
def test_a_real_node_serves_its_steps_claims_drains_and_lateness(system):
    port = free_port()
    system.start_node(extra=["--metrics-port", str(port)])
    tx_ids = system.drive("start", "rt-quick", 5)
    [sleeper] = system.drive("start", "rt-sleep")
    system.all_finished(tx_ids)
    system.all_finished([sleeper])

    def figures():
        text = scrape(port)
        steps = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                    if line.startswith("datp_node_step_duration_seconds_count{") and 'pipeline="rt-quick"' in line)
        return text if steps == 15 and sample(text, "datp_node_wake_lateness_seconds_count") else None

    text = system.wait_for(figures, timeout=20, what="the node's figures")
    assert sample(text, 'datp_node_claims_total{node_group="master"}') >= 6
    assert "datp_node_drains_total" in text
    assert sample(text, 'datp_node_queue_wait_seconds_count{node_group="master"}') >= 6
