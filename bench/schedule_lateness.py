"""Schedule lateness through a real node: `--count` schedules of one `util/echo` step, every `--every` seconds,
their start times staggered so that count / every of them fall due together at each whole second.

    DATABASE_URL=... .venv/bin/python bench/engine_driver.py schedules --count 1000 --every 10 --seconds 60
The window measured is the `--seconds` whole seconds after the last schedule was created; every due time in it
must have started exactly once. Lateness is the transaction's created_at minus its due time (no jitter).
"""
import math
import time
from datetime import UTC, datetime, timedelta

PIPELINES = [{"name": "bench-tick", "steps": [{"name": "tick", "type": "util/echo"}]}]
PREFIX = "bench-tick-"
SETTLE_SECONDS = 60  # after the window: how long its last due times may take to start and end


def create(count, every, owner="bench"):
    """Create `count` schedules of bench-tick, every `every` seconds, schedule i starting at the anchor plus
    i mod `every` seconds (the anchor: the next whole second); return the anchor."""
    from engine.services.schedules import schedule_create

    anchor = datetime.fromtimestamp(math.ceil(time.time()), UTC)
    for index in range(count):
        schedule_create(owner=owner, name=f"{PREFIX}{index:05d}", actor="bench", transaction_type="bench-tick",
                        interval=f"PT{every}S", start_at=anchor + timedelta(seconds=index % every),
                        overlap="allow", catchup_window="PT10M")
    return anchor


def expected(first, last):
    """Every (schedule name, due time) of the bench's schedules in [first, last)."""
    from engine.models import Schedule
    from engine.schedules import Calendar

    found = []
    for schedule in Schedule.objects.filter(name__startswith=PREFIX):
        dues = Calendar.of(schedule).due_between(first - timedelta(microseconds=1), last, limit=100_000)
        found += [(schedule.name, due) for due in dues if due < last]
    return found


def facts(first, last):
    """What started for the due times in [first, last): lateness (created_at - due_at, and the node's look:
    ScheduleRun.started_at - due_at) and how many were started, missed, doubled, or noted skipped or failed."""
    from django.db.models import Count

    from engine.models import ScheduleEvent, ScheduleRun, Transaction
    from engine.schedules import external_id

    from engine_driver import summary

    wanted = expected(first, last)
    runs = list(ScheduleRun.objects.filter(schedule__name__startswith=PREFIX, due_at__gte=first, due_at__lt=last)
                .values_list("schedule__name", "due_at", "started_at", "tx_id", "tx__created_at", "tx__external_id"))
    ids = {external_id(name, due) for name, due in wanted}
    per_id = dict(Transaction.objects.filter(external_id__in=ids).values_list("external_id")
                  .annotate(n=Count("pk")).values_list("external_id", "n"))
    run_keys = {(name, due) for name, due, *_ in runs}
    missed = [(name, due) for name, due in wanted
              if (name, due) not in run_keys or not per_id.get(external_id(name, due))]
    # started more than once: a second run or transaction of a due time, a run on another due time's
    # transaction, or a run at a time that was not due
    doubled = (len(runs) - len(run_keys)) + sum(n - 1 for n in per_id.values() if n > 1) + \
        sum(1 for name, due, _s, _t, _c, ext in runs if ext != external_id(name, due)) + len(run_keys - set(wanted))
    events = dict(ScheduleEvent.objects.filter(schedule__name__startswith=PREFIX, due_at__gte=first, due_at__lt=last)
                  .values_list("kind").annotate(n=Count("pk")).values_list("kind", "n"))
    return {"due_times": len(wanted), "started": len(run_keys), "missed": len(missed), "doubled": doubled,
            "missed_examples": [f"{name} {due.isoformat()}" for name, due in missed[:5]], "events": events,
            "lateness_ms": summary([(created - due).total_seconds() * 1000 for _n, due, _s, _t, created, _e in runs]),
            "look_ms": summary([(started - due).total_seconds() * 1000 for _n, due, started, *_ in runs]),
            "tx_ids": [tx_id for *_, tx_id, _c, _e in runs]}


def measure(count, every, seconds, timeout):
    """Create the schedules, measure the `seconds` whole seconds after the last was created, wait until their
    due times have started (at most SETTLE_SECONDS more) and their transactions ended; return the figures
    (SystemExit if the transactions did not end within `timeout`)."""
    from engine_driver import checkpoints, wait_finished

    began = time.time()
    anchor = create(count, every)
    created = time.time()
    first = datetime.fromtimestamp(math.ceil(created) + 1, UTC)
    last = first + timedelta(seconds=seconds)
    while time.time() < last.timestamp():
        time.sleep(0.5)
    deadline = time.monotonic() + SETTLE_SECONDS
    found = facts(first, last)
    while found["missed"] and time.monotonic() < deadline:
        time.sleep(1)
        found = facts(first, last)
    tx_ids = found.pop("tx_ids")
    ended = wait_finished(tx_ids, timeout)
    done = checkpoints(tx_ids)
    return {"count": count, "every_seconds": every, "seconds": seconds, "per_second": count / every,
            "create_seconds": created - began, "anchor": anchor.isoformat(), "first": first.isoformat(),
            "last": last.isoformat(), "t0": first.timestamp(), "t1": ended, "not_success": done["not_success"],
            **found}
