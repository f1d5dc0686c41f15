"""A worker's heartbeat: one thread per worker process renews the lease of the step it is running."""
import logging
import threading

from django.db import connection

from engine import conf
from engine.models import StepRun
from engine.services.execution import lease_renew
from engine.services.runs import Run
from engine.states import StepRunStatus

logger = logging.getLogger(__name__)


class Heartbeat:
    """Call the instance with the current Runs (a Run, several, or None); a daemon thread renews their leases."""

    def __init__(self):
        self._current = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread = None

    def __call__(self, runs):
        with self._lock:
            self._current = runs
        if runs and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="datp-heartbeat", daemon=True)
            self._thread.start()

    def _loop(self):
        interval = max(0.5, conf.get("LEASE_SECONDS") / 3)
        while True:
            self._wake.wait(interval)
            self.beat()

    def beat(self):
        """Renew the current runs' leases once, one statement each (so it never holds two rows' locks at once).
        A run that ended while it was being renewed gave its lease back (or handed it to the next step): only
        a run recovery marked lost is reported."""
        with self._lock:
            current = self._current
        runs = [] if current is None else [current] if isinstance(current, Run) else list(current)
        try:
            for run in runs:
                if not lease_renew(lease=run.lease) and StepRun.objects.filter(
                        pk=run.run_id, status=StepRunStatus.LOST).exists():
                    logger.warning("%s: heartbeat found the lease lost", run.tx_id)
        except Exception:  # the database may be restarting: the next beat tries again
            logger.exception("heartbeat failed")
            connection.close()


heartbeat = Heartbeat()
