"""The bench's table: each figure, the engine's value, the reference beside it, their ratio, the target.

Ratios are engine / reference; the target column says which way is better. Throughputs are medians
of the interleaved rounds.
"""
import statistics

CORE_PERCENT = 100.0
P9_TARGET = "caller p50 <= 3, p99 <= 8"
SCHEDULES_TARGET = "p99 <= 1000 ms, none missed or doubled"
TOP_PRINTED = 10  # statements printed under the table


def median(runs, key="per_second"):
    values = [run[key] for run in runs if key in run]  # failed runs hold only "error"
    return statistics.median(values) if values else float("nan")


def median_window(runs, field):
    values = []
    for run in runs:
        window, count = run.get("window"), run.get("count") or run.get("workflows")
        if window and count:
            values.append(window[field] / count)
    return statistics.median(values) if values else float("nan")


def cpu_per(runs, prefix):
    """Median CPU milliseconds per transaction of the groups whose name starts with `prefix`, and the client."""
    values = []
    for run in runs:
        window, count = run.get("window"), run.get("count") or run.get("workflows")
        if not window or not count:
            continue
        groups = sum(s for g, s in window["cpu_seconds"].items() if g.startswith(prefix) or g == f"pg:{prefix}")
        values.append(1000 * (groups + run.get("client_cpu_seconds", 0.0)) / count)
    return statistics.median(values) if values else float("nan")


def cpu_split(runs, name):
    """Median CPU milliseconds per transaction of each process group of `name`'s runs: its node (the whole
    tree, and its supervisor alone), its web process, its PostgreSQL backends, and the client (the driver,
    the load generator or DBOS's own process)."""
    parts = {"node": [], "supervisor": [], "web": [], "pg": [], "client": []}
    for run in runs:
        window, count = run.get("window"), run.get("count") or run.get("workflows")
        if not window or not count:
            continue
        cpu, roots = window["cpu_seconds"], window.get("cpu_root_seconds", {})
        seconds = {"node": cpu.get(f"{name} node", 0.0), "supervisor": roots.get(f"{name} node", 0.0),
                   "web": cpu.get(f"{name} web", 0.0), "pg": cpu.get(f"pg:{name}", 0.0),
                   "client": run.get("client_cpu_seconds", 0.0)}
        for part, value in seconds.items():
            parts[part].append(1000 * value / count)
    return {part: statistics.median(values) if values else float("nan") for part, values in parts.items()}


def statements_per(runs, group):
    """Median statements per transaction that `group`'s database was sent in `runs`, and of them transaction
    control (BEGIN, COMMIT, SAVEPOINT...), and the deferred foreign-key checks beside; with pg_stat_database
    (no pg_stat_statements on the server), transactions per transaction and Nones. Also returns the source.
    Runs that started more than they measured (P9's warm-up) divide by all they started."""
    totals, control, checks, source = [], [], [], None
    for run in runs:
        counts = (run.get("statements") or {}).get(group)
        divisor = run.get("started") or run.get("count") or run.get("workflows")
        if not counts or not divisor:
            continue
        source = counts["source"]
        totals.append(counts.get("statements", counts.get("transactions", 0)) / divisor)
        if "control" in counts:
            control.append(counts["control"] / divisor)
            checks.append(counts.get("fk_checks", 0) / divisor)
    middle = (lambda values: statistics.median(values) if values else float("nan"))
    if not control:
        return middle(totals), None, None, source
    return middle(totals), middle(control), middle(checks), source


STATEMENTS = "PG statements per tx sent (BEGIN/COMMIT.. of them) + FK checks"


def statements_cell(total, control, checks):
    return fmt(total) if control is None else f"{total:.1f} ({control:.1f}) + {checks:.1f}"


def statements_row(figure, runs, reference=None):
    """`figure`'s row of statements per transaction (STATEMENTS says what it holds), DBOS's beside if `reference`."""
    total, control, checks, source = statements_per(runs, "engine")
    if source is None:
        return None
    if source != "pg_stat_statements":
        figure = f"{figure.split(' PG ')[0]} PG transactions per tx ({source}: no pg_stat_statements)"
    if reference is None:
        return figure, statements_cell(total, control, checks), "", "", "printed"
    ref_total, ref_control, ref_checks, _ = statements_per(reference, "dbos")
    return (figure, statements_cell(total, control, checks), statements_cell(ref_total, ref_control, ref_checks),
            ratio(total, ref_total), "printed")


