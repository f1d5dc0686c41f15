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

from engine import clock, conf, notices
from engine.models import NodeGroup, Transaction
from engine.runtime import drain_queue, node_metrics
from engine.runtime.tasks import enqueue_drain
from engine.services import bulk, duties, figures, nodes, schedule_fire, waker
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
TOP_UP_GAP_SECONDS = 0.05
FRESH_CONNECTION_SECONDS = 60.0
FIGURES_UNCHANGED_SECONDS = 300.0  # figures nothing changed are still recomputed this often (minutes settle)
CLUSTER_WATCH_SECONDS = 5.0
HOUSEKEEPING_SECONDS = 1.0
WEBHOOK_WAIT_SECONDS = 30.0  # an idle webhook thread also looks this often, notice or not


def _has_come(moment, now):
    return moment is not None and moment <= now


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
        self._fresh_at = self._figures_at = self._figures_forced_at = self._watched_at = 0.0
        self._figures_journal = None
        self._due = None  # the tick's last answers (engine.services.duties), read by the housekeeping thread
        self.webhooks_due = threading.Event()
        self.frozen_watch = drain_queue.FrozenWatch()

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
        if notices.is_postgres():
            self.listener = notices.Listener([notices.WORK_CHANNEL])
        for number in range(WEBHOOK_THREADS):
            threading.Thread(target=self.send_webhooks, name=f"datp-webhooks-{number}", daemon=True).start()
        threading.Thread(target=self.housekeep, name="datp-housekeeping", daemon=True).start()
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
        """Do every duty that has something to do; return how long the node may wait before the next tick.

        One read (engine.services.duties) tells which duties have work and when the next will."""
        if time.monotonic() - self._fresh_at >= FRESH_CONNECTION_SECONDS:
            self._fresh_at = time.monotonic()
            close_old_connections()
        due = duties.duties_due(group=self.group)
        now = clock.now()
        ran = False
        if due.queued:
            self.top_up_drains()
        if _has_come(due.deadline, now):
            ran |= bool(waker.deadlines_expire(now=now))
        if _has_come(due.callback, now):
            ran |= bool(waker.callbacks_expire(now=now))
        if _has_come(due.lease, now):
            ran |= bool(waker.leases_recover(now=now))
        if _has_come(due.timer, now):
            while waker.sleepers_wake_due(now=now, on_woken=self._observe_lateness):
                ran = True
        if _has_come(due.schedule, now):
            ran |= bool(schedule_fire.schedules_fire(now=now))
        if time.monotonic() - self._awaits_at >= AWAIT_RECHECK_SECONDS:
            self._awaits_at = time.monotonic()
            ran |= bool(waker.awaits_recheck(now=now))
        if ran:
            self.top_up_drains()
        if _has_come(due.webhook, now):
            self.webhooks_due.set()
        self._due = due
        if time.monotonic() - self._beat_at >= BEAT_SECONDS:
            self._beat_at = time.monotonic()
            if not nodes.node_beat(node_id=self.node_id):
                self.node_id = nodes.node_register(group=self.group, workers=self.workers)
        self.watch_cluster()
        if ran:
            return 0.0  # what was done may have moved the next moments: ask again at once
        moments = due.moments()
        if not moments:
            return IDLE_WAIT_SECONDS
        return max(0.0, min(IDLE_WAIT_SECONDS, (min(moments) - clock.now()).total_seconds()))

    def housekeep(self):
        """Figures, bulk jobs and retention, on a thread of their own: a refresh over a big table or a
        bulk job's batch must never delay a timer, a deadline or a lease recovery of the tick."""
        while not self.stopping:
            try:
                self.housekeep_once()
            except (DatabaseError, InterfaceError):
                logger.exception("node %s: housekeeping failed; retrying", self.node_id)
                connection.close()
            time.sleep(HOUSEKEEPING_SECONDS)
        connection.close()

    def housekeep_once(self):
        due, now = self._due, clock.now()
        self.prune()
        self.refresh_figures(due, now)
        if (due is None or due.bulk) and time.monotonic() - self._bulk_at >= BULK_SECONDS:
            self._bulk_at = time.monotonic()
            bulk.bulk_jobs_run(now=now, budget_seconds=bulk.NODE_BUDGET_SECONDS)

    def refresh_figures(self, due, now):
        """Every REFRESH_SECONDS, unless nothing was journaled since this node's last refresh (an idle
        node with a million sleepers must not count them again and again)."""
        if time.monotonic() - self._figures_at < figures.REFRESH_SECONDS:
            return
        self._figures_at = time.monotonic()
        if due is not None and due.journal == self._figures_journal \
                and time.monotonic() - self._figures_forced_at < FIGURES_UNCHANGED_SECONDS:
            return
        self._figures_forced_at = time.monotonic()
        if figures.figures_refresh(now=now, if_older_than_seconds=figures.REFRESH_SECONDS) and due is not None:
            self._figures_journal = due.journal

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
                # Idle threads wait until the tick sees a delivery due (its retry time came, or a webhook
                # notice arrived); polling for them was most of an idle node's CPU.
                self.webhooks_due.wait(WEBHOOK_WAIT_SECONDS)
                self.webhooks_due.clear()
        connection.close()

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
        if time.monotonic() - self._watched_at < min(CLUSTER_WATCH_SECONDS, frozen_for / 3):
            return
        self._watched_at = time.monotonic()
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
            if notices.WEBHOOK_NOTICE in payloads:
                self.webhooks_due.set()

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
