"""PostgreSQL LISTEN/NOTIFY: a dedicated listening connection, and NOTIFY inside the current transaction."""
import logging

import psycopg
from django.db import connection, connections

logger = logging.getLogger(__name__)

WORK_CHANNEL = "datp_work"
WEBHOOK_NOTICE = "webhook"  # on WORK_CHANNEL: a webhook delivery is due now
QUEUE_CHANNEL = "datp_q"


def is_postgres(alias="default"):
    return connections[alias].vendor == "postgresql"


def notify(channel, payload):
    """NOTIFY on the default connection: inside an atomic block it is delivered when that commits."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [channel, payload])


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
        """Block up to `timeout` seconds for notifications; return their payloads (possibly empty)."""
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
