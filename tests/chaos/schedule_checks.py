"""Schedules for the chaos scenario and the two-node race, and what must hold of them (inside the agent): every
due time of each schedule, from its first to a cutoff, started exactly one run and one transaction."""
import math
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime

from django.db.models import Count

from engine.models import Schedule, ScheduleEvent, ScheduleRun, Transaction
from engine.schedules import Calendar, external_id
from engine.services.schedules import schedule_create
from engine.states import TX_TERMINAL

TERMINAL = {str(status) for status in TX_TERMINAL}
NOT_STARTED = ("missed", "skipped", "buffered", "failed")  # a due time noted as not started


def create(*, prefix, count, every, transaction_type, lead_seconds, kinds=("interval", "cron"), data=None,
           overlap="allow", catchup_window="PT1M"):
    """Create `count` schedules of `transaction_type`, all due every `every` seconds from the same anchor (the
    first multiple of `every` seconds at least `lead_seconds` from now); by turns an interval and a cron with
    seconds when `kinds` has both. Return the anchor (ISO 8601)."""
    anchor = datetime.fromtimestamp(math.ceil((time.time() + lead_seconds) / every) * every, UTC)
    calendars = {"interval": {"interval": f"PT{every}S"}, "cron": {"cron": f"*/{every} * * * * *"}}
    for index in range(count):
        schedule_create(owner="test", name=f"{prefix}{index:03d}", actor="chaos", transaction_type=transaction_type,
                        start_at=anchor, overlap=overlap, catchup_window=catchup_window, data=data or {},
                        **calendars[kinds[index % len(kinds)]])
    return anchor.isoformat()


def facts(*, prefix, cutoff):
    """For the schedules named `prefix`...: each due time from the first after the schedule's creation to
    `cutoff` (ISO 8601, included) that has no run or no transaction of its external id (`missing`), more than one
    (`doubled`), a run at a time that is not due (`unexpected`) or a run whose transaction is not its due time's
    (`mismatched`); the runs' transactions by status; the due times noted as not started; the runs' lateness
    (transaction created_at - due time) and causes; and how many due times' runs were started by more than one
    look at the schedules (ScheduleRun.started_at is the `now` of the look that started it: two nodes looking at
    once, or a look killed part way and another that started the rest)."""
    cutoff = datetime.fromisoformat(cutoff)
    missing, doubled, unexpected, mismatched, lateness = [], [], [], [], []
    statuses, causes, due_times, tx_ids, looks = Counter(), Counter(), 0, [], defaultdict(set)
    for schedule in Schedule.objects.filter(name__startswith=prefix).order_by("name"):
        wanted = Calendar.of(schedule).due_between(schedule.created_at, cutoff, limit=100_000)
        due_times += len(wanted)
        runs = list(ScheduleRun.objects.filter(schedule=schedule, due_at__lte=cutoff).values_list(
            "due_at", "cause", "tx_id", "tx__external_id", "tx__status", "tx__created_at", "started_at"))
        per_due = Counter(due for due, *_ in runs)
        per_id = dict(Transaction.objects.filter(owner_id=schedule.owner_id,
                                                 external_id__startswith=f"schedule:{schedule.name}:")
                      .values_list("external_id").annotate(n=Count("pk")).values_list("external_id", "n"))
        due_set = set(wanted)
        for due in wanted:
            key = external_id(schedule.name, due)
            if not per_due[due] or not per_id.get(key):
                missing.append(key)
            elif per_due[due] > 1 or per_id[key] > 1:
                doubled.append([key, per_due[due], per_id[key]])
        unexpected += [external_id(schedule.name, due) for due in per_due if due not in due_set]
        for due, cause, tx_id, ext, status, created, started in runs:
            looks[due].add(started)
            if ext != external_id(schedule.name, due):
                mismatched.append([external_id(schedule.name, due), tx_id, ext])
            statuses[status] += 1
            causes[cause] += 1
            tx_ids.append(tx_id)
            if created is not None:
                lateness.append((created - due).total_seconds())
    events = dict(ScheduleEvent.objects.filter(schedule__name__startswith=prefix, kind__in=NOT_STARTED,
                                               due_at__lte=cutoff)
                  .values_list("kind").annotate(n=Count("pk")).values_list("kind", "n"))
    lateness.sort()
    return {"schedules": Schedule.objects.filter(name__startswith=prefix).count(), "due_times": due_times,
            "runs": len(tx_ids), "missing": missing[:20], "missing_count": len(missing), "doubled": doubled[:20],
            "unexpected": unexpected[:20], "mismatched": mismatched[:20], "statuses": dict(statuses),
            "unfinished": sum(n for status, n in statuses.items() if status not in TERMINAL),
            "not_started_events": events, "causes": dict(causes), "tx_ids": tx_ids,
            "due_instants": len(looks), "split_looks": sum(len(starts) > 1 for starts in looks.values()),
            "lateness_seconds": {"p50": lateness[len(lateness) // 2], "max": lateness[-1]} if lateness else {}}