def cpu_rows(runs):
    """CPU per transaction of each process group in P1 (beside DBOS's) and P2."""
    p1, dbos, p2 = cpu_split(runs["engine_p1"], "engine"), cpu_split(runs["dbos"], "dbos"), cpu_split(runs["engine_p2"], "engine")
    return [
        ("P1 CPU ms per tx: node (supervisor + its cluster)",
         f"{fmt(p1['node'], 2)} ({fmt(p1['supervisor'], 2)} + {fmt(p1['node'] - p1['supervisor'], 2)})", "", "", "printed"),
        ("P1 CPU ms per tx: PG backends", fmt(p1["pg"], 2), fmt(dbos["pg"], 2), ratio(p1["pg"], dbos["pg"]), "printed"),
        ("P1 CPU ms per tx: client (starts) / DBOS process", fmt(p1["client"], 2), fmt(dbos["client"], 2),
         ratio(p1["client"], dbos["client"]), "printed"),
        ("P2 CPU ms per tx: web / node / PG / load generator",
         " / ".join(fmt(p2[part], 2) for part in ("web", "node", "pg", "client")), "", "", "printed"),
    ]


def p9_rows(part, label=""):
    """P9's latencies (server and caller), and on PostgreSQL its statements and CPU per transaction."""
    run = part.get("p9")
    if run is None:
        return []
    figure = f"{label}P9 idle 3-step latency p50 / p99, ms"
    if "error" in run:
        return [(figure, "failed", "", "", P9_TARGET)]
    server, caller = run["server_ms"], run["caller_ms"]
    heard = "" if run.get("heard") == "notice" else f", {run.get('heard')}"
    rows = [(f"{figure} (server)", f"{server['p50']:.1f} / {server['p99']:.1f}", "", "", P9_TARGET),
            (f"{figure} (caller{heard})", f"{caller['p50']:.1f} / {caller['p99']:.1f}", "", "", P9_TARGET)]
    statements = statements_row(f"{label}P9 {STATEMENTS}", [run])
    if statements:
        rows.append(statements)
    if "window" in run:
        cpu = cpu_split([run], "engine")
        rows.append((f"{label}P9 CPU ms per tx: node / PG / client",
                     " / ".join(fmt(cpu[part], 2) for part in ("node", "pg", "client")), "", "", "printed"))
    return rows


def node_processes(results):
    """The node's processes' CPU ms per transaction in P9 and the last P1 run, by depth in its tree
    (supervisor | datp_cluster | django-q2's sentinel | its workers, monitor and pusher), for under the table."""
    pg = results.get("postgres", {})
    runs = [("P9", pg.get("p9") or {})] + [("P1", run) for run in pg.get("runs", {}).get("engine_p1", [])[-1:]]
    lines = []
    for name, run in runs:
        processes = (run.get("window") or {}).get("cpu_processes", {}).get("engine node")
        if not processes or not run.get("count"):
            continue
        depths = {}
        for depth, seconds in processes:
            depths.setdefault(depth, []).append(f"{1000 * seconds / run['count']:.2f}")
        lines.append(f"  {name} node processes, CPU ms per tx by depth (supervisor | datp_cluster | sentinel | "
                     f"its children): {' | '.join(', '.join(depths[d]) for d in sorted(depths))}")
    return lines


def top_statements(results):
    """The most frequent statements of P9 and of the last P1 run that counted them, per transaction, for
    under the table."""
    pg = results.get("postgres", {})
    runs = [("P9", pg.get("p9") or {})] + [("P1", run) for run in pg.get("runs", {}).get("engine_p1", [])[::-1]]
    lines, seen = [], set()
    for name, run in runs:
        counts = (run.get("statements") or {}).get("engine", {})
        if name in seen or "top" not in counts:
            continue
        seen.add(name)
        divisor = run.get("started") or run["count"]
        lines.append(f"  {name}'s most frequent statements (per tx x mean ms), over {divisor:,} transactions:")
        for row in counts["top"][:TOP_PRINTED]:
            lines.append(f"    {row['calls'] / divisor:5.2f} x {row['exec_ms'] / max(1, row['calls']):6.3f}  "
                         f"{row['query'][:110]}")
    return lines


