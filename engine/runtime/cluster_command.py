"""`manage.py datp_cluster`: django-q2's qcluster with an orphan watch.

A node runs its group's cluster as a child in a process group of its own. If the node dies without
stopping it (SIGKILL, the OOM killer), the cluster must not run on unsupervised: the watch sees its
parent change and kills the cluster's whole process group. Steps it was running are recovered by
lease, exactly as after a SIGKILL of the whole node.
"""
import logging
import os
import signal
import threading
import time

from django_q.management.commands.qcluster import Command as QclusterCommand

logger = logging.getLogger("engine.node")
WATCH_SECONDS = 0.5


def watch_parent(parent_pid, interval=WATCH_SECONDS):
    """Kill this process group once the parent `parent_pid` is gone (we were re-parented)."""
    while os.getppid() == parent_pid:
        time.sleep(interval)
    logger.warning("cluster %s: its node %s is gone; stopping the cluster", os.getpid(), parent_pid)
    os.killpg(os.getpgid(0), signal.SIGKILL)


class Command(QclusterCommand):
    help = "Run a node group's django-q2 cluster that stops itself when its node is gone (started by datp_node)."

    def handle(self, *args, **options):
        threading.Thread(target=watch_parent, args=(os.getppid(),), name="datp-orphan-watch", daemon=True).start()
        return super().handle(*args, **options)
