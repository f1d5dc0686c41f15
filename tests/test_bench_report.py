"""The bench's table (bench/report.py) for issue 20's figures: P9's idle latency, CPU per transaction per
process group and statements per transaction, from a run's saved results; the statement counter's telling
of PostgreSQL's own foreign-key checks from the statements clients sent (bench/infra.py); and issue 21's
schedule lateness, its figures read from the rows the engine wrote (bench/schedule_lateness.py)."""
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import infra  # noqa: E402
import report  # noqa: E402

MACHINE = {"idle": True, "load_average": [0, 0, 0], "busy_share": 0.0}


def window(**cpu):
    """A sampled window of 10 s: CPU seconds per group (node_root: the node's supervisor alone)."""
    root = cpu.pop("node_root", 0.0)
    groups = {name.replace("_", " ").replace("pg ", "pg:"): seconds for name, seconds in cpu.items()}
    return {"seconds": 10.0, "cpu_seconds": groups, "cpu_root_seconds": {"engine node": root} if root else {},
            "write_transactions": 5000, "wal_bytes": 1_000_000}


def counted(sent, control, checks):
    return {"source": "pg_stat_statements", "statements": sent, "control": control, "fk_checks": checks,
            "exec_ms": 1.0, "top": [{"query": "COMMIT", "calls": control, "exec_ms": 0.5}]}


def p9(statements=None):
    run = {"count": 200, "started": 220, "heard": "notice", "client_cpu_seconds": 0.22,
           "server_ms": {"p50": 5.4, "p99": 9.8}, "caller_ms": {"p50": 7.0, "p99": 11.3},
           "window": window(engine_node=0.4, pg_engine=0.2)}
    if statements is not None:
        run["statements"] = {"engine": statements}
    return run


def full_run(statements):
    """One round of P1/P2 beside DBOS, and P9; `statements(what)` gives each run's statement counts."""
    engine_p1 = {"count": 1000, "per_second": 300.0, "client_cpu_seconds": 0.5,
                 "window": {**window(engine_node=2.0, node_root=0.5, engine_web=0.1, pg_engine=1.5),
                            "cpu_processes": {"engine node": [[0, 0.5], [1, 0.1], [2, 0.2], [3, 0.7], [3, 0.5]]}},
                 "statements": {"engine": statements("p1")}}
    dbos = {"workflows": 1000, "per_second": 100.0, "client_cpu_seconds": 8.0, "window": window(pg_dbos=4.0),
            "statements": {"dbos": statements("dbos")}}
    engine_p2 = {"count": 500, "per_second": 200.0, "started_per_second": 250.0, "client_cpu_seconds": 0.25,
                 "start_latency_ms": {"p50": 10.0, "p99": 40.0},
                 "window": window(engine_node=1.0, engine_web=1.5, pg_engine=0.75),
                 "statements": {"engine": statements("p2")}}
    runs = {"engine_p1": [engine_p1], "dbos": [dbos], "q2_tasks": [{"per_second": 50.0}],
            "q2_chains": [{"per_second": 20.0}], "engine_p2": [engine_p2], "engine_p2_paced": []}
    return {"mode": "quick", "rounds": 1, "machine": MACHINE,
            "postgres": {"postgres_version": "15", "private_cluster": True, "runs": runs, "p9": p9(statements("p9")),
                         "idle": window(engine_node=0.01, pg_engine=0.01, q2_cluster=0.1, pg_q2=0.0)}}


def table(results, capsys):
    """The printed lines, and each row's cells after its figure (cells are two or more spaces apart)."""
    report.print_table(results)
    lines = capsys.readouterr().out.splitlines()
    cells = [re.split(r"\s{2,}", line.strip()) for line in lines[4:] if not line.startswith(" ")]
    return lines, {row[0]: row[1:] for row in cells}


def test_a_full_run_prints_cpu_per_group_statements_per_transaction_and_p9(capsys):
    counts = {"p1": counted(7000, 0, 9000), "dbos": counted(31_000, 15_000, 0), "p2": counted(5000, 150, 4500),
              "p9": counted(4400, 880, 1980)}
    lines, rows = table(full_run(counts.get), capsys)
    # P1: node 2.0 s over 1,000 tx, of it 0.5 s the supervisor's; PG 1.5 s; the client 0.5 s; DBOS's 4.0 and 8.0 s.
    assert rows["P1 CPU ms per tx: node (supervisor + its cluster)"] == ["2.00 (0.50 + 1.50)", "printed"]
    assert rows["P1 CPU ms per tx: PG backends"] == ["1.50", "4.00", "0.38x", "printed"]
    assert rows["P1 CPU ms per tx: client (starts) / DBOS process"] == ["0.50", "8.00", "0.06x", "printed"]
    assert rows["P2 CPU ms per tx: web / node / PG / load generator"] == ["3.00 / 2.00 / 1.50 / 0.50", "printed"]
    statements = "PG statements per tx sent (BEGIN/COMMIT.. of them) + FK checks"
    assert rows[f"P1 {statements}"] == ["7.0 (0.0) + 9.0", "31.0 (15.0) + 0.0", "0.23x", "printed"]
    assert rows[f"P2 {statements}"] == ["10.0 (0.3) + 9.0", "printed"]
    # P9 divides its statements by all it started (220, warm-up included), its CPU by the 200 measured.
    assert rows[f"P9 {statements}"] == ["20.0 (4.0) + 9.0", "printed"]
    target = "caller p50 <= 3, p99 <= 8"
    assert rows["P9 idle 3-step latency p50 / p99, ms (server)"] == ["5.4 / 9.8", target]
    assert rows["P9 idle 3-step latency p50 / p99, ms (caller)"] == ["7.0 / 11.3", target]
    assert rows["P9 CPU ms per tx: node / PG / client"] == ["2.00 / 1.00 / 1.10", "printed"]
    assert "CPU ms per tx (node+PG+client / DBOS+PG)" in rows and "P6 PG write transactions per tx" in rows
    assert ("  P1 node processes, CPU ms per tx by depth (supervisor | datp_cluster | sentinel | its children): "
            "0.50 | 0.10 | 0.20 | 0.70, 0.50") in lines
    assert "  P9's most frequent statements (per tx x mean ms), over 220 transactions:" in lines
    assert any(line.strip().startswith("4.00 x  0.001  COMMIT") for line in lines)  # P9: 880 of 220, 0.5 ms in all


