"""Fan-out and join through a real node: a `util/map` over N items, each a child of one `util/echo` step.

    DATABASE_URL=... .venv/bin/python bench/engine_driver.py fanout --count N [--max-parallel M] [--repeat R]
Each map is started through the service layer and waited for (one at a time, so that each is measured
alone); its figures come from the rows the engine wrote: the fan-out's step run (the children's insert),
the children's `completed_at`, and the parent's re-run of the map step after its wake-up.
"""
import time

PIPELINES = [
    {"name": "bench-noop", "transaction_type": False, "steps": [{"name": "noop", "type": "util/echo"}]},
    {"name": "bench-map", "steps": [{"name": "each", "type": "util/map",
                                     "config": {"items": "/items", "pipeline": "bench-noop"}}]},
    {"name": "bench-map-limited", "steps": [{"name": "each", "type": "util/map",
                                             "config": {"items": "/items", "pipeline": "bench-noop",
                                                        "max_parallel": {"from": "/max_parallel"}}}]},
]


def wait_parent(tx_id, timeout):
    """Wait until the parent `tx_id` has ended (one indexed read every 50 ms); SystemExit past `timeout`."""
    from engine.models import Transaction
    from engine.models.transactions import ACTIVE

    deadline = time.monotonic() + timeout
    while Transaction.objects.filter(pk=tx_id, status__in=ACTIVE).exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"the map {tx_id} did not end within {timeout}s")
        time.sleep(0.05)


def start_map(count, max_parallel=None, owner="bench"):
    """Start a map of `count` children (`max_parallel` at a time, default all at once); return its id."""
    from engine.services.transactions import transaction_start

    pipeline, data = "bench-map", {"items": list(range(count))}
    if max_parallel is not None:
        pipeline, data["max_parallel"] = "bench-map-limited", max_parallel
    return transaction_start(owner=owner, transaction_type=pipeline, data=data)[0].pk


def figures(parent_id, count, began):
    """The timings (seconds) of the ended map `parent_id` started at `began` (epoch seconds), and the parent's
    wake-up (ms): from the last child's completed_at to the start of the map step's run after it; SystemExit
    unless the map and all its `count` children succeeded."""
    from django.db.models import Count, Max, Q

    from engine.models import StepRun, Transaction

    parent = Transaction.objects.only("status", "completed_at").get(pk=parent_id)
    children = Transaction.objects.filter(parent_id=parent_id).aggregate(
        ok=Count("pk", filter=Q(status="success")), last=Max("completed_at"))
    runs = list(StepRun.objects.filter(tx_id=parent_id, step="each").order_by("seq").values_list(
        "started_at", "ended_at"))
    if parent.status != "success" or children["ok"] != count or len(runs) != 2:
        raise SystemExit(f"the map {parent_id} ended {parent.status} with {children['ok']} of {count} children "
                         f"succeeded and {len(runs)} runs of its map step (expected success, all, 2)")
    (fan_began, fan_ended), (rerun_began, rerun_ended) = runs
    last = children["last"]
    return {"seconds": parent.completed_at.timestamp() - began,
            "fan_out_seconds": (fan_ended - fan_began).total_seconds(),
            "children_seconds": (last - fan_began).total_seconds(),
            "wake_ms": (rerun_began - last).total_seconds() * 1000,
            "join_read_seconds": (rerun_ended - rerun_began).total_seconds(),
            "t0": began, "t1": parent.completed_at.timestamp()}


def one_map(count, max_parallel, timeout):
    """Run one map of `count` children through the node; return its figures."""
    began = time.time()
    parent_id = start_map(count, max_parallel)
    wait_parent(parent_id, timeout)
    return figures(parent_id, count, began)


def fanout(options):
    """`--repeat` maps of `--count` children (`--max-parallel` at a time, default all at once)."""
    maps = [one_map(options.count, options.max_parallel, options.timeout) for _ in range(options.repeat)]
    return summarize(maps, count=options.count, max_parallel=options.max_parallel)


def summarize(maps, *, count, max_parallel):
    """One result of the maps' figures: their medians, and the wake-up's percentiles."""
    from engine_driver import summary

    result = {"count": count, "max_parallel": max_parallel, "repeat": len(maps),
              "t0": maps[0]["t0"], "t1": maps[-1]["t1"], "wake_ms": summary([m["wake_ms"] for m in maps])}
    for field in ("seconds", "fan_out_seconds", "children_seconds", "join_read_seconds"):
        result[field] = summary([m[field] for m in maps])["p50"]
    result["children_per_second"] = count / max(1e-6, result["children_seconds"])
    return result
