"""PostgreSQL LISTEN/NOTIFY, the one home of the engine's notices: the channels, whether notices are sent,
sending one inside the current database transaction (delivered when it commits), and the LISTEN side.

Services send through it; the runtime (nodes, workers, the queue broker) and the API's finish listener
listen through it. It imports nothing of the engine but its settings, so any layer may use it.
"""
import logging

import psycopg
from django.db import connection, connections

from engine import conf

logger = logging.getLogger(__name__)

WORK_CHANNEL = "datp_work"  # payload: the node group that has work queued, or one of the two below
WEBHOOK_NOTICE = "webhook"  # a webhook delivery is due now
STOP_NOTICE = "stop"  # a node is stopping: its standby workers end their drains
FINISHED_CHANNEL = "datp_finished"  # payload: the id of a transaction that just finished
QUEUE_CHANNEL = "datp_q"  # django-q2's queue (engine.runtime.broker); payload: the queue's key


def is_postgres(alias="default"):
    return connections[alias].vendor == "postgresql"


def sends_notices():
    """Whether the engine's notices are sent at all: not with the inline dispatcher of the tests (nothing
    listens there). Statements that NOTIFY from SQL take this as a parameter."""
    return conf.get("DISPATCHER") != "inline"


def notify(channel, payload):
    """NOTIFY on the default connection: inside an atomic block it is delivered when that commits."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [channel, payload])


def notify_work(node_group):
    """Tell `node_group`'s nodes that work is queued (PostgreSQL, notices on)."""
    if sends_notices() and is_postgres():
        notify(WORK_CHANNEL, node_group)


def notify_webhook_due():
    """Wake the nodes' webhook threads: a delivery is due (PostgreSQL, notices on)."""
    if sends_notices() and is_postgres():
        notify(WORK_CHANNEL, WEBHOOK_NOTICE)


def notify_stopping():
    """Tell the workers waiting for work that a node is stopping (PostgreSQL, whatever the dispatcher:
    the notice is for the node's own workers, not for work handed out)."""
    if is_postgres():
        notify(WORK_CHANNEL, STOP_NOTICE)


def notify_finished(tx_id):
    """Tell the web processes' finish listeners that `tx_id` finished (PostgreSQL, notices on)."""
    if sends_notices() and is_postgres():
        notify(FINISHED_CHANNEL, tx_id)


class Listener:
    """A connection of its own that LISTENs on some channels; `wait()` returns the payloads received."""

    def __init__(self, channels, alias="default"):
        self._channels = list(channels)
        self._alias = alias
        self._conn = None

    def _connect(self):
        params = connections[self._alias].get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        params.pop("prepare_threshold", None)
        self._conn = psycopg.connect(autocommit=True, **params)
        for channel in self._channels:
            self._conn.execute(f'LISTEN "{channel}"')

    def wait(self, timeout):
        """Block up to `timeout` seconds for notifications; return their payloads (possibly empty), or
        [None] when the connection was lost (it reconnects on the next call)."""
        try:
            if self._conn is None or self._conn.closed:
                self._connect()
            notices = self._conn.notifies(timeout=max(0.0, timeout), stop_after=1)
            return [notice.payload for notice in notices]
        except (psycopg.Error, OSError, ValueError) as exc:
            logger.warning("LISTEN connection lost (%s); reconnecting", exc)
            self.close()
            return [None]

    def close(self):
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
        self._conn = None
