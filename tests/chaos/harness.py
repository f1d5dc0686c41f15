"""Real processes for the chaos scenarios: a private PostgreSQL cluster, a Redis server, a database per
scenario, `datp_node`s, a web server and the agent. Everything started is recorded by pid and stopped
by pid; every kill and pause is recorded with its time, for the checks."""
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

from tests.machine import free_port

ROOT = Path(__file__).resolve().parents[2]
PIPELINES = Path(__file__).parent / "pipelines"
STEP_MODULES = "tests.chaos.steps"


class RedisServer:
    """A redis-server of our own on a free port, without persistence (the database is the only truth)."""

    def __init__(self, workdir):
        self.port = free_port()
        self.log = Path(workdir) / "redis.log"
        self.process = None
        self.start()

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=open(self.log, "a"), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def close(self):
        self.kill()


def _database(outer_url, workdir):
    """(url, drop) for a fresh database: on the PostgreSQL server of `outer_url`, or a SQLite file."""
    if not outer_url or not outer_url.startswith("postgres"):
        return f"sqlite:///{Path(workdir) / 'chaos.sqlite3'}", None
    import psycopg

    name = f"datp_chaos_{uuid.uuid4().hex[:10]}"
    server = outer_url.rsplit("/", 1)[0]
    maintenance = f"{server}/postgres"  # the named database need not exist (pytest-django makes test_<name>)
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{server}/{name}", drop


class System:
    """One scenario's world. `outer_url` names a PostgreSQL server (a database is created on it) or None
    for SQLite."""

    def __init__(self, workdir, *, outer_url=None, lease_seconds=5, broker="orm", redis_url=None, faults="",
                 groups=None, env=None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.lease_seconds = lease_seconds
        self.url, self._drop = _database(outer_url, self.workdir)
        self.runlog = self.workdir / "runlog"
        self.faults = faults
        self.env = {
            **os.environ, "DJANGO_SETTINGS_MODULE": "datp_site.settings", "DATABASE_URL": self.url,
            "DATP_VAR_DIR": str(self.workdir), "DATP_STEP_MODULES": STEP_MODULES,
            "DATP_TEST_RUNLOG": str(self.runlog), "DATP_LEASE_SECONDS": str(lease_seconds),
            "DATP_DISPATCHER": "django_q", "DATP_LOG_LEVEL": "WARNING", "DATP_BROKER": broker,
            "DATP_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true", **(env or {}),
        }
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        self.env.pop("DATP_FAULT", None)
        self.kills, self.pauses = {}, {}
        self.nodes, self.others = [], []
        self.agent = self._popen([sys.executable, "-m", "tests.chaos.agent"], "agent", pipe=True)
        self.call("setup", pipelines=str(PIPELINES), groups=groups or {})

    def _popen(self, command, name, pipe=False, env=None):
        log = open(self.workdir / f"{name}.log", "a")
        process = subprocess.Popen(
            command, cwd=ROOT, env=env or self.env, start_new_session=True, text=True,
            stdin=subprocess.PIPE if pipe else subprocess.DEVNULL, stdout=subprocess.PIPE if pipe else log,
            stderr=log)
        if not pipe:
            self.others.append(process)
        return process

    def call(self, cmd, retries=60, **args):
        """One agent command; database errors are retried (a restarting database) for about a minute."""
        for _ in range(retries):
            self.agent.stdin.write(json.dumps({"cmd": cmd, "args": args}) + "\n")
            self.agent.stdin.flush()
            answer = json.loads(self.agent.stdout.readline() or '{"error": "agent died"}')
            if "ok" in answer:
                return answer["ok"]
            if not answer.get("retry"):
                raise RuntimeError(f"agent {cmd}: {answer['error']}\n{answer.get('trace', '')}")
            time.sleep(1)
        raise RuntimeError(f"agent {cmd}: database unavailable for too long")

    def start_node(self, group="master", workers=2, grace=10, faults=None):
        env = {**self.env, "DATP_FAULT": self.faults if faults is None else faults}
        process = self._popen([sys.executable, "manage.py", "datp_node", "--group", group, "--workers",
                               str(workers), "--grace", str(grace)], f"node-{len(self.nodes)}-{group}", env=env)
        self.others.remove(process)
        self.nodes.append(process)
        return process

    def node_pids(self, node):
        """The node and every process of its cluster's process group (cluster, sentinel, workers)."""
        pids = {node.pid}
        for leader in self._groups(node)[1:]:
            group = subprocess.run(["pgrep", "-g", str(leader)], capture_output=True, text=True).stdout.split()
            pids.update(map(int, group or [leader]))
        return pids

    @staticmethod
    def _groups(process):
        """The process groups a process leads: its own, and its children's (each started a session)."""
        children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
        return [process.pid, *map(int, children)]

    def _kill_tree(self, process):
        for pgid in self._groups(process):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        process.wait(timeout=30)

    def kill_node(self, node):
        """SIGKILL the node and its cluster at once (a machine losing the process tree)."""
        pids = self.node_pids(node)
        now = time.time()
        self._kill_tree(node)
        for pid in pids:
            self.kills[pid] = now
        return pids

    def stop_node(self, node, timeout=90):
        """SIGTERM; return (exit code, seconds it took)."""
        began = time.monotonic()
        node.send_signal(signal.SIGTERM)
        code = node.wait(timeout=timeout)
        return code, time.monotonic() - began

    def pause(self, pid):
        os.kill(pid, signal.SIGSTOP)
        self.pauses.setdefault(pid, []).append([time.time(), float("inf")])

    def resume(self, pid):
        os.kill(pid, signal.SIGCONT)
        self.pauses[pid][-1][1] = time.time()

    def start_web(self):
        self.web_port = free_port()
        self._popen([sys.executable, "-m", "gunicorn", "datp_site.wsgi", "--worker-class", "gthread", "--workers",
                     "1", "--threads", "32", "--bind", f"127.0.0.1:{self.web_port}"], "web")
        self.wait_until(lambda: self.http("GET", "/api/v1/health")[0] in (200, 503), 60, "the web server")
        return self.web_port

    def http(self, method, path, body=None, key=None):
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.web_port}{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")
        except OSError:
            return None, None

    def wait_until(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.3)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")

    def wait_finished(self, timeout, tx_ids=None):
        """Wait until no transaction (of `tx_ids` and their children) is unfinished; return the counts."""
        active = ("queued", "running", "sleeping")

        def settled():
            counts = self.call("counts", tx_ids=tx_ids)
            return counts if not any(key.endswith(active) for key in counts) else None

        return self.wait_until(settled, timeout, "every transaction to finish")

    def log_tails(self, lines=40):
        """The last `lines` lines of each process's log in the run directory (a failed scenario's context)."""
        return {path.name: path.read_text(errors="replace").splitlines()[-lines:]
                for path in sorted(self.workdir.glob("*.log"))}

    def verify(self, expected, tx_ids=None, faults_armed=None, **options):
        return self.call("verify", expected=expected, runlog=str(self.runlog), kills=self.kills, **options,
                         pauses={pid: windows for pid, windows in self.pauses.items()},
                         lease_seconds=self.lease_seconds, tx_ids=tx_ids,
                         faults_armed=bool(self.faults) if faults_armed is None else faults_armed)

    def close(self):
        for process in [*self.nodes, *self.others]:
            if process.poll() is None:
                self._kill_tree(process)
        for pid, windows in self.pauses.items():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self.agent.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.agent.wait(timeout=10)
        if self.agent.poll() is None:
            self.agent.kill()
        if self._drop is not None:
            self._drop()
