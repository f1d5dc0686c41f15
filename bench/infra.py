"""The bench's surroundings: a PostgreSQL (DATABASE_URL or a private cluster), databases of its own,
CPU per process group sampled from /proc, xid and WAL counters, statements per database
(pg_stat_statements), and whether the machine was idle."""
import glob
import os
import threading
import time
import uuid

import psycopg

from tests.machine import PrivatePostgres

TICKS = os.sysconf("SC_CLK_TCK")
# The private cluster counts each statement (Statements); utility statements (BEGIN, COMMIT, LISTEN) too.
PRIVATE_SETTINGS = {"shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.track_utility": "on"}
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")  # transaction control, counted apart
TOP = 20  # the most frequent statements kept per window


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
            self._cluster = PrivatePostgres(prefix="datp-bench-pg.", settings=PRIVATE_SETTINGS)
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
    return list(tree_depths(root))


def tree_depths(root):
    """{pid: depth below `root`} of `root` (0) and every process below it."""
    children = {}
    for path in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(path) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(path.split("/")[2]))
        except (OSError, IndexError, ValueError):
            continue
    found, todo = {}, [(root, 0)]
    while todo:
        pid, depth = todo.pop()
        found[pid] = depth
        todo.extend((child, depth + 1) for child in children.get(pid, []))
    return found


class Sampler:
    """Every `interval` seconds, record the CPU of each watched process group (process trees and the
    backends of named databases), and the server's next xid and WAL position; windows are read later."""

    def __init__(self, server_url, interval=0.25, create_extension=False):
        self.url, self.interval, self.create_extension = server_url, interval, create_extension
        self.trees, self.databases = {}, {}
        self.depths = {}  # tree group -> {pid: depth below its root}
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-sampler", daemon=True)

    def watch_tree(self, group, pid):
        self.trees[group] = pid

    def watch_database(self, group, name):
        self.databases[group] = name

    def start(self):
        self._conn = psycopg.connect(self.url, autocommit=True)
        self.statements = Statements(self.url, create=self.create_extension)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()
        self._conn.close()
        self.statements.close()

    def statements_by_group(self):
        """The statements (or transactions) of each watched database since `statements.reset()`."""
        counts = self.statements.read(list(self.databases.values()))
        return {group: counts[name] for group, name in self.databases.items()}

    def _loop(self):
        while not self._stop.is_set():
            self.samples.append(self.sample())
            self._stop.wait(self.interval)

    def sample(self):
        at = time.time()
        groups = {}
        for group, root in list(self.trees.items()):
            depths = tree_depths(root)
            self.depths.setdefault(group, {}).update(depths)
            groups[group] = {pid: process_cpu(pid) for pid in depths}
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
        roots, processes = {}, {}
        for group, pids in cpu.items():
            born = {pid for pid in pids if pid not in first["groups"].get(group, {})}
            used = {pid: end - (0.0 if pid in born else start) for pid, (start, end) in pids.items()}
            cpu[group] = sum(used.values())
            if group in self.trees:  # the tree's root apart (a node's supervisor, gunicorn's arbiter)
                roots[group] = used.get(self.trees[group], 0.0)
                depths = self.depths.get(group, {})  # and each process, by depth, then busiest first
                processes[group] = sorted(([depths.get(pid, -1), seconds] for pid, seconds in used.items()),
                                          key=lambda row: (row[0], -row[1]))
        return {"seconds": last["at"] - first["at"], "cpu_seconds": cpu, "cpu_root_seconds": roots,
                "cpu_processes": processes,
                "write_transactions": last["xid"] - first["xid"], "wal_bytes": last["wal"] - first["wal"]}


def is_fk_check(query):
    """Whether a pg_stat_statements entry is PostgreSQL's own foreign-key check: Django's constraints are
    DEFERRABLE INITIALLY DEFERRED, so their checks run at COMMIT as top-level statements nobody sent."""
    return query.startswith("SELECT") and ' FROM ONLY "' in query and query.rstrip().endswith("FOR KEY SHARE OF x")


class Statements:
    """Statements run per database over a window: pg_stat_statements, reset at the window's start and
    summed at its end (the private cluster preloads it): those sent (`statements`; `control` of them
    BEGIN, COMMIT, SAVEPOINT...) and the deferred foreign-key checks (`fk_checks`); on a server without it, committed and rolled-back
    transactions from pg_stat_database instead (`source` says which; those counters lag up to a second)."""

    def __init__(self, server_url, create=False):
        """`create`: create the extension if it is missing (the private cluster: never on a DATABASE_URL server)."""
        self._conn = psycopg.connect(server_url, autocommit=True)
        self.source, self.reason = "pg_stat_statements", ""
        try:
            if create:
                self._conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            self._conn.execute("SELECT 1 FROM pg_stat_statements LIMIT 1")
        except psycopg.Error as exc:  # not preloaded or not created (a DATABASE_URL server), or not installed
            self.source, self.reason = "pg_stat_database", str(exc).strip().splitlines()[0]
        self._before = {}

    def reset(self):
        if self.source == "pg_stat_statements":
            self._conn.execute("SELECT pg_stat_statements_reset()")
        else:
            self._before = self._transactions()

    def read(self, names):
        """{database name: counts} since the last reset, for the databases `names`."""
        if self.source != "pg_stat_statements":
            after = self._transactions()
            return {name: {"source": self.source, "transactions": after.get(name, 0) - self._before.get(name, 0)}
                    for name in names}
        found = {}
        for name in names:
            rows = self._conn.execute(
                "SELECT s.query, s.calls, s.total_exec_time FROM pg_stat_statements s "
                "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s ORDER BY s.calls DESC", [name]).fetchall()
            checks = [row for row in rows if is_fk_check(row[0])]
            sent = [row for row in rows if not is_fk_check(row[0])]
            found[name] = {
                "source": self.source, "statements": sum(calls for _q, calls, _t in sent),
                "control": sum(calls for query, calls, _t in sent if query.lstrip().upper().startswith(CONTROL)),
                "fk_checks": sum(calls for _q, calls, _t in checks),
                "exec_ms": sum(ms for _q, _c, ms in rows),
                "top": [{"query": " ".join(query.split())[:160], "calls": calls, "exec_ms": round(ms, 1)}
                        for query, calls, ms in rows[:TOP]]}
        return found

    def _transactions(self):
        rows = self._conn.execute("SELECT datname, xact_commit + xact_rollback FROM pg_stat_database "
                                  "WHERE datname IS NOT NULL").fetchall()
        return dict(rows)

    def close(self):
        self._conn.close()


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
