"""The engine's side of the bench, one measurement per run, against a node the caller started.

    DATABASE_URL=... .venv/bin/python bench/engine_driver.py setup|p1|p2|p3|p4|sleepers|wake|p7|p9|fanout|schedules
        [options]
Prints one JSON object on its last line, with wall-clock windows (t0, t1) the caller matches with its
CPU, xid and WAL samples. `util/echo` × 3 is started through the service layer from 8 threads (p1), through
`POST /api/v1/transactions` from 16 connections (p2), or one at a time on an idle engine (p9).
"""
import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
from fan_out import PIPELINES as FAN_OUT_PIPELINES  # noqa: E402
from fan_out import fanout  # noqa: E402,F401 (run by name)
from schedule_lateness import PIPELINES as SCHEDULE_PIPELINES  # noqa: E402

OWNER = "bench"
PIPELINES = FAN_OUT_PIPELINES + SCHEDULE_PIPELINES + [
    {"name": "bench-echo3", "steps": [{"name": s, "type": "util/echo"} for s in ("one", "two", "three")]},
    {"name": "bench-switch", "steps": [{"name": "wait", "type": "util/wait-switch", "config": {"switch": "go"}}]},
    {"name": "bench-nap", "steps": [{"name": "nap", "type": "util/sleep", "config": {"duration_field": "nap"}}]},
]


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def summary(values):
    values = sorted(values)
    if not values:
        return {"n": 0}

    def at(q):
        return values[min(len(values) - 1, int(q * len(values)))]

    return {"n": len(values), "p50": at(0.5), "p95": at(0.95), "p99": at(0.99), "max": values[-1]}


def setup(_options):
    from django.core.management import call_command

    from engine.services.owners import api_key_create, owner_ensure
    from engine.services.pipelines import pipeline_publish

    call_command("migrate", verbosity=0)
    owner_ensure(name=OWNER)
    for definition in PIPELINES:
        pipeline_publish(definition=definition)
    _key, raw = api_key_create(owner=OWNER, name=f"bench-{time.time_ns()}")
    return {"api_key": raw}


def wait_finished(tx_ids, timeout):
    """Wait until every transaction of `tx_ids` has finished; return the wall time the last one did."""
    from django.db.models import Max

    from engine.models import Transaction
    from engine.models.transactions import ACTIVE

    deadline = time.monotonic() + timeout
    pending = list(tx_ids)
    while pending:
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(pending)} transactions did not finish within {timeout}s")
        if Transaction.objects.filter(pk=pending[-1], status__in=ACTIVE).exists():
            time.sleep(0.05)
            continue
        pending = list(Transaction.objects.filter(pk__in=pending, status__in=ACTIVE).values_list("pk", flat=True))
        if pending:
            time.sleep(0.05)
    done = Transaction.objects.filter(pk__in=tx_ids).aggregate(last=Max("completed_at"))["last"]
    return done.timestamp()


def checkpoints(tx_ids):
    """Step runs and journal entries written for `tx_ids`, and how many ended other than success."""
    from engine.models import JournalEntry, StepRun, Transaction

    return {"step_runs": StepRun.objects.filter(tx_id__in=tx_ids, status="success").count(),
            "journal_entries": JournalEntry.objects.filter(tx_id__in=tx_ids).count(),
            "not_success": Transaction.objects.filter(pk__in=tx_ids).exclude(status="success").count()}


