"""A worker's heartbeat: one thread per worker process renews the lease of the step it is running."""
import logging
import threading

from django.db import connection

from engine import conf
from engine.models import StepRun
from engine.services.execution import lease_renew
from engine.states import StepRunStatus

logger = logging.getLogger(__name__)


class Heartbeat:
    """Call the instance with the current Run (or None); a daemon thread renews that run's lease."""

    def __init__(self):
        self._current = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread = None

    def __call__(self, run):
        with self._lock:
            self._current = run
        if run is not None and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="datp-heartbeat", daemon=True)
            self._thread.start()

    def _loop(self):
        interval = max(0.5, conf.get("LEASE_SECONDS") / 3)
        while True:
            self._wake.wait(interval)
            self.beat()

    def beat(self):
        """Renew the current run's lease once. A run that ended while it was being renewed gave its
        lease back (or handed it to the next step): only a run recovery marked lost is reported."""
        with self._lock:
            run = self._current
        if run is None:
            return
        try:
            if not lease_renew(lease=run.lease) and StepRun.objects.filter(
                    pk=run.run_id, status=StepRunStatus.LOST).exists():
                logger.warning("%s: heartbeat found the lease lost", run.tx_id)
        except Exception:  # the database may be restarting: the next beat tries again
            logger.exception("heartbeat failed")
            connection.close()


heartbeat = Heartbeat()
