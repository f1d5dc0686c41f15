"""The entry points django-q2 runs: a bounded drain of one node group's ready transactions."""
import logging
import os
import time

from django.db import close_old_connections

from engine import conf
from engine.runtime import node_metrics
from engine.runtime.executor import drain as drain_queue
from engine.runtime.heartbeat import heartbeat
from engine.services.nodes import node_is_stopping

logger = logging.getLogger(__name__)
STOP_CHECK_SECONDS = 0.5


def worker_name():
    return f"{os.environ.get('DATP_NODE_ID', 'worker')}/{os.getpid()}"


class StopCheck:
    """Tell, at most every half second from the database, whether this worker's node is stopping."""

    def __init__(self, node_id):
        self._node_id = node_id
        self._checked_at = 0.0
        self._stopping = False

    def __call__(self):
        if self._node_id and not self._stopping and time.monotonic() - self._checked_at >= STOP_CHECK_SECONDS:
            self._checked_at = time.monotonic()
            self._stopping = node_is_stopping(node_id=self._node_id)
        return self._stopping


def drain(node_group):
    """Claim and run ready transactions until none is left or the drain budget passes.

    A drain that stopped on its budget with work left queues its successor, so a busy group keeps
    its workers busy between the supervisor's checks; a stopping node claims nothing more.
    """
    close_old_connections()
    stop = StopCheck(os.environ.get("DATP_NODE_ID"))
    until = time.monotonic() + conf.get("DRAIN_SECONDS")
    count, emptied = drain_queue(node_group=node_group, node=worker_name(), until=until, watch=heartbeat, stop=stop)
    node_metrics.observe("drains", (node_group, "true" if emptied else "false"))
    if not emptied and not stop():
        enqueue_drain(node_group)
    return count


def enqueue_drain(node_group):
    from django_q.tasks import async_task

    async_task("engine.runtime.tasks.drain", node_group, cluster=node_group, q_options={"save": False})
