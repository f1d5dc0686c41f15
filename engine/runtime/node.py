"""The node supervisor behind `manage.py datp_node`: runs one group's django-q2 cluster as a child and
the engine's loops itself (wake-ups, deadlines, callback timeouts, lease recovery, await re-checks,
the lost-message sweep, webhook delivery, retention, its own heartbeat), restarts a dead or frozen
cluster, and stops gracefully."""
import logging
import os
import signal
import subprocess
import sys
import threading
import time

from django.conf import settings
from django.db import DatabaseError, InterfaceError, close_old_connections, connection

from engine import clock, conf
from engine.models import NodeGroup, Transaction
from engine.runtime import drain_queue, node_metrics, pg
from engine.runtime.tasks import enqueue_drain
from engine.services import bulk, figures, nodes, waker
from engine.services.prune import transactions_prune
from engine.services.webhooks import webhooks_deliver_due
from engine.states import TxStatus

logger = logging.getLogger("engine.node")
BEAT_SECONDS = 5.0
AWAIT_RECHECK_SECONDS = 2.0
IDLE_WAIT_SECONDS = 1.0
SQLITE_POLL_SECONDS = 0.05
STARVED_SECONDS = 0.5
PRUNE_SECONDS = 60.0
BULK_SECONDS = 1.0
# Each webhook thread claims and sends one delivery at a time: a receiver that answers slowly holds
# one thread up to the timeout, never the deliveries the other threads send meanwhile.
WEBHOOK_THREADS = 4
WEBHOOK_BATCH = 1
WEBHOOK_IDLE_SECONDS = 0.5
TOP_UP_GAP_SECONDS = 0.05


class Cluster:
    """The group's django-q2 cluster, a child process in its own process group."""

    def __init__(self, group, workers, node_id):
        self.group, self.workers, self.node_id = group, workers, node_id
        self.process = None
        self.started_at = 0.0

    def start(self):
        env = {**os.environ, "Q_CLUSTER_NAME": self.group, "DATP_WORKERS": str(self.workers),
               "DATP_NODE_ID": self.node_id, "DATP_DISPATCHER": "django_q"}
        manage = os.path.join(settings.BASE_DIR, "manage.py")
        self.process = subprocess.Popen([sys.executable, manage, "datp_cluster"], env=env, start_new_session=True)
        self.started_at = time.monotonic()
        logger.info("node %s: cluster for %s started (pid %s)", self.node_id, self.group, self.process.pid)

    @property
    def alive(self):
        return self.process is not None and self.process.poll() is None

    def stop(self, grace):
        """SIGTERM to the cluster's main process only; SIGKILL its whole group if it outlives `grace`."""
        if self.process is None:
            return
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                logger.warning("node %s: cluster did not stop within %ss; killing it", self.node_id, grace)
        self.kill()

    def kill(self):
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        self.process = None


