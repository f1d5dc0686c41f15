"""`make bench`: the engine beside DBOS and bare django-q2 on this machine, interleaved in one run.

    .venv/bin/python bench/run.py [--quick] [--rounds 3] [--no-sqlite] [--only throughput|fanout|p9|sqlite|schedules]
Uses the PostgreSQL in DATABASE_URL (databases of its own, dropped at the end) or starts a private
cluster (with pg_stat_statements, to count statements per transaction); runs one node, the production web
server and a django-q2 cluster; then fan-out and join (bench/fan_out.py) and the lateness of 1,000 schedules
(bench/schedule_lateness.py), each on a database and a node of their own; prints the P1-P9, fan-out and
schedule table (bench/report.py), with CPU per process group and statements per transaction, and writes
everything to var/bench/bench-<time>.json.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]

from infra import Postgres, Sampler, descendants, machine_state, process_rss_kib  # noqa: E402
from report import print_table  # noqa: E402
from tests.machine import free_port  # noqa: E402

PY = sys.executable
BENCH_PY = str(ROOT / "var" / "bench" / "venv" / "bin" / "python")
SIZES = {
    "quick": {"p1": 1000, "dbos_seconds": 4, "q2_tasks": 150, "q2_chains": 50, "p2": 200, "p3": 20, "p4": 60,
              "p4_range": (3.0, 8.0), "sleepers": 20_000, "wake": 1_000, "p7": 20_000, "p7_samples": 5,
              "idle_seconds": 4, "p9": 200, "p9_warmup": 20, "sqlite_p1": 150, "sqlite_p3": 10, "sqlite_p4": 30,
              "fanout": [(200, None), (200, 50), (1000, None)], "fanout_wake": (10, 50),
              "schedules": (1000, 10, 15)},
    "full": {"p1": 5000, "dbos_seconds": 30, "q2_tasks": 3000, "q2_chains": 1000, "p2": 3000, "p3": 300, "p4": 1000,
             "p4_range": (5.0, 60.0), "sleepers": 1_000_000, "wake": 10_000, "p7": 1_000_000, "p7_samples": 30,
             "idle_seconds": 30, "p9": 200, "p9_warmup": 20, "sqlite_p1": 2000, "sqlite_p3": 100, "sqlite_p4": 1000,
             "fanout": [(1000, None), (1000, 200), (10_000, None)], "fanout_wake": (20, 100),
             "schedules": (1000, 10, 60)},  # schedules, each every so many seconds, seconds measured
}


FANOUT_LIMIT = 200  # the max_parallel of --fanout-sizes' second map of each size


def run_json(command, env, cwd=ROOT, timeout=1800):
    """Run a measuring subprocess; return the JSON object on its last line of output."""
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"{' '.join(command[:4])} failed with {done.returncode}")
    return json.loads(lines[-1])


def spawn(command, env, log, cwd=ROOT):
    return subprocess.Popen(command, env=env, cwd=cwd, start_new_session=True, stdout=open(log, "w"),
                            stderr=subprocess.STDOUT)


def stop(process, grace=60):
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def tree_rss_kib(pid):
    return sum(process_rss_kib(child) for child in descendants(pid))


def wait_http(url, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=5).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout}s")


class Engine:
    """One engine installation: a database, a node and (optionally) the production web server."""

    def __init__(self, name, database_url, tmp, sampler=None):
        self.name, self.tmp, self.sampler = name, tmp, sampler
        self.env = {**os.environ, "DATABASE_URL": database_url, "DATP_VAR_DIR": tmp, "DATP_LOG_LEVEL": "WARNING",
                    "DJANGO_SETTINGS_MODULE": "datp_site.settings", "DATP_DISPATCHER": "django_q",
                    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver"}
        self.node = self.web = None
        self.url = ""
        self.api_key = self.driver("setup")["api_key"]

    def driver(self, what, *args):
        return run_json([PY, "bench/engine_driver.py", what, "--api-key", getattr(self, "api_key", ""), *args],
                        self.env)

    def start_node(self, workers=2):
        self.node = spawn([PY, "manage.py", "datp_node", "--group", "master", "--workers", str(workers)], self.env,
                          f"{self.tmp}/node.log")
        if self.sampler:
            self.sampler.watch_tree(f"{self.name} node", self.node.pid)

    def start_web(self):
        """The server command of `make serve`, on a free port."""
        port = free_port()
        self.web = spawn([PY, "-m", "gunicorn", "datp_site.wsgi", "--worker-class", "gthread", "--workers", "2",
                          "--threads", "32", "--worker-connections", "32", "--keep-alive", "0",
                          "--bind", f"127.0.0.1:{port}"], self.env, f"{self.tmp}/web.log")
        self.url = f"http://127.0.0.1:{port}"
        if self.sampler:
            self.sampler.watch_tree(f"{self.name} web", self.web.pid)
        wait_http(f"{self.url}/api/v1/health")

    def stop(self):
        stop(self.web, 10)
        stop(self.node)


def measured(sampler, run):
    """Run one measurement, with the statements each database ran meanwhile (`statements`, when sampled);
    a failure is recorded with its reason and the bench goes on."""
    try:
        if sampler is not None:
            sampler.statements.reset()
        result = with_window(sampler, run())
        if sampler is not None:
            result["statements"] = sampler.statements_by_group()
        return result
    except (SystemExit, subprocess.TimeoutExpired) as exc:
        print(f"    failed: {exc}", flush=True)
        return {"error": str(exc)}


def with_window(sampler, result):
    if sampler is not None and "t0" in result:
        result["window"] = sampler.window(result["t0"], result["t1"])
    return result


def interleaved(engine, sampler, sizes, rounds, dbos_url, q2_env):
    """Engine, DBOS, django-q2 tasks and chains, engine through REST; `rounds` times, in that order."""
    runs = {"engine_p1": [], "dbos": [], "q2_tasks": [], "q2_chains": [], "engine_p2": [], "engine_p2_paced": []}
    for number in range(rounds):
        print(f"  round {number + 1}/{rounds}", flush=True)
        runs["engine_p1"].append(measured(sampler, lambda: engine.driver("p1", "--count", str(sizes["p1"]))))
        runs["dbos"].append(measured(sampler, lambda: run_json(
            [BENCH_PY, "bench/ref_dbos.py", "--db", dbos_url, "--seconds", str(sizes["dbos_seconds"])], os.environ)))
        for what in ("tasks", "chains"):
            runs[f"q2_{what}"].append(measured(sampler, lambda: run_json(
                [PY, "bench/ref_q2.py", "--what", what, "--count", str(sizes[f"q2_{what}"]), "--timeout", "120"],
                q2_env)))
        runs["engine_p2"].append(measured(sampler, lambda: engine.driver(
            "p2", "--count", str(sizes["p2"]), "--url", engine.url)))
        dbos_rate = runs["dbos"][-1].get("per_second")
        if dbos_rate:  # the start latency at the rate the target asks for: twice DBOS's, paced
            runs["engine_p2_paced"].append(measured(sampler, lambda: engine.driver(
                "p2", "--count", str(sizes["p2"]), "--url", engine.url, "--rate", str(2 * dbos_rate))))
    return runs


def idle_window(sampler, seconds):
    began = time.time()
    time.sleep(seconds)
    return sampler.window(began, time.time())


def p9(engine, sampler, sizes):
    """Idle latency: 3-step transactions one at a time on the idle engine (bench/engine_driver.py p9)."""
    print(f"P9: {sizes['p9']} transactions one at a time on the idle engine", flush=True)
    return measured(sampler, lambda: engine.driver("p9", "--count", str(sizes["p9"]),
                                                   "--warmup", str(sizes["p9_warmup"])))


def postgres_part(pg, sizes, rounds, tmp, workers=2, only=None):
    results = {"postgres_version": pg.version(), "private_cluster": pg.private}
    if only == "p9":
        return {**results, **p9_part(pg, sizes, tmp, workers)}
    engine_db, engine_url = pg.create_database("engine")
    q2_db, q2_url = pg.create_database("q2")
    dbos_db, dbos_url = pg.create_database("dbos")
    sampler = Sampler(pg.url, create_extension=pg.private).start()
    for group, name in (("engine", engine_db), ("q2", q2_db), ("dbos", dbos_db)):
        sampler.watch_database(group, name)
    q2_env = {**os.environ, "Q2_DATABASE_URL": q2_url}
    run_json([PY, "bench/ref_q2.py", "--what", "migrate"], q2_env)
    engine = Engine("engine", engine_url, tmp, sampler)
    q2 = None
    try:
        engine.start_node(workers)
        engine.start_web()
        q2 = spawn([PY, "-m", "django", "qcluster"], {**q2_env, "DJANGO_SETTINGS_MODULE": "q2_settings"},
                   f"{tmp}/q2.log", cwd=ROOT / "bench")
        sampler.watch_tree("q2 cluster", q2.pid)
        time.sleep(3)
        print("P8: idle node and idle django-q2 cluster", flush=True)
        results["idle"] = idle_window(sampler, sizes["idle_seconds"])
        results["node_rss_kib_empty"] = tree_rss_kib(engine.node.pid)
        results["p9"] = p9(engine, sampler, sizes)
        print("P1/P2: interleaved runs", flush=True)
        results["runs"] = interleaved(engine, sampler, sizes, rounds, dbos_url, q2_env)
        if only == "throughput":
            return results
        print("P3/P4: switch wake-up and timers", flush=True)
        results["p3"] = engine.driver("p3", "--count", str(sizes["p3"]), "--url", engine.url)
        results["dbos_latency"] = run_json([BENCH_PY, "bench/ref_dbos.py", "--db", dbos_url, "--what", "latency",
                                            "--samples", str(sizes["p3"])], os.environ)
        low, high = sizes["p4_range"]
        results["p4"] = engine.driver("p4", "--count", str(sizes["p4"]), "--min-seconds", str(low),
                                      "--max-seconds", str(high))
        print(f"P5: {sizes['sleepers']} sleepers", flush=True)
        results["p5_seed"] = engine.driver("sleepers", "--count", str(sizes["sleepers"]))
        time.sleep(7)  # past the figures refresh the earlier figures' activity still owes (every 5 s)
        results["p5_idle"] = idle_window(sampler, sizes["idle_seconds"])
        results["node_rss_kib_sleepers"] = tree_rss_kib(engine.node.pid)
        results["p5_wake"] = with_window(sampler, engine.driver("wake", "--count", str(sizes["wake"])))
        print(f"P7: reads over {sizes['p7']} more transactions", flush=True)
        results["p7"] = engine.driver("p7", "--count", str(sizes["p7"]), "--samples", str(sizes["p7_samples"]))
    finally:
        stop(q2)
        engine.stop()
        sampler.stop()
    return results


def p9_part(pg, sizes, tmp, workers):
    """`--only p9`: P9 alone, on a database and a node of its own (no web server, no references)."""
    engine_db, engine_url = pg.create_database("engine")
    sampler = Sampler(pg.url, create_extension=pg.private).start()
    sampler.watch_database("engine", engine_db)
    engine = Engine("engine", engine_url, tmp, sampler)
    try:
        engine.start_node(workers)
        time.sleep(3)
        return {"p9": p9(engine, sampler, sizes)}
    finally:
        engine.stop()
        sampler.stop()


def sqlite_part(sizes, tmp, only=None, rounds=1):
    """P1, P3, P4 and P9 on the embedded default: a SQLite file and one node (`only` p9: P9 alone; `only` sqlite:
    P1 alone, `rounds` times on the same node, its median in `p1`)."""
    folder = Path(tmp) / "sqlite"
    folder.mkdir()
    engine = Engine("sqlite", f"sqlite:///{folder}/db.sqlite3", str(folder))
    try:
        engine.start_node()
        time.sleep(3)
        if only == "sqlite":
            runs = []
            for number in range(rounds):
                runs.append(measured(None, lambda: engine.driver("p1", "--count", str(sizes["sqlite_p1"]))))
                print(f"  round {number + 1}/{rounds}: {runs[-1].get('per_second', 0):.1f} tx/s", flush=True)
            done = sorted((run for run in runs if "per_second" in run), key=lambda run: run["per_second"])
            return {"p1_runs": runs, **({"p1": done[len(done) // 2]} if done else {})}
        figures = {"p9": measured(None, lambda: engine.driver("p9", "--count", str(sizes["p9"]),
                                                              "--warmup", str(sizes["p9_warmup"])))}
        if only == "p9":
            return figures
        return {**figures, "p1": engine.driver("p1", "--count", str(sizes["sqlite_p1"])),
                "p3": engine.driver("p3", "--count", str(sizes["sqlite_p3"])),
                "p4": engine.driver("p4", "--count", str(sizes["sqlite_p4"]), "--min-seconds",
                                    str(sizes["p4_range"][0]), "--max-seconds", str(sizes["p4_range"][1]))}
    finally:
        engine.stop()


def fanout_part(database_url, sizes, tmp, label):
    """Fan-out and join on an empty database with one node of its own: the maps of `fanout` (count and
    max_parallel, None for all at once), then `fanout_wake` maps one after another for the parent's wake-up."""
    folder = Path(tmp) / f"fanout-{label}"
    folder.mkdir()
    engine = Engine(f"fanout-{label}", database_url, str(folder))
    results = {"maps": []}
    try:
        engine.start_node()
        time.sleep(3)
        for count, limit in sizes["fanout"]:
            print(f"  {count:,} children{'' if limit is None else f', {limit} at a time'}", flush=True)
            extra = [] if limit is None else ["--max-parallel", str(limit)]
            result = measured(None, lambda: engine.driver("fanout", "--count", str(count), "--timeout", "1500",
                                                          *extra))
            results["maps"].append({"count": count, "max_parallel": limit, **result})
            if "error" not in result:
                print(f"    {result['seconds']:.1f} s, {result['children_per_second']:,.0f} children/s", flush=True)
        repeat, count = sizes["fanout_wake"]
        print(f"  {repeat} maps of {count} children (the parent's wake-up)", flush=True)
        results["wake"] = {"count": count, "repeat": repeat, **measured(None, lambda: engine.driver(
            "fanout", "--count", str(count), "--repeat", str(repeat)))}
    finally:
        engine.stop()
    return results


