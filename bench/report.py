"""The bench's table: each figure, the engine's value, the reference beside it, their ratio, the target.

Ratios are engine / reference; the target column says which way is better. Throughputs are medians
of the interleaved rounds.
"""
import statistics

CORE_PERCENT = 100.0


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


def idle_percent(window, *groups):
    seconds = sum(window["cpu_seconds"].get(group, 0.0) for group in groups)
    return CORE_PERCENT * seconds / max(1e-6, window["seconds"])


def ratio(a, b):
    try:
        return f"{a / b:.2f}x" if b else "-"
    except TypeError:
        return "-"


def fmt(value, digits=1):
    if isinstance(value, str):
        return value
    if value is None or value != value:
        return "-"
    return f"{value:,.{digits}f}"


def rows_for(results):
    """The table's rows: P1-P8 (unless the run was --only fanout), then the fan-out figures."""
    return (engine_rows(results) if "postgres" in results else []) + fanout_rows(results)


def engine_rows(results):
    pg = results["postgres"]
    runs = pg["runs"]
    rows = []
    p1, dbos = median(runs["engine_p1"]), median(runs["dbos"])
    rows.append(("P1 throughput, tx/s (PG, service layer)", p1, dbos, ratio(p1, dbos), ">= 3x DBOS (goal 6x)"))
    rows.append(("P1 vs django-q2 no-op tasks/s", p1, median(runs["q2_tasks"]), ratio(p1, median(runs["q2_tasks"])), ""))
    rows.append(("P1 vs django-q2 chains of 3/s", p1, median(runs["q2_chains"]),
                 ratio(p1, median(runs["q2_chains"])), ""))
    p2s, p2f = median(runs["engine_p2"], "started_per_second"), median(runs["engine_p2"])
    rows.append(("P2 REST started/s (16 connections)", p2s, dbos, ratio(p2s, dbos), ">= 2x DBOS"))
    rows.append(("P2 REST finished/s", p2f, dbos, ratio(p2f, dbos), ">= 2x DBOS"))
    latency = [run["start_latency_ms"] for run in runs["engine_p2"] if "start_latency_ms" in run] or [{"p50": 0, "p99": 0}]
    rows.append(("P2 start latency p50 / p99, ms (as fast as served)",
                 f"{statistics.median(l['p50'] for l in latency):.1f} / "
                 f"{statistics.median(l['p99'] for l in latency):.1f}", "", "", "p99 <= 50"))
    paced = [run["start_latency_ms"] for run in runs.get("engine_p2_paced", []) if "start_latency_ms" in run]
    if paced:
        rows.append(("P2 start latency p50 / p99, ms (at 2x DBOS's rate)",
                     f"{statistics.median(l['p50'] for l in paced):.1f} / "
                     f"{statistics.median(l['p99'] for l in paced):.1f}", "", "", "p99 <= 50"))
    writes, dbos_writes = median_window(runs["engine_p1"], "write_transactions"), median_window(runs["dbos"], "write_transactions")
    rows.append(("P6 PG write transactions per tx", writes, dbos_writes, ratio(writes, dbos_writes), "<= 6"))
    wal, dbos_wal = median_window(runs["engine_p1"], "wal_bytes"), median_window(runs["dbos"], "wal_bytes")
    rows.append(("P6 WAL bytes per tx", wal, dbos_wal, ratio(wal, dbos_wal), "printed"))
    engine_cpu, dbos_cpu = cpu_per(runs["engine_p1"], "engine"), cpu_per(runs["dbos"], "dbos")
    rows.append(("CPU ms per tx (node+PG+client / DBOS+PG)", engine_cpu, dbos_cpu, ratio(engine_cpu, dbos_cpu), "lower"))
    node_idle, q2_idle = idle_percent(pg["idle"], "engine node", "pg:engine"), idle_percent(pg["idle"], "q2 cluster", "pg:q2")
    rows.append(("P8 idle node + its PG backends, % core", node_idle, q2_idle, ratio(node_idle, q2_idle),
                 "<= 1 (ref: idle django-q2)"))
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


def print_table(results):
    rows = [(name, fmt(engine), fmt(reference), rat, target) for name, engine, reference, rat, target in rows_for(results)]
    header = ("figure", "engine", "reference", "ratio", "target")
    widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(5)]
    machine = results["machine"]
    pg = results.get("postgres") or results.get("fanout_postgres") or {}
    part = f"{results['rounds']} interleaved rounds" if "postgres" in results else "fan-out only"
    server = (f"PostgreSQL {pg['postgres_version']} ({'private cluster' if pg.get('private_cluster') else 'DATABASE_URL'})"
              if "postgres_version" in pg else "SQLite only")
    print(f"\nDATP bench ({results['mode']}, {part}), {server}; machine {'idle' if machine['idle'] else 'BUSY'} before start: load {machine['load_average']}, "
          f"{machine['busy_share']:.0%} busy")
    line = "  ".join(f"{{:{'<' if i == 0 else '>'}{w}}}" for i, w in enumerate(widths))
    print(line.format(*header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line.format(*row))
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