def idle_percent(window, *groups):
    seconds = sum(window["cpu_seconds"].get(group, 0.0) for group in groups)
    return CORE_PERCENT * seconds / max(1e-6, window["seconds"])


def ratio(a, b):
    try:
        return f"{a / b:.2f}x" if b and a == a and b == b else "-"  # nan (no runs): "-"
    except TypeError:
        return "-"


def fmt(value, digits=1):
    if isinstance(value, str):
        return value
    if value is None or value != value:
        return "-"
    return f"{value:,.{digits}f}"


def rows_for(results):
    """The table's rows: P1-P9 (P9 alone after --only p9, none after --only fanout or schedules), then the
    fan-out and schedule figures."""
    if "runs" in results.get("postgres", {}):
        rows = engine_rows(results)
    else:
        rows = p9_rows(results.get("postgres", {})) + p9_rows(results.get("sqlite") or {}, "SQLite ")
        rows += sqlite_p1_rows(results.get("sqlite") or {})
    return rows + fanout_rows(results) + schedule_rows(results)


def sqlite_p1_rows(lite):
    """`--only sqlite`: SQLite P1's median and each round's figure (no DBOS ran: its target is DBOS's ~100 tx/s)."""
    runs = lite.get("p1_runs")
    if not runs:
        return []
    each = ", ".join(f"{run['per_second']:.1f}" if "per_second" in run else "failed" for run in runs)
    return [(f"SQLite P1 throughput, tx/s (median of {len(runs)}: {each})", median(runs), "", "",
             ">= 2x DBOS-on-PG")]


def engine_rows(results):
    pg = results["postgres"]
    runs = pg["runs"]
    rows = []
    p1, dbos = median(runs["engine_p1"]), median(runs["dbos"])
    rows.append(("P1 throughput, tx/s (PG, service layer)", p1, dbos, ratio(p1, dbos), ">= 6x DBOS (bar 4.5x)"))
    rows.append(("P1 vs django-q2 no-op tasks/s", p1, median(runs["q2_tasks"]), ratio(p1, median(runs["q2_tasks"])), ""))
    rows.append(("P1 vs django-q2 chains of 3/s", p1, median(runs["q2_chains"]),
                 ratio(p1, median(runs["q2_chains"])), ""))
    p2s, p2f = median(runs["engine_p2"], "started_per_second"), median(runs["engine_p2"])
    rows.append(("P2 REST started/s (16 connections)", p2s, dbos, ratio(p2s, dbos), ">= 4x DBOS"))
    rows.append(("P2 REST finished/s", p2f, dbos, ratio(p2f, dbos), ">= 3x DBOS"))
    latency = [run["start_latency_ms"] for run in runs["engine_p2"] if "start_latency_ms" in run] or [{"p50": 0, "p99": 0}]
    rows.append(("P2 start latency p50 / p99, ms (as fast as served)",
                 f"{statistics.median(l['p50'] for l in latency):.1f} / "
                 f"{statistics.median(l['p99'] for l in latency):.1f}", "", "", "printed"))
    paced = [run["start_latency_ms"] for run in runs.get("engine_p2_paced", []) if "start_latency_ms" in run]
    if paced:
        rows.append(("P2 start latency p50 / p99, ms (at 2x DBOS's rate)",
                     f"{statistics.median(l['p50'] for l in paced):.1f} / "
                     f"{statistics.median(l['p99'] for l in paced):.1f}", "", "", "p99 <= 50"))
    writes, dbos_writes = median_window(runs["engine_p1"], "write_transactions"), median_window(runs["dbos"], "write_transactions")
    rows.append(("P6 PG write transactions per tx", writes, dbos_writes, ratio(writes, dbos_writes), "<= 2"))
    wal, dbos_wal = median_window(runs["engine_p1"], "wal_bytes"), median_window(runs["dbos"], "wal_bytes")
    rows.append(("P6 WAL bytes per tx", wal, dbos_wal, ratio(wal, dbos_wal), "<= DBOS"))
    engine_cpu, dbos_cpu = cpu_per(runs["engine_p1"], "engine"), cpu_per(runs["dbos"], "dbos")
    rows.append(("CPU ms per tx (node+PG+client / DBOS+PG)", engine_cpu, dbos_cpu, ratio(engine_cpu, dbos_cpu), "<= 2 ms"))
    rows += cpu_rows(runs)
    rows += [row for row in (statements_row(f"P1 {STATEMENTS}", runs["engine_p1"], runs["dbos"]),
                             statements_row(f"P2 {STATEMENTS}", runs["engine_p2"])) if row]
    node_idle, q2_idle = idle_percent(pg["idle"], "engine node", "pg:engine"), idle_percent(pg["idle"], "q2 cluster", "pg:q2")
    rows.append(("P8 idle node + its PG backends, % core", node_idle, q2_idle, ratio(node_idle, q2_idle),
                 "<= 1 (ref: idle django-q2)"))
    rows += p9_rows(pg)
    if "p3" in pg:  # not with --only throughput
        rows += latency_rows(results)
    return rows