def schedules_part(database_url, sizes, tmp, workers=2):
    """Schedule lateness on an empty database with one node of its own (bench/schedule_lateness.py)."""
    count, every, seconds = sizes["schedules"]
    folder = Path(tmp) / "schedules"
    folder.mkdir()
    engine = Engine("schedules", database_url, str(folder))
    try:
        engine.start_node(workers)
        time.sleep(3)
        print(f"  {count:,} schedules every {every} s ({count // every} due each second), {seconds} s measured",
              flush=True)
        result = measured(None, lambda: engine.driver("schedules", "--count", str(count), "--every", str(every),
                                                      "--seconds", str(seconds)))
        if "error" not in result:
            late = result["lateness_ms"]
            print(f"    lateness p50 {late['p50']:.1f} / p99 {late['p99']:.1f} / max {late['max']:.1f} ms; "
                  f"{result['started']:,} of {result['due_times']:,} due times started, {result['missed']} missed, "
                  f"{result['doubled']} doubled", flush=True)
        return result
    finally:
        engine.stop()


def postgres_parts(options, sizes, tmp, results):
    """The PostgreSQL figures `options` ask for, in the DATABASE_URL server or a private cluster."""
    url = os.environ.get("DATABASE_URL", "")
    pg = Postgres(url if url.startswith("postgres") else None).start()
    try:
        if options.only not in ("fanout", "schedules") and not (options.only == "p9" and options.no_postgres):
            results["postgres"] = postgres_part(pg, sizes, options.rounds, tmp, options.workers, options.only)
        if options.only is None or (options.only == "fanout" and not options.no_postgres):
            print("Fan-out and join (PostgreSQL)", flush=True)
            results["fanout_postgres"] = fanout_part(pg.create_database("fanout")[1], sizes, tmp, "postgres")
            results["fanout_postgres"].update(postgres_version=pg.version(), private_cluster=pg.private)
        if options.only in (None, "schedules"):
            print("Schedule lateness (PostgreSQL)", flush=True)
            results["schedules_postgres"] = schedules_part(pg.create_database("schedules")[1], sizes, tmp,
                                                           options.workers)
            results["schedules_postgres"].update(postgres_version=pg.version(), private_cluster=pg.private)
    finally:
        pg.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds per figure (about 3 minutes)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are printed")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of the engine's node")
    parser.add_argument("--only", choices=["throughput", "fanout", "p9", "sqlite", "schedules"], help="throughput: "
                        "stop after the interleaved P1/P2 runs (a check while optimising; the table then lacks the "
                        "other figures); fanout: only the fan-out figures, on PostgreSQL and SQLite (no DBOS needed); "
                        "p9: only the idle latency, on PostgreSQL and SQLite (no DBOS needed); sqlite: only P1 on "
                        "SQLite, --rounds times (no PostgreSQL, no DBOS); schedules: only the lateness of 1,000 "
                        "schedules, on PostgreSQL (no DBOS needed)")
    parser.add_argument("--fanout-sizes", help="the fan-out maps' sizes, as 1000,10000: each all at once and "
                        f"{FANOUT_LIMIT} at a time (default: the mode's maps)")
    parser.add_argument("--no-postgres", action="store_true", help="with --only fanout or p9: SQLite only")
    options = parser.parse_args()
    if options.only not in ("fanout", "p9", "sqlite", "schedules") and not Path(BENCH_PY).exists():
        raise SystemExit("var/bench/venv is missing: run `make bench` (it creates it)")
    mode = "quick" if options.quick else "full"
    sizes = dict(SIZES[mode])
    if options.fanout_sizes:
        sizes["fanout"] = [(int(size), limit) for size in options.fanout_sizes.split(",")
                           for limit in (None, FANOUT_LIMIT)]
    began = time.time()
    results = {"mode": mode, "rounds": options.rounds, "workers": options.workers, "started_at": began,
               "machine": machine_state()}
    print(f"machine: {results['machine']}", flush=True)
    tmp = str(ROOT / "var" / "bench" / f"run-{time.strftime('%Y%m%d-%H%M%S')}")  # logs and SQLite file
    os.makedirs(tmp)
    results["logs"] = tmp
    if options.only != "sqlite":
        postgres_parts(options, sizes, tmp, results)
    if not options.no_sqlite and options.only in (None, "p9", "sqlite"):
        print({None: "SQLite: P9, P1, P3, P4", "p9": "SQLite: P9", "sqlite": "SQLite: P1"}[options.only], flush=True)
        results["sqlite"] = sqlite_part(sizes, tmp, options.only, options.rounds)
    if not options.no_sqlite and options.only in (None, "fanout"):
        print("Fan-out and join (SQLite)", flush=True)
        folder = Path(tmp) / "fanout-sqlite-db"
        folder.mkdir()
        results["fanout_sqlite"] = fanout_part(f"sqlite:///{folder}/db.sqlite3", sizes, tmp, "sqlite")
    results["seconds"] = time.time() - began
    results["machine_after"] = machine_state(0.5)
    out = ROOT / "var" / "bench" / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=1, default=str))
    print_table(results)
    print(f"\nwritten to {out.relative_to(ROOT)} ({results['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
