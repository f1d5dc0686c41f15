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


def one_map(count, max_parallel, timeout):
    """Run one map of `count` children; return its timings (seconds) and the parent's wake-up (ms)."""
    from django.db.models import Count, Max, Q

    from engine.models import StepRun, Transaction
    from engine.services.transactions import transaction_start

    pipeline, data = "bench-map", {"items": list(range(count))}
    if max_parallel is not None:
        pipeline, data["max_parallel"] = "bench-map-limited", max_parallel
    began = time.time()
    parent, _created = transaction_start(owner="bench", transaction_type=pipeline, data=data)
    wait_parent(parent.pk, timeout)
    parent.refresh_from_db()
    children = Transaction.objects.filter(parent_id=parent.pk).aggregate(
        ok=Count("pk", filter=Q(status="success")), last=Max("completed_at"))
    runs = list(StepRun.objects.filter(tx_id=parent.pk, step="each").order_by("seq").values_list(
        "started_at", "ended_at"))
    if parent.status != "success" or children["ok"] != count or len(runs) != 2:
        raise SystemExit(f"the map {parent.pk} ended {parent.status} with {children['ok']} of {count} children "
                         f"succeeded and {len(runs)} runs of its map step (expected success, all, 2)")
    (fan_began, fan_ended), (rerun_began, rerun_ended) = runs
    last = children["last"]
    return {"seconds": parent.completed_at.timestamp() - began,
            "fan_out_seconds": (fan_ended - fan_began).total_seconds(),
            "children_seconds": (last - fan_began).total_seconds(),
            "wake_ms": (rerun_began - last).total_seconds() * 1000,
            "join_read_seconds": (rerun_ended - rerun_began).total_seconds(),
            "t0": began, "t1": parent.completed_at.timestamp()}


def fanout(options):
    """`--repeat` maps of `--count` children (`--max-parallel` at a time, default all at once)."""
    from engine_driver import summary

    maps = [one_map(options.count, options.max_parallel, options.timeout) for _ in range(options.repeat)]
    result = {"count": options.count, "max_parallel": options.max_parallel, "repeat": options.repeat,
              "t0": maps[0]["t0"], "t1": maps[-1]["t1"], "wake_ms": summary([m["wake_ms"] for m in maps])}
    for field in ("seconds", "fan_out_seconds", "children_seconds", "join_read_seconds"):
        result[field] = summary([m[field] for m in maps])["p50"]
    result["children_per_second"] = options.count / max(1e-6, result["children_seconds"])
    return result