def latency_rows(results):
    pg = results["postgres"]
    dbos = median(pg["runs"]["dbos"])
    rows = []
    wake, send = pg["p3"]["wake_ms"], pg["dbos_latency"]["send_recv_ms"]
    rows.append((f"P3 switch wake-up p50, ms ({pg['p3']['via']})", wake["p50"], send["p50"], ratio(wake["p50"], send["p50"]),
                 "<= 10"))
    rows.append(("P3 switch wake-up p99, ms", wake["p99"], send["p99"], ratio(wake["p99"], send["p99"]), "<= 30"))
    late, nap = pg["p4"]["lateness_ms"], pg["dbos_latency"]["sleep_lateness_ms"]
    rows.append((f"P4 timer lateness p50, ms (n={late['n']})", late["p50"], nap["p50"], ratio(late["p50"], nap["p50"]), ""))
    rows.append((f"P4 timer lateness p99 / max, ms (missed {pg['p4']['missed']})", f"{late['p99']:.1f} / {late['max']:.1f}",
                 f"{nap['p99']:.1f} / {nap['max']:.1f}", ratio(late["p99"], nap["p99"]), "p99 <= 50, none missed"))
    idle0 = idle_percent(pg["idle"], "engine node", "pg:engine")
    idle_n = idle_percent(pg["p5_idle"], "engine node", "pg:engine")
    count = pg["p5_seed"]["count"]
    rows.append((f"P5 idle CPU with {count:,} sleepers, % core", idle_n, idle0, ratio(idle_n, idle0), "same as with 0 (+-1)"))
    rss0, rss_n = pg["node_rss_kib_empty"] / 1024, pg["node_rss_kib_sleepers"] / 1024
    rows.append(("P5 node RSS with sleepers / without, MiB", rss_n, rss0, ratio(rss_n, rss0), "independent"))
    rows.append((f"P5 wake-ups/s ({pg['p5_wake']['count']:,} due at once)", pg["p5_wake"]["per_second"], 2000.0,
                 ratio(pg["p5_wake"]["per_second"], 2000.0), ">= 2,000"))
    for name, read in pg["p7"]["reads_ms"].items():
        rows.append((f"P7 {name} p95, ms ({pg['p7']['seeded']:,}+ rows)", read["p95"], 150.0, ratio(read["p95"], 150.0),
                     "<= 150"))
    scans = pg["p7"].get("seq_scans", {})
    rows.append(("P7 reads planned with a whole-table scan", f"{len(scans)} of {len(pg['p7']['reads_ms'])}", "", "",
                 "none (EXPLAIN)"))
    lite = results.get("sqlite")
    if lite:
        rows.append(("SQLite P1 throughput, tx/s", lite["p1"]["per_second"], dbos, ratio(lite["p1"]["per_second"], dbos),
                     "(ref: DBOS on PG)"))
        rows += p9_rows(lite, "SQLite ")
        w = lite["p3"]["wake_ms"]
        rows.append(("SQLite P3 switch wake-up p50 / p99, ms", f"{w['p50']:.1f} / {w['p99']:.1f}", "", "", "p99 <= 250"))
        t = lite["p4"]["lateness_ms"]
        rows.append((f"SQLite P4 lateness p50 / p99 / max, ms (missed {lite['p4']['missed']})",
                     f"{t['p50']:.1f} / {t['p99']:.1f} / {t['max']:.1f}", "", "", "p99 <= 250"))
    return rows


