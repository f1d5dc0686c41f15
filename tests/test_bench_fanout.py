"""The bench's fan-out part (bench/fan_out.py, bench/report.py) at a tiny size: its pipelines load and run
in the Harness, a map's figures are read from the rows the engine wrote, and the table prints them, also
for a run of `--only fanout` (which has none of the P1-P8 figures)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import fan_out  # noqa: E402
import report  # noqa: E402


@pytest.mark.parametrize("max_parallel", [None, 2])
def test_a_maps_figures_come_from_its_rows(harness, max_parallel):
    harness.load(*fan_out.PIPELINES)
    began = harness.now().timestamp()
    parent_id = fan_out.start_map(5, max_parallel, owner=harness.owner)
    harness.run(parent_id)
    figures = fan_out.figures(parent_id, 5, began)
    assert set(figures) == {"seconds", "fan_out_seconds", "children_seconds", "wake_ms", "join_read_seconds",
                            "t0", "t1"}
    assert all(value >= 0 for value in figures.values())  # the Harness's clock stands still while it runs
    result = fan_out.summarize([figures, figures], count=5, max_parallel=max_parallel)
    assert (result["count"], result["repeat"], result["wake_ms"]["n"]) == (5, 2, 2)


def test_a_map_that_did_not_succeed_is_no_figure(harness):
    harness.load(*fan_out.PIPELINES)
    parent_id = fan_out.start_map(3, owner=harness.owner)  # never run
    with pytest.raises(SystemExit, match="expected success, all, 2"):
        fan_out.figures(parent_id, 3, 0.0)


def fanout_part(failed=False):
    wake = {"count": 100, "repeat": 20, "wake_ms": {"p50": 12.0, "p99": 31.5}}
    maps = [{"count": 1000, "max_parallel": None, "seconds": 9.5, "children_per_second": 120.0,
             "fan_out_seconds": 0.4, "wake_ms": {"p50": 20.0}},
            {"count": 10_000, "max_parallel": 200, "error": "timed out"} if failed else
            {"count": 10_000, "max_parallel": 200, "seconds": 99.0, "children_per_second": 101.0,
             "fan_out_seconds": 0.1, "wake_ms": {"p50": 25.0}}]
    return {"maps": maps, "wake": wake, "postgres_version": "15", "private_cluster": True}


def test_the_table_prints_the_fan_out_figures_of_a_run_of_only_that_part(capsys):
    results = {"mode": "full", "rounds": 3, "machine": {"idle": True, "load_average": [0, 0, 0], "busy_share": 0.0},
               "fanout_postgres": fanout_part(), "fanout_sqlite": fanout_part(failed=True)}
    report.print_table(results)
    lines = capsys.readouterr().out.splitlines()
    assert "PostgreSQL 15 (private cluster)" in lines[1]
    rows = {line.split("  ")[0]: line for line in lines[4:]}
    figure = "PG fan-out+join 1,000 at once: s / child/s / insert s / wake ms"
    assert "9.5 / 120 / 0.40 / 20.0" in rows[figure]
    assert "99.0 / 101 / 0.10 / 25.0" in rows["PG fan-out+join 10,000, 200 at a time: s / child/s / insert s / wake ms"]
    assert "failed" in rows["SQLite fan-out+join 10,000, 200 at a time: s / child/s / insert s / wake ms"]
    assert "12.0 / 31.5" in rows["PG fan-out wake-up p50 / p99, ms (20 maps of 100)"]
    assert not any(line.startswith("P1") for line in lines)
