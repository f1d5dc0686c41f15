"""The entry points django-q2 runs: a bounded drain of one node group's ready transactions."""
import logging
import os
import time

from django.db import close_old_connections
from django_q.tasks import async_task

from engine import conf, notices
from engine.runtime import executor, node_metrics
from engine.runtime.heartbeat import heartbeat
from engine.services import nodes

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

    def now(self):
        """Look at the flag on the next call, whenever it was last read (a stop notice came)."""
        self._checked_at = 0.0

    def heard_no_stop(self):
        """Notices arrived and none was a stop: count the flag as read just now."""
        self._checked_at = time.monotonic()

    def __call__(self):
        if self._node_id and not self._stopping and time.monotonic() - self._checked_at >= STOP_CHECK_SECONDS:
            self._checked_at = time.monotonic()
            self._stopping = nodes.node_is_stopping(node_id=self._node_id)
        return self._stopping


def drain(node_group):
    """Claim and run ready transactions until none is left or the drain budget passes.

    A drain that stopped on its budget with work left queues its successor, so a busy group keeps
    its workers busy between the supervisor's checks; a stopping node claims nothing more.
    On PostgreSQL a drain that found the queue empty stays on standby: it waits for the group's work
    notices on a LISTEN connection of its worker and claims at once (a switch set, a timer woken, a
    transaction started run within milliseconds, not after a trip through the supervisor and
    django-q2's queue); after STANDBY_SECONDS it hands over to a fresh standby drain.
    """
    close_old_connections()
    stop = StopCheck(os.environ.get("DATP_NODE_ID"))
    listener = standby_notices()
    standby_until = time.monotonic() + conf.get("STANDBY_SECONDS")
    total = 0
    while True:
        until = time.monotonic() + conf.get("DRAIN_SECONDS")
        count, emptied = executor.drain(node_group=node_group, node=worker_name(), until=until, watch=heartbeat,
                                        stop=stop)
        total += count
        node_metrics.observe("drains", (node_group, "true" if emptied else "false"))
        if stop():
            return total
        if not emptied:
            enqueue_drain(node_group)  # work left after the budget: a successor
            return total
        if listener is not None and time.monotonic() >= standby_until:
            enqueue_drain(node_group)  # a fresh standby drain
            return total
        if listener is None:
            return total
        heard = wait_for_work(listener, node_group, standby_until)
        if notices.STOP_NOTICE in heard:
            stop.now()
        elif heard and None not in heard:
            stop.heard_no_stop()  # a stop would have come as a notice too: no need to read the flag now


def wait_for_work(listener, node_group, standby_until):
    """Wait for a notice that may concern this drain: its group's work, a stop, a reconnection (which may
    have lost notices), or STANDBY_CHECK_SECONDS without any; return what was heard."""
    checked_at = time.monotonic() + STANDBY_CHECK_SECONDS
    while True:
        left = min(checked_at, standby_until) - time.monotonic()
        if left <= 0:
            return []
        heard = listener.wait(left)
        if node_group in heard or notices.STOP_NOTICE in heard or None in heard:
            return heard


# A standby drain also reads its node's stopping flag this often (a stop notice normally comes first).
STANDBY_CHECK_SECONDS = 10.0
_notices = []


def standby_notices():
    """This worker's LISTEN connection for work notices (PostgreSQL), kept for the process; else None."""
    if not notices.is_postgres():
        return None
    if not _notices:
        _notices.append(notices.Listener([notices.WORK_CHANNEL]))
    return _notices[0]


def enqueue_drain(node_group):
    async_task("engine.runtime.tasks.drain", node_group, cluster=node_group, q_options={"save": False})