def fanout_rows(results):
    """Per database: each map's join time, children per second, the fan-out step's time (the children's insert)
    and the parent's wake-up after the last child; the wake-up's p50 / p99 over the small maps."""
    rows = []
    for label, key in (("PG", "fanout_postgres"), ("SQLite", "fanout_sqlite")):
        part = results.get(key)
        if not part:
            continue
        for run in part["maps"]:
            at = " at once" if run["max_parallel"] is None else f", {run['max_parallel']} at a time"
            figure = f"{label} fan-out+join {run['count']:,}{at}: s / child/s / insert s / wake ms"
            value = "failed" if "error" in run else (
                f"{run['seconds']:.1f} / {run['children_per_second']:,.0f} / {run['fan_out_seconds']:.2f} / "
                f"{run['wake_ms']['p50']:.1f}")
            rows.append((figure, value, "", "", "printed"))
        wake = part["wake"]
        figure = f"{label} fan-out wake-up p50 / p99, ms ({wake['repeat']} maps of {wake['count']})"
        value = "failed" if "error" in wake else f"{wake['wake_ms']['p50']:.1f} / {wake['wake_ms']['p99']:.1f}"
        rows.append((figure, value, "", "", "printed"))
    return rows


def schedule_rows(results):
    """Schedule lateness on PostgreSQL: the transaction's created_at minus its due time over the window, and how
    many of the window's due times started, were missed, and started more than once."""
    part = results.get("schedules_postgres")
    if not part:
        return []
    if "error" in part:
        return [("PG schedules: lateness p50 / p99 / max, ms", "failed", "", "", SCHEDULES_TARGET)]
    load = f"{part['count']:,} every {part['every_seconds']} s, {part['per_second']:,.0f} due together each second"
    late = part["lateness_ms"]
    return [(f"PG schedules ({load}): lateness p50 / p99 / max, ms", f"{late['p50']:.1f} / {late['p99']:.1f} / "
             f"{late['max']:.1f}", "", "", SCHEDULES_TARGET),
            (f"PG schedules: due times in {part['seconds']} s started / missed / doubled",
             f"{part['started']:,} of {part['due_times']:,} / {part['missed']} / {part['doubled']}", "", "",
             SCHEDULES_TARGET)]


def print_table(results):
    rows = [(name, fmt(engine), fmt(reference), rat, target) for name, engine, reference, rat, target in rows_for(results)]
    header = ("figure", "engine", "reference", "ratio", "target")
    widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(5)]
    machine = results["machine"]
    pg = results.get("postgres") or results.get("fanout_postgres") or results.get("schedules_postgres") or {}
    part = (f"{results['rounds']} interleaved rounds" if "runs" in results.get("postgres", {})
            else "P9 only" if "p9" in results.get("postgres", results.get("sqlite") or {})
            else "SQLite P1 only" if "p1_runs" in (results.get("sqlite") or {})
            else "fan-out only" if "fanout_postgres" in results or "fanout_sqlite" in results else "schedules only")
    server = (f"PostgreSQL {pg['postgres_version']} ({'private cluster' if pg.get('private_cluster') else 'DATABASE_URL'})"
              if "postgres_version" in pg else "SQLite only")
    print(f"\nDATP bench ({results['mode']}, {part}), {server}; machine {'idle' if machine['idle'] else 'BUSY'} before start: load {machine['load_average']}, "
          f"{machine['busy_share']:.0%} busy")
    line = "  ".join(f"{{:{'<' if i == 0 else '>'}{w}}}" for i, w in enumerate(widths))
    print(line.format(*header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line.format(*row))
    for line in node_processes(results) + top_statements(results):
        print(line)
    for name, tables in pg.get("p7", {}).get("seq_scans", {}).items():
        print(f"  P7 {name}: whole-table scan of {', '.join(tables)}")
    failed = {kind: sum("error" in run for run in runs) for kind, runs in pg.get("runs", {}).items()}
    for kind, count in failed.items():
        if count:
            print(f"  {kind}: {count} run(s) failed (see the JSON); medians are over the others")


if __name__ == "__main__":  # print the table of a saved run: python bench/report.py var/bench/bench-....json
    import json
    import sys

    print_table(json.loads(open(sys.argv[1]).read()))