def test_without_pg_stat_statements_the_rows_count_transactions_and_say_so(capsys):
    def transactions(what):
        return {"source": "pg_stat_database", "transactions": {"p1": 5100, "dbos": 5000, "p2": 3000, "p9": 1100}[what]}

    _lines, rows = table(full_run(transactions), capsys)
    figure = "P1 PG transactions per tx (pg_stat_database: no pg_stat_statements)"
    assert rows[figure] == ["5.1", "5.0", "1.02x", "printed"]
    assert rows["P9 PG transactions per tx (pg_stat_database: no pg_stat_statements)"] == ["5.0", "printed"]


def test_a_run_of_only_p9_prints_its_rows_on_both_databases(capsys):
    sqlite = p9()
    del sqlite["window"]
    sqlite["heard"] = "1 ms poll"
    results = {"mode": "full", "rounds": 3, "machine": MACHINE, "sqlite": {"p9": sqlite},
               "postgres": {"postgres_version": "15", "private_cluster": True, "p9": {"error": "timed out"}}}
    lines, rows = table(results, capsys)
    assert "P9 only" in lines[1]
    assert rows["P9 idle 3-step latency p50 / p99, ms"] == ["failed", "caller p50 <= 3, p99 <= 8"]
    assert rows["SQLite P9 idle 3-step latency p50 / p99, ms (caller, 1 ms poll)"][0] == "7.0 / 11.3"
    assert not any(line.startswith(("P1", "SQLite P9 PG")) for line in lines)


def test_postgresqls_own_foreign_key_checks_are_told_from_sent_statements():
    check = ('SELECT $2 FROM ONLY "public"."engine_transaction" x WHERE "id"::pg_catalog.text '
             'OPERATOR(pg_catalog.=) $1::pg_catalog.text FOR KEY SHARE OF x')
    assert infra.is_fk_check(check)
    assert not infra.is_fk_check('SELECT "engine_transaction"."id" FROM "engine_transaction" WHERE id = $1')
    assert not infra.is_fk_check("SELECT id FROM engine_transaction WHERE id = $1 FOR UPDATE")


def test_a_run_of_only_sqlite_prints_its_p1_median_and_each_round(capsys):
    runs = [{"count": 2000, "per_second": rate} for rate in (468.9, 448.5)] + [{"error": "timed out"}]
    results = {"mode": "full", "rounds": 3, "machine": MACHINE, "sqlite": {"p1_runs": runs, "p1": runs[0]}}
    lines, rows = table(results, capsys)
    assert "SQLite P1 only" in lines[1] and "SQLite only" in lines[1]
    assert rows["SQLite P1 throughput, tx/s (median of 3: 468.9, 448.5, failed)"] == ["458.7", ">= 2x DBOS-on-PG"]


def schedules_part(**changes):
    return {"count": 1000, "every_seconds": 10, "seconds": 60, "per_second": 100.0, "due_times": 6000,
            "started": 6000, "missed": 0, "doubled": 0, "lateness_ms": {"n": 6000, "p50": 310.4, "p99": 754.3,
                                                                         "max": 853.0},
            "postgres_version": "15", "private_cluster": False, **changes}


def test_a_run_of_only_schedules_prints_their_lateness_and_what_started_against_the_target(capsys):
    results = {"mode": "full", "rounds": 3, "machine": MACHINE, "schedules_postgres": schedules_part()}
    lines, rows = table(results, capsys)
    assert "schedules only" in lines[1] and "PostgreSQL 15 (DATABASE_URL)" in lines[1]
    target = "p99 <= 1000 ms, none missed or doubled"
    assert rows["PG schedules (1,000 every 10 s, 100 due together each second): lateness p50 / p99 / max, ms"] == [
        "310.4 / 754.3 / 853.0", target]
    assert rows["PG schedules: due times in 60 s started / missed / doubled"] == ["6,000 of 6,000 / 0 / 0", target]
    results["schedules_postgres"] = {"error": "timed out"}
    _lines, rows = table(results, capsys)
    assert rows["PG schedules: lateness p50 / p99 / max, ms"] == ["failed", target]


def test_the_schedule_figures_count_each_due_time_of_the_window_started_or_missed(harness):
    from datetime import timedelta

    import schedule_lateness

    harness.load(*schedule_lateness.PIPELINES)
    first = harness.now() + timedelta(seconds=10)
    for index in range(3):  # the third never starts: it is paused
        harness.schedule(f"{schedule_lateness.PREFIX}{index:05d}", "bench-tick", interval="PT10S",
                         start_at=first + timedelta(seconds=index), paused=index == 2)
    harness.advance("PT40S")
    found = schedule_lateness.facts(first, first + timedelta(seconds=30))
    assert (found["due_times"], found["started"], found["missed"], found["doubled"]) == (9, 6, 3, 0), found
    assert found["lateness_ms"]["n"] == 6 and found["lateness_ms"]["max"] == 0.0  # virtual time stands still
    assert len(found["tx_ids"]) == 6 and found["missed_examples"][0].startswith("bench-tick-00002 ")
