"""One listener per web process: wakes the requests that wait for a transaction to finish.

A daemon thread, started on the first long poll. On PostgreSQL it LISTENs on `datp_finished` (the
engine NOTIFYs a transaction's id when it finishes); on SQLite it reads, every 0.2 s and in one
query, the statuses of the transactions waited on. Waiting requests block on an Event and hold no
database connection; only this thread touches the database, briefly.

The LISTEN connection comes from `engine.notices`, the engine's one LISTEN/NOTIFY module.
"""
import logging
import threading
import time

from django.db import close_old_connections, connection

from engine.models import Transaction
from engine.notices import FINISHED_CHANNEL, Listener, is_postgres
from engine.states import TX_TERMINAL_VALUES

logger = logging.getLogger(__name__)

SQLITE_POLL_SECONDS = 0.2
# On PostgreSQL a sweep of the waited-on statuses backs NOTIFY up: after (re)connecting, and now and then.
SAFETY_SWEEP_SECONDS = 5.0
LISTEN_TIMEOUT_SECONDS = 1.0


class FinishListener:
    def __init__(self):
        self._lock = threading.Lock()
        self._waiters = {}  # tx_id -> set of Events
        self._thread = None

    def register(self, tx_id):
        """Return an Event set when `tx_id` finishes; start the thread on first use."""
        event = threading.Event()
        with self._lock:
            self._waiters.setdefault(tx_id, set()).add(event)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="datp-finish-listener", daemon=True)
                self._thread.start()
        return event

    def unregister(self, tx_id, event):
        with self._lock:
            events = self._waiters.get(tx_id)
            if events is not None:
                events.discard(event)
                if not events:
                    del self._waiters[tx_id]

    def waiting_on(self):
        with self._lock:
            return list(self._waiters)

    def wake(self, tx_ids):
        with self._lock:
            for tx_id in tx_ids:
                for event in self._waiters.pop(tx_id, ()):
                    event.set()

    def sweep(self):
        """Wake the waiters of every waited-on transaction that has finished (one query)."""
        tx_ids = self.waiting_on()
        if not tx_ids:
            return
        try:
            finished = list(Transaction.objects.filter(pk__in=tx_ids, status__in=TX_TERMINAL_VALUES)
                            .values_list("pk", flat=True))
        finally:
            connection.close()
        self.wake(finished)

    def _run(self):
        try:
            if is_postgres():
                self._listen()
            else:
                self._poll()
        except Exception:  # the thread must not die silently; the next long poll starts another
            logger.exception("finish listener stopped")
        finally:
            close_old_connections()

    def _poll(self):
        while True:
            try:
                self.sweep()
            except Exception as exc:
                logger.warning("finish listener poll failed (%s)", exc)
            time.sleep(SQLITE_POLL_SECONDS)

    def _listen(self):
        source = Listener([FINISHED_CHANNEL])
        need_sweep, last_sweep = True, 0.0
        while True:
            payloads = source.wait(0 if need_sweep else LISTEN_TIMEOUT_SECONDS)
            if None in payloads:  # the LISTEN connection was lost: reconnect, then sweep
                need_sweep = True
                time.sleep(0.5)
                continue
            self.wake(payloads)
            if need_sweep or time.monotonic() - last_sweep >= SAFETY_SWEEP_SECONDS:
                try:
                    self.sweep()
                    need_sweep, last_sweep = False, time.monotonic()
                except Exception as exc:
                    logger.warning("finish listener sweep failed (%s)", exc)
                    time.sleep(0.5)


listener = FinishListener()
