"""A node's own process figures on `--metrics-port`: step durations, queue wait, wake-up lateness,
webhook attempts, claims and drains.

The supervisor owns a prometheus-client registry and serves it over HTTP. Its workers are other
processes (django-q2 forks them), so they send each observation to the supervisor as one UDP datagram
on loopback (the port is in DATP_METRICS_SINK), fire and forget: no shared files, and a worker never
waits on the figures.
"""
import json
import logging
import os
import socket
import threading

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

logger = logging.getLogger(__name__)
SINK_ENV = "DATP_METRICS_SINK"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class NodeFigures:
    """The figures of one node, in a registry of their own."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.metrics = {
            "step_seconds": Histogram("datp_node_step_duration_seconds", "Time a step's code ran.",
                                      ["pipeline", "step", "outcome"], registry=self.registry),
            "queue_wait_seconds": Histogram("datp_node_queue_wait_seconds",
                                            "From queued (started, woken, retried) to claimed by a worker.",
                                            ["node_group"], buckets=LATENCY_BUCKETS, registry=self.registry),
            "wake_lateness_seconds": Histogram("datp_node_wake_lateness_seconds",
                                               "How late a timer was woken after its wake_at.",
                                               buckets=LATENCY_BUCKETS, registry=self.registry),
            "webhook_attempts": Counter("datp_node_webhook_attempts", "Webhook delivery attempts by result.",
                                        ["result"], registry=self.registry),
            "claims": Counter("datp_node_claims", "Transactions claimed by this node's workers.",
                              ["node_group"], registry=self.registry),
            "drains": Counter("datp_node_drains", "Drain tasks run by this node's workers.",
                              ["node_group", "emptied"], registry=self.registry),
        }

    def record(self, name, labels, value):
        metric = self.metrics.get(name)
        if metric is None:
            return
        if labels:
            metric = metric.labels(*labels)
        if isinstance(metric, Histogram):
            metric.observe(value)
        else:
            metric.inc(value)


class MetricsServer:
    """Serve `figures` on `port` (0 picks a free one) and receive the workers' datagrams."""

    def __init__(self, port, host="127.0.0.1"):
        self.figures = NodeFigures()
        self.server, self._thread = start_http_server(port, addr=host, registry=self.figures.registry)
        self.port = self.server.server_port
        self.sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sink.bind(("127.0.0.1", 0))
        self.sink_port = self.sink.getsockname()[1]
        threading.Thread(target=self._receive, name="datp-metrics-sink", daemon=True).start()

    def _receive(self):
        while True:
            try:
                data = self.sink.recv(65536)
            except OSError:
                return
            try:
                name, labels, value = json.loads(data)
                self.figures.record(name, labels, float(value))
            except (ValueError, TypeError):
                logger.debug("metrics sink: ignored a malformed datagram")

    def close(self):
        self.server.shutdown()
        self.sink.close()


_local = None
_socket = None


def serve(port):
    """Start this process's metrics server; observations in this process then go straight to it."""
    global _local
    _local = MetricsServer(port)
    os.environ[SINK_ENV] = str(_local.sink_port)
    return _local


def observe(name, labels, value=1.0):
    """Record one observation: in-process if this process serves the figures, else to the supervisor."""
    if _local is not None:
        _local.figures.record(name, list(labels), value)
        return
    port = os.environ.get(SINK_ENV)
    if not port:
        return
    global _socket
    try:
        if _socket is None:
            _socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        _socket.sendto(json.dumps([name, list(labels), value]).encode(), ("127.0.0.1", int(port)))
    except (OSError, ValueError):
        pass
