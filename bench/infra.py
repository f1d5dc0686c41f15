"""The bench's surroundings: a PostgreSQL (DATABASE_URL or a private cluster), databases of its own,
CPU per process group sampled from /proc, xid and WAL counters, and whether the machine was idle."""
import glob
import os
import threading
import time
import uuid

import psycopg

from tests.machine import PrivatePostgres

TICKS = os.sysconf("SC_CLK_TCK")


class Postgres:
    """The server the bench uses: the one DATABASE_URL names, else a private cluster started here
    (tests/machine.py's, as `make test` starts)."""

    def __init__(self, url=None):
        self.url, self.private, self._cluster = url, url is None, None
        self.databases = []

    def start(self):
        if not self.private:
            return self
        try:
            self._cluster = PrivatePostgres(prefix="datp-bench-pg.")
        except RuntimeError:
            raise SystemExit("No PostgreSQL: set DATABASE_URL, or install Debian's postgresql (apt-get install postgresql)")
        self.url = self._cluster.url
        return self

    def stop(self):
        with psycopg.connect(self.url, autocommit=True) as conn:
            for name in self.databases:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if self._cluster:
            self._cluster.close()

    def create_database(self, label):
        """A new database, named after DATABASE_URL's (`<its name>_bench_...`, beside it on a shared server),
        else datp_bench_...; dropped by `stop`."""
        base = "datp" if self.private else self.url.rsplit("/", 1)[1].split("?")[0]
        name = f"{base}_bench_{label}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return name, f"{self.url.rsplit('/', 1)[0]}/{name}"

    def version(self):
        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute("SHOW server_version").fetchone()[0]


def process_cpu(pid):
    """User + system CPU seconds of one process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, IndexError, ValueError):
        return None


def process_rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(root):
    """`root` and every process below it (found through /proc/*/stat parent ids)."""
    children = {}
    for path in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(path) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(path.split("/")[2]))
        except (OSError, IndexError, ValueError):
            continue
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


class Sampler:
    """Every `interval` seconds, record the CPU of each watched process group (process trees and the
    backends of named databases), and the server's next xid and WAL position; windows are read later."""

    def __init__(self, server_url, interval=0.25):
        self.url, self.interval = server_url, interval
        self.trees, self.databases = {}, {}
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-sampler", daemon=True)

    def watch_tree(self, group, pid):
        self.trees[group] = pid

    def watch_database(self, group, name):
        self.databases[group] = name

    def start(self):
        self._conn = psycopg.connect(self.url, autocommit=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()
        self._conn.close()

    def _loop(self):
        while not self._stop.is_set():
            self.samples.append(self.sample())
            self._stop.wait(self.interval)

    def sample(self):
        at = time.time()
        groups = {}
        for group, root in list(self.trees.items()):
            groups[group] = {pid: process_cpu(pid) for pid in descendants(root)}
        rows = self._conn.execute(
            "SELECT datname, pid FROM pg_stat_activity WHERE datname = ANY(%s)", [list(self.databases.values())]
        ).fetchall()
        by_name = {name: group for group, name in self.databases.items()}
        for datname, pid in rows:
            groups.setdefault(f"pg:{by_name[datname]}", {})[pid] = process_cpu(pid)
        xid, lsn = self._conn.execute(
            "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint, "
            "pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint").fetchone()
        return {"at": at, "groups": groups, "xid": xid, "wal": lsn}

    def window(self, t0, t1):
        """CPU seconds per group, write transactions and WAL bytes between wall times t0 and t1."""
        inside = [s for s in self.samples if t0 - self.interval <= s["at"] <= t1 + self.interval]
        if len(inside) < 2:
            inside = [self.sample(), self.sample()] if not inside else [inside[0], self.sample()]
        first, last = inside[0], inside[-1]
        cpu = {}
        for sample in inside:
            for group, pids in sample["groups"].items():
                for pid, seconds in pids.items():
                    if seconds is not None:
                        cpu.setdefault(group, {}).setdefault(pid, [seconds, seconds])[1] = seconds
        for group, pids in cpu.items():
            born = {pid for pid in pids if pid not in first["groups"].get(group, {})}
            cpu[group] = sum(end - (0.0 if pid in born else start) for pid, (start, end) in pids.items())
        return {"seconds": last["at"] - first["at"], "cpu_seconds": cpu,
                "write_transactions": last["xid"] - first["xid"], "wal_bytes": last["wal"] - first["wal"]}


def machine_state(seconds=1.0):
    """Load averages and the share of both cores busy over `seconds` before the bench starts."""

    def stat():
        with open("/proc/stat") as handle:
            values = [int(v) for v in handle.readline().split()[1:]]
        return sum(values), values[3] + values[4]

    total0, idle0 = stat()
    time.sleep(seconds)
    total1, idle1 = stat()
    busy = 1.0 - (idle1 - idle0) / max(1, total1 - total0)
    cores = os.cpu_count() or 1
    load = os.getloadavg()
    return {"cores": cores, "load_average": [round(v, 2) for v in load], "busy_share": round(busy, 3),
            "idle": busy < 0.1 and load[0] < 0.5 * cores}
