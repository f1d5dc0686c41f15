"""Reads of schedules for the API, the console and the client: a schedule as a dict, its next due times, its last
runs with their transactions' statuses, and its journal."""
from django.db.models import OuterRef, Subquery
from django.urls import reverse

from engine.errors import ScheduleNotFound
from engine.models import Schedule, ScheduleEvent, ScheduleRun
from engine.schedules import Calendar, check_jitter, jitter_of
from engine.selectors.formats import iso

NEXT_SHOWN = 5
LAST_SHOWN = 20


def _scoped(owners):
    """Schedules of `owners` (an owner's name, a tuple of them, or None for every owner)."""
    queryset = Schedule.objects.all()
    if isinstance(owners, str):
        return queryset.filter(owner_id=owners)
    return queryset if owners is None else queryset.filter(owner_id__in=owners)


def schedule_get(*, name, owners=None):
    schedule = _scoped(owners).filter(name=name).first()
    if schedule is None:
        raise ScheduleNotFound(f"No schedule named {name!r}.")
    return schedule


def schedule_list(*, owners=None):
    """Every schedule in scope, by name."""
    return [schedule_as_dict(schedule) for schedule in _scoped(owners).order_by("name")]


def next_due_times(schedule, count=NEXT_SHOWN):
    """The next `count` due times (from the next one planned) with the moment each fires (its jitter added)."""
    if schedule.next_due_at is None:
        return []
    jitter = check_jitter(schedule.jitter)
    dues = [schedule.next_due_at,
            *Calendar.of(schedule).due_between(schedule.next_due_at, _far(schedule), limit=count - 1)]
    return [{"due_at": iso(due), "fires_at": iso(due + jitter_of(schedule.name, due, jitter))} for due in dues]


def _far(schedule):
    return schedule.end_at or schedule.next_due_at.replace(year=min(9998, schedule.next_due_at.year + 100))


def schedule_as_dict(schedule, *, detail=False):
    found = {
        "name": schedule.name, "owner": schedule.owner_id, "description": schedule.description,
        "transaction_type": schedule.transaction_type, "data": schedule.data, "cron": schedule.cron,
        "interval": schedule.interval, "timezone": schedule.timezone, "start_at": iso(schedule.start_at),
        "end_at": iso(schedule.end_at), "overlap": schedule.overlap, "catchup_window": schedule.catchup_window,
        "jitter": schedule.jitter or None, "paused": schedule.paused, "note": schedule.note,
        "next_due_at": iso(schedule.next_due_at), "buffered_due_at": iso(schedule.buffered_due_at),
        "last_due_at": iso(schedule.last_due_at), "created_by": schedule.created_by,
        "created_at": iso(schedule.created_at), "updated_at": iso(schedule.updated_at),
        "links": {"self": reverse("api:schedule", kwargs={"name": schedule.name})},
    }
    if detail:
        found["next_runs"] = next_due_times(schedule)
        found["last_runs"] = last_runs(schedule)
        found["events"] = events_of(schedule)
    return found


def last_runs(schedule, count=LAST_SHOWN):
    """The schedule's newest runs: due time, cause, when started, and its transaction's id and status."""
    rows = (ScheduleRun.objects.filter(schedule=schedule).order_by("-due_at")
            .values("due_at", "cause", "started_at", "actor", "tx_id", "tx__status")[:count])
    return [{"due_at": iso(row["due_at"]), "cause": row["cause"], "started_at": iso(row["started_at"]),
             "actor": row["actor"], "tx_id": row["tx_id"], "status": row["tx__status"]} for row in rows]


def events_of(schedule, count=LAST_SHOWN):
    """The schedule's newest journal entries (skipped, buffered, missed due times and what people did)."""
    rows = ScheduleEvent.objects.filter(schedule=schedule).order_by("-at", "-id")[:count]
    return [{"at": iso(event.at), "kind": event.kind, "due_at": iso(event.due_at), "actor": event.actor,
             "note": event.note, "data": event.data} for event in rows]


def schedule_console_list(*, owners=None):
    """Every schedule in scope, by name, as schedule_list gives them, each with its newest run (`last_run`: due
    time, transaction id and status, or None), read in the one query."""
    newest = ScheduleRun.objects.filter(schedule=OuterRef("pk")).order_by("-due_at")
    found = []
    for schedule in _scoped(owners).order_by("name").annotate(
            last_run_due_at=Subquery(newest.values("due_at")[:1]),
            last_run_tx_id=Subquery(newest.values("tx_id")[:1]),
            last_run_status=Subquery(newest.values("tx__status")[:1])):
        row = schedule_as_dict(schedule)
        row["last_run"] = None if schedule.last_run_due_at is None else {
            "due_at": iso(schedule.last_run_due_at), "tx_id": schedule.last_run_tx_id,
            "status": schedule.last_run_status}
        found.append(row)
    return found