def start_many(count, threads):
    """Start `count` bench-echo3 transactions through the service layer from `threads` client threads
    (each on its own connection), as DBOS's reference starts its workflows from 8; return their ids."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from engine.services.transactions import transaction_start

    def start(slot):
        try:
            return [transaction_start(owner=OWNER, transaction_type="bench-echo3", data={"i": i})[0].pk
                    for i in range(slot, count, threads)]
        finally:
            connection.close()

    with ThreadPoolExecutor(threads) as pool:
        return [tx_id for chunk in pool.map(start, range(threads)) for tx_id in chunk]


def p1(options):
    began, cpu = time.time(), cpu_seconds()
    ids = start_many(options.count, options.threads)
    started = time.time()
    client_cpu = cpu_seconds() - cpu
    ended = wait_finished(ids, options.timeout)
    return {"count": len(ids), "t0": began, "t1": ended, "start_seconds": started - began,
            "per_second": len(ids) / (ended - began), "client_cpu_seconds": client_cpu, **checkpoints(ids)}


def p2(options):
    from rest_load import post_many

    began = time.time()
    ids, latencies, cpu = post_many(options.url, options.api_key, options.count, options.connections,
                                    {"transaction_type": "bench-echo3", "data": {}}, rate=options.rate)
    posted = time.time()
    ended = wait_finished(ids, options.timeout)
    return {"count": len(ids), "t0": began, "t1": ended, "started_per_second": len(ids) / (posted - began),
            "per_second": len(ids) / (ended - began), "start_latency_ms": summary(latencies),
            "client_cpu_seconds": cpu, **checkpoints(ids)}


def wait_status(tx_id, status, timeout=30, finished=None):
    """Wait until `tx_id` has `status`. With `finished` (a LISTEN on the engine's finished notices, on
    PostgreSQL) the wait sleeps until a notice instead of polling, so that it takes no CPU from the
    engine it measures; the time measured is the transaction's own completed_at either way."""
    from engine.models import Transaction

    deadline = time.monotonic() + timeout
    while not Transaction.objects.filter(pk=tx_id, status=status).exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"{tx_id} did not become {status} within {timeout}s")
        if finished is not None:
            finished.wait(0.05)
        else:
            time.sleep(0.002)


def p3(options):
    """Switch wake-up: from the PUT (or the service call without --url) until the transaction finished."""
    import urllib.request

    from engine.models import Transaction
    from engine.services.switches import switch_set
    from engine.services.transactions import transaction_start

    from engine.notices import FINISHED_CHANNEL, Listener, is_postgres

    finished = Listener([FINISHED_CHANNEL]) if is_postgres() else None
    results = []
    for _ in range(options.count):
        tx, _created = transaction_start(owner=OWNER, transaction_type="bench-switch", data={})
        wait_status(tx.pk, "sleeping")
        time.sleep(0.02)
        sent = time.time()
        if options.url:
            request = urllib.request.Request(
                f"{options.url}/api/v1/transactions/{tx.pk}/switches/go", method="PUT", data=b'{"value": true}',
                headers={"Authorization": f"Bearer {options.api_key}", "Content-Type": "application/json"})
            urllib.request.urlopen(request, timeout=30).read()
        else:
            switch_set(tx_id=tx.pk, name="go", value=True, actor="bench")
        wait_status(tx.pk, "success", finished=finished)
        completed = Transaction.objects.values_list("completed_at", flat=True).get(pk=tx.pk)
        results.append((completed.timestamp() - sent) * 1000)
    return {"via": "PUT" if options.url else "switch_set", "wake_ms": summary(results)}


def p9(options):
    """Idle latency: `--count` bench-echo3 transactions one after another (after `--warmup` unmeasured), each
    started with engine.client.start once the last has finished; server side completed_at - created_at, and
    as the caller sees it, from the start call until it hears the finish. On PostgreSQL it hears the
    engine's finished notice (a LISTEN opened before the start, so none is missed; engine.client.wait
    polls every 0.1 s, too coarse for this); on SQLite, which has no notices, it reads the status every ms."""
    from engine import client
    from engine.models import Transaction
    from engine.notices import FINISHED_CHANNEL, Listener, is_postgres

    listener = Listener([FINISHED_CHANNEL]) if is_postgres() else None
    if listener is not None and listener.wait(0) == [None]:
        raise SystemExit("no LISTEN connection")
    ids, caller, began, cpu = [], [], None, None
    for number in range(options.warmup + options.count):
        if number == options.warmup:
            began, cpu = time.time(), cpu_seconds()
        sent = time.perf_counter()
        tx_id = client.start(owner=OWNER, transaction_type="bench-echo3", data={"i": number})["tx_id"]
        heard_finish(tx_id, listener, options.timeout)
        if number >= options.warmup:
            caller.append((time.perf_counter() - sent) * 1000)
            ids.append(tx_id)
    ended, client_cpu = time.time(), cpu_seconds() - cpu
    rows = Transaction.objects.filter(pk__in=ids).values_list("status", "created_at", "completed_at")
    server = [(done - created).total_seconds() * 1000 for _status, created, done in rows]
    failed = sum(status != "success" for status, _c, _d in rows)
    if failed:
        raise SystemExit(f"{failed} of the {len(ids)} transactions did not succeed")
    return {"count": len(ids), "started": options.warmup + len(ids), "t0": began, "t1": ended,
            "heard": "notice" if listener else "1 ms poll", "server_ms": summary(server), "caller_ms": summary(caller),
            "client_cpu_seconds": client_cpu}