class Node:
    def __init__(self, *, group, workers, grace_seconds=None, metrics_port=None):
        self.group = group
        self.metrics_port = metrics_port
        self.metrics = None
        self.workers = workers
        self.grace = conf.get("NODE_GRACE_SECONDS") if grace_seconds is None else grace_seconds
        self.stopping = False
        self.node_id = None
        self.cluster = None
        self.listener = None
        self._beat_at = self._awaits_at = self._pruned_at = self._topped_at = self._bulk_at = 0.0
        self.frozen_watch = drain_queue.FrozenWatch()
        self._webhook_lock = threading.Lock()
        self._webhook_poll_at = 0.0

    def _on_signal(self, signum, frame):
        self.stopping = True

    def run(self):
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        if self.metrics_port is not None:
            self.metrics = node_metrics.serve(self.metrics_port)
            logger.info("node metrics on http://127.0.0.1:%s/metrics", self.metrics.port)
        self.node_id = nodes.node_register(group=self.group, workers=self.workers)
        self.cluster = Cluster(self.group, self.workers, self.node_id)
        self.cluster.start()
        if pg.is_postgres():
            self.listener = pg.Listener([pg.WORK_CHANNEL])
        for number in range(WEBHOOK_THREADS):
            threading.Thread(target=self.send_webhooks, name=f"datp-webhooks-{number}", daemon=True).start()
        logger.info("node %s serving group %s with %s workers", self.node_id, self.group, self.workers)
        while not self.stopping:
            timeout = IDLE_WAIT_SECONDS
            try:
                timeout = self.tick()
            except (DatabaseError, InterfaceError, *drain_queue.BROKER_ERRORS):
                logger.exception("node %s: database or broker unavailable; retrying", self.node_id)
                connection.close()
            self.wait(timeout)
        return self.shutdown()

    def tick(self):
        """Do every duty once; return how long the node may wait before the next tick."""
        close_old_connections()
        self.top_up_drains()
        now = clock.now()
        waker.deadlines_expire(now=now)
        waker.callbacks_expire(now=now)
        waker.leases_recover(now=now)
        while waker.sleepers_wake_due(now=now, on_woken=self._observe_lateness):
            pass
        if time.monotonic() - self._awaits_at >= AWAIT_RECHECK_SECONDS:
            self._awaits_at = time.monotonic()
            waker.awaits_recheck(now=now)
        self.top_up_drains()
        self.prune()
        figures.figures_refresh(now=now, if_older_than_seconds=figures.REFRESH_SECONDS)
        if time.monotonic() - self._bulk_at >= BULK_SECONDS:
            self._bulk_at = time.monotonic()
            bulk.bulk_jobs_run(now=now, budget_seconds=bulk.NODE_BUDGET_SECONDS)
        if time.monotonic() - self._beat_at >= BEAT_SECONDS:
            self._beat_at = time.monotonic()
            if not nodes.node_beat(node_id=self.node_id):
                self.node_id = nodes.node_register(group=self.group, workers=self.workers)
        self.watch_cluster()
        due = waker.next_due_at()
        if due is None:
            return IDLE_WAIT_SECONDS
        return max(0.0, min(IDLE_WAIT_SECONDS, (due - clock.now()).total_seconds()))

    @staticmethod
    def _observe_lateness(wake_at):
        node_metrics.observe("wake_lateness_seconds", (), max(0.0, (clock.now() - wake_at).total_seconds()))

    def top_up_drains(self):
        """The lost-message sweep too: while queued work exists, keep a drain queued per worker of the
        group's live nodes, and one more whenever work has waited with none pending (a cluster whose
        workers are all busy may have prefetched the others)."""
        if NodeGroup.objects.filter(pk=self.group, paused=True).exists():
            return
        oldest = (Transaction.objects.filter(node_group_id=self.group, status=TxStatus.QUEUED)
                  .order_by("queued_at").values_list("queued_at", flat=True).first())
        if oldest is None:
            return
        now = clock.now()
        workers = nodes.group_workers(group=self.group)
        pending, running = drain_queue.counts(self.group, now=now, workers=workers)
        wanted = max(0, workers - pending - running)
        if not wanted and not pending and (now - oldest).total_seconds() > STARVED_SECONDS:
            wanted = 1
        for _ in range(wanted):
            enqueue_drain(self.group)

    def send_webhooks(self):
        """Deliver due webhooks on a thread of its own, so a slow receiver never holds up the loops."""
        while not self.stopping:
            try:
                sent = webhooks_deliver_due(limit=WEBHOOK_BATCH)
                for result, count in sent.items():
                    if count:
                        node_metrics.observe("webhook_attempts", (result,), count)
                busy = any(sent.values())
            except (DatabaseError, InterfaceError):
                logger.exception("node %s: webhook delivery failed; retrying", self.node_id)
                connection.close()
                busy = False
            if not busy:
                time.sleep(self._webhook_turn())
        connection.close()

    def _webhook_turn(self):
        """How long an idle webhook thread sleeps: idle threads take turns, so that together they look for
        due deliveries once every WEBHOOK_IDLE_SECONDS (not each of them: that was most of an idle
        node's CPU), and a thread held by a slow receiver never delays the others' look."""
        with self._webhook_lock:
            now = time.monotonic()
            self._webhook_poll_at = max(now, self._webhook_poll_at) + WEBHOOK_IDLE_SECONDS
            return self._webhook_poll_at - now

    def prune(self):
        """With DATP_RETENTION set, delete finished transactions older than it, once a minute."""
        retention = conf.get("RETENTION")
        if not retention or time.monotonic() - self._pruned_at < PRUNE_SECONDS:
            return
        self._pruned_at = time.monotonic()
        deleted = transactions_prune(older_than=retention)
        if deleted:
            logger.info("node %s: pruned %s transactions older than %s", self.node_id, deleted, retention)

    def watch_cluster(self):
        """Restart a cluster that died, or that has left a drain unpicked for too long (frozen)."""
        if not self.cluster.alive:
            logger.warning("node %s: cluster exited; restarting it", self.node_id)
            self.cluster.kill()
            self.cluster.start()
            return
        frozen_for = conf.get("FROZEN_CLUSTER_SECONDS")
        if time.monotonic() - self.cluster.started_at < frozen_for:
            return
        if self.frozen_watch.frozen(self.group, self.node_id, now=clock.now(), seconds=frozen_for):
            logger.warning("node %s: cluster left a drain unpicked for %ss; restarting it", self.node_id, frozen_for)
            self.cluster.kill()
            self.cluster.start()

    def wait(self, timeout):
        """Wait until the next tick is due. A notice of work for this group only tops its drains up: a
        whole tick for every started transaction cost the node more CPU than running it."""
        if self.stopping:
            return
        if self.listener is None:
            time.sleep(min(timeout, SQLITE_POLL_SECONDS))
            return
        until = time.monotonic() + timeout
        owed = False  # a notice came within TOP_UP_GAP_SECONDS of the last top-up: one top-up serves a burst
        while not self.stopping:
            now = time.monotonic()
            if owed and now - self._topped_at >= TOP_UP_GAP_SECONDS:
                owed, self._topped_at = False, now
                try:
                    self.top_up_drains()
                except (DatabaseError, InterfaceError):
                    return
            if now >= until:
                return  # the tick is due (and tops up first)
            wake = min(until, self._topped_at + TOP_UP_GAP_SECONDS) if owed else until
            payloads = self.listener.wait(max(0.0, wake - now))
            if None in payloads:
                return  # the listener reconnected and may have missed notices
            if self.group in payloads:
                owed = True

    def shutdown(self):
        logger.info("node %s stopping (grace %ss)", self.node_id, self.grace)
        try:
            nodes.node_stopping(node_id=self.node_id)
        except (DatabaseError, InterfaceError):
            logger.exception("node %s: could not mark itself stopping", self.node_id)
        self.cluster.stop(self.grace)
        if self.listener is not None:
            self.listener.close()
        try:
            nodes.node_remove(node_id=self.node_id)
        except (DatabaseError, InterfaceError):
            logger.exception("node %s: could not deregister", self.node_id)
        logger.info("node %s stopped", self.node_id)
        return 0
