"""Real processes for the runtime tests: a database of their own, `datp_node`s, and a driver.

On the SQLite pass the database is a file; on the PostgreSQL pass (DATABASE_URL names one) a fresh
database is created on that server and dropped afterwards. Every process started is stopped by pid.
"""
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
PIPELINES = Path(__file__).parent / "pipelines"


def _postgres_database():
    outer = os.environ.get("DATABASE_URL", "")
    if not outer.startswith("postgres"):
        return None, None
    name = f"datp_rt_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(outer, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = outer.rsplit("/", 1)[0]
    return f"{base}/{name}", (outer, name)


def _drop(created):
    outer, name = created
    with psycopg.connect(outer, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class System:
    def __init__(self, tmp_path, lease_seconds):
        self.tmp = tmp_path
        url, self._created = _postgres_database()
        self.runlog = tmp_path / "runlog"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "datp_site.settings",
            "DATABASE_URL": url or f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "DATP_VAR_DIR": str(tmp_path),
            "DATP_STEP_MODULES": "tests.runtime.steps",
            "DATP_TEST_RUNLOG": str(self.runlog),
            "DATP_LEASE_SECONDS": str(lease_seconds),
            "DATP_DISPATCHER": "django_q",
            "DATP_LOG_LEVEL": "WARNING",
        }
        self.processes = []
        self.drive("migrate")
        self.drive("load", str(PIPELINES))

    def drive(self, *args):
        done = subprocess.run([sys.executable, "-m", "tests.runtime.driver", *map(str, args)], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise AssertionError(f"driver {args} failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def start_node(self, group="master", workers=2, grace=10, extra=(), env=None):
        log = open(self.tmp / f"node-{len(self.processes)}.log", "w")
        process = subprocess.Popen(
            [sys.executable, "manage.py", "datp_node", "--group", group, "--workers", str(workers),
             "--grace", str(grace), *extra],
            cwd=ROOT, env={**self.env, **(env or {})}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.processes.append(process)
        return process

    def stop_node(self, process, timeout=60):
        process.send_signal(signal.SIGTERM)
        return process.wait(timeout=timeout)

    def kill_node(self, process):
        """SIGKILL the node and its whole process group (its cluster and workers)."""
        for pgid in {process.pid, *self._cluster_groups(process)}:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        process.wait(timeout=30)

    def _cluster_groups(self, process):
        children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
        return [int(pid) for pid in children]

    def wait_for(self, predicate, timeout=60, interval=0.3, what="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")

    def statuses(self, tx_ids):
        return self.drive("status", *tx_ids)

    def all_finished(self, tx_ids, status="success"):
        return self.wait_for(lambda: all(s == status for s in self.statuses(tx_ids).values()),
                             what=f"{len(tx_ids)} transactions to be {status}")

    def runlog_lines(self):
        return self.runlog.read_text().splitlines() if self.runlog.exists() else []

    def close(self):
        for process in self.processes:
            if process.poll() is None:
                self.kill_node(process)
        if self._created:
            _drop(self._created)


@pytest.fixture
def system(tmp_path, request):
    lease = getattr(request, "param", 30)
    started = System(tmp_path, lease_seconds=lease)
    yield started
    started.close()
