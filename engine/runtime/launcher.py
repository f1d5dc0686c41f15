"""`make run`: the whole system on one machine: the web server and one node per node group (groups
created while it runs get theirs too), until Ctrl-C, which stops everything cleanly."""
import logging
import os
import signal
import subprocess
import sys
import time

from django.conf import settings

from engine.models import NodeGroup

logger = logging.getLogger("engine.launcher")
GROUP_CHECK_SECONDS = 2.0


class Launcher:
    def __init__(self, *, address="127.0.0.1:8000", workers=2):
        self.address = address
        self.workers = workers
        self.web = None
        self.nodes = {}
        self.stopping = False

    def _spawn(self, *args):
        manage = os.path.join(settings.BASE_DIR, "manage.py")
        # Each child gets its own session, so Ctrl-C reaches only this process, which stops them in order.
        return subprocess.Popen([sys.executable, manage, *args], start_new_session=True)

    def _on_signal(self, signum, frame):
        self.stopping = True

    def run(self):
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        self.web = self._spawn("runserver", self.address, "--noreload")
        while not self.stopping:
            self.ensure_nodes()
            deadline = time.monotonic() + GROUP_CHECK_SECONDS
            while not self.stopping and time.monotonic() < deadline:
                time.sleep(0.1)
        return self.shutdown()

    def ensure_nodes(self):
        for group in NodeGroup.objects.order_by("name").values_list("name", flat=True):
            process = self.nodes.get(group)
            if process is None or process.poll() is not None:
                if process is not None:
                    logger.warning("node for %s exited (%s); starting it again", group, process.returncode)
                self.nodes[group] = self._spawn("datp_node", "--group", group, "--workers", str(self.workers))
        if self.web.poll() is not None:
            logger.warning("web server exited (%s); starting it again", self.web.returncode)
            self.web = self._spawn("runserver", self.address, "--noreload")

    def shutdown(self):
        print("\nStopping: nodes finish their running steps, then the web server stops.", flush=True)
        for process in self.nodes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.nodes.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        if self.web.poll() is None:
            self.web.send_signal(signal.SIGTERM)
            try:
                self.web.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.web.kill()
        print("Stopped.", flush=True)
        return 0