def heard_finish(tx_id, listener, timeout):
    """Return once `tx_id` has finished: its finished notice (PostgreSQL), else its status read every ms."""
    from engine.models import Transaction
    from engine.states import TX_TERMINAL_VALUES

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if listener is None:
            if Transaction.objects.filter(pk=tx_id, status__in=TX_TERMINAL_VALUES).exists():
                return
            time.sleep(0.001)
            continue
        payloads = listener.wait(deadline - time.monotonic())
        if tx_id in payloads:
            return
        if None in payloads:
            raise SystemExit("the LISTEN connection was lost")
    raise SystemExit(f"{tx_id} did not finish within {timeout}s")


def p4(options):
    """Timer lateness: step start after the wake-up minus the sleeper's wake_at, over spread sleepers."""
    import random

    from engine.durations import parse_timestamp
    from engine.models import JournalEntry, StepRun
    from engine.services.transactions import transaction_start

    spread = options.max_seconds - options.min_seconds
    ids = [transaction_start(owner=OWNER, transaction_type="bench-nap",
                             data={"nap": f"PT{options.min_seconds + spread * random.random():.3f}S"})[0].pk
           for _ in range(options.count)]
    wait_finished(ids, options.max_seconds + options.timeout)
    lateness, missed = [], 0
    for tx_id in ids:
        entry = JournalEntry.objects.filter(tx_id=tx_id, kind="status", data__to="sleeping").first()
        woken = StepRun.objects.filter(tx_id=tx_id, step="nap", retry_count=1).first()
        if entry is None or woken is None:
            missed += 1
            continue
        lateness.append((woken.started_at - parse_timestamp(entry.data["wake_at"])).total_seconds() * 1000)
    return {"lateness_ms": summary(lateness), "missed": missed}


def sleepers(options):
    from engine_seed import seed_sleepers

    began = time.time()
    made = seed_sleepers(options.count)
    return {"count": made, "seconds": time.time() - began}


def wake(options):
    from engine_seed import seed_due, wait_woken

    ids, began = seed_due(options.count, in_seconds=3.0 + options.count / 5000)
    ended = wait_woken(ids, options.timeout)
    return {"count": len(ids), "t0": began, "t1": ended, "per_second": len(ids) / max(1e-6, ended - began)}


def p7(options):
    from engine_seed import measure_reads, seed_finished, wait_queue_empty

    wait_queue_empty(options.timeout)
    began = time.time()
    made, template = seed_finished(options.count)
    seeded = time.time()
    reads = measure_reads(options.samples, options.api_key, template)
    return {"seeded": made, "seed_seconds": seeded - began, "t0": seeded, "t1": time.time(), **reads}


def schedules(options):
    """Schedule lateness: `--count` schedules every `--every` seconds, measured for `--seconds`
    (bench/schedule_lateness.py)."""
    from schedule_lateness import measure

    return measure(options.count, options.every, options.seconds, options.timeout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["setup", "p1", "p2", "p3", "p4", "sleepers", "wake", "p7", "p9", "fanout",
                                         "schedules"])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=20, help="p9: transactions run before the measured ones")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rate", type=float, default=None, help="p2: requests/s in all (default: as fast as served)")
    parser.add_argument("--url", default="")
    parser.add_argument("--api-key", default="")
    parser.add_argument("--min-seconds", type=float, default=5.0)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--max-parallel", type=int, default=None, help="fanout: at most this many children at a time (default all)")
    parser.add_argument("--repeat", type=int, default=1, help="fanout: maps run one after another")
    parser.add_argument("--every", type=int, default=10, help="schedules: each schedule's interval, seconds")
    parser.add_argument("--seconds", type=int, default=60, help="schedules: the window measured")
    options = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "datp_site.settings")
    import django

    django.setup()
    result = globals()[options.what](options)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
