"""Schedules: create, change, pause, resume, delete, trigger and backfill them (the runs that fall due are started
by engine.services.schedule_fire, the waker's duty). Each due time starts at most one transaction: its run row
is unique per schedule and due time, its external id is `schedule:<name>:<due time>`, and both are written
under the schedule's row lock, so two nodes, a restart or a clock jump never start a due time twice."""
import re
from datetime import timedelta

from django.db import IntegrityError, transaction

from engine import clock, durations
from engine.errors import InvalidRequest, ScheduleExists, ScheduleNotFound
from engine.limits import SCHEDULE_NAME_PATTERN
from engine.models import Schedule, ScheduleEvent, ScheduleRun
from engine.schedules import (
    BadSchedule,
    Calendar,
    check_cron,
    check_interval,
    check_jitter,
    check_window,
    stamp,
    zone,
)
from engine.services.schedule_fire import (
    Decision,
    Look,
    active_runs,
    plan_look,
    schedules_fire,
    write,
)
from engine.services.transactions import start_row
from engine.states import ScheduleEventKind, ScheduleOverlap, ScheduleRunCause

__all__ = ["schedules_fire"]  # the waker's duty lives in engine.services.schedule_fire

MAX_BACKFILL = 1000  # due times one backfill may start
NAME_RE = re.compile(SCHEDULE_NAME_PATTERN)
EDITABLE = ("description", "transaction_type", "data", "cron", "interval", "timezone", "start_at", "end_at",
            "overlap", "catchup_window", "jitter")


# Checks ----------------------------------------------------------------------------------------------


def _timestamp(fields, name, problems):
    value = fields.get(name)
    if value is None:
        return None
    try:
        return durations.parse_timestamp(value)
    except durations.BadDuration as exc:
        problems[name] = [str(exc)]
        return None


def _checked(fields, *, owner, now):
    """Check a schedule's editable fields (all of them, as they would be stored); return them cleaned, or raise
    InvalidRequest naming every field that is wrong."""
    problems, clean = {}, dict(fields)
    for name, check in (("cron", check_cron), ("interval", check_interval), ("timezone", zone),
                        ("jitter", check_jitter), ("catchup_window", check_window)):
        value = fields.get(name)
        if value is None and name in ("cron", "interval"):
            continue
        try:
            checked = check(value)
        except BadSchedule as exc:
            problems.setdefault(exc.field, []).append(str(exc))
            continue
        if name == "cron":
            clean["cron"] = checked
    if (fields.get("cron") is None) == (fields.get("interval") is None) and not {"cron", "interval"} & set(problems):
        problems["cron"] = ["Give exactly one of cron (a cron expression) and interval (an ISO 8601 duration)."]
    clean["start_at"], clean["end_at"] = _timestamp(fields, "start_at", problems), _timestamp(fields, "end_at", problems)
    if clean["start_at"] and clean["end_at"] and clean["end_at"] < clean["start_at"]:
        problems["end_at"] = ["The end must not come before the start."]
    if fields.get("overlap") not in ScheduleOverlap.values:
        problems["overlap"] = [f"One of {', '.join(ScheduleOverlap.values)}."]
    if not isinstance(fields.get("description", ""), str):
        problems["description"] = ["A text."]
    if not isinstance(fields.get("data"), dict):
        problems["data"] = ["A JSON object: the data of each transaction the schedule starts."]
    if problems:
        raise InvalidRequest(_summary(problems), fields=problems)
    # the start's own checks (the type startable, the data's size and text), as a start at this moment makes them
    start_row(owner=owner, transaction_type=fields["transaction_type"], data=fields["data"], metadata={},
              external_id=None, deadline=None, webhook=None, webhook_progress=False, now=now)
    return clean


def _summary(problems):
    field, messages = next(iter(problems.items()))
    more = len(problems) - 1
    return f"{field}: {messages[0]}" + (f" (and {more} more field{'s' if more > 1 else ''})" if more else "")


def _plan(schedule, now):
    """Set the schedule's next due time after `now` and when to look at it (None while paused)."""
    schedule.next_due_at = Calendar.of(schedule).next_after(now)
    plan_look(schedule, now)


def _event(schedule, kind, *, now, actor="system", due_at=None, note="", **data):
    ScheduleEvent.objects.create(schedule=schedule, at=now, kind=kind, due_at=due_at, actor=actor, note=note,
                                 data=data)


# People's actions ------------------------------------------------------------------------------------


def _locked(name, owner=None):
    queryset = Schedule.objects.select_for_update().filter(name=name)
    if owner is not None:
        queryset = queryset.filter(owner=owner)
    schedule = queryset.first()
    if schedule is None:
        raise ScheduleNotFound(f"No schedule named {name!r}.")
    return schedule


def schedule_create(*, owner, name, actor, transaction_type, data=None, paused=False, note="", description="",
                    cron=None, interval=None, timezone="UTC", start_at=None, end_at=None,
                    overlap=ScheduleOverlap.SKIP, catchup_window="PT1H", jitter=""):
    """Create a schedule of `owner`; it starts its first run at its first due time after now."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidRequest("name: 1 to 64 lower-case letters, digits or _.- starting with a letter or digit.",
                             fields={"name": ["Not a valid schedule name."]})
    now = clock.now()
    fields = _checked({"description": description, "transaction_type": transaction_type,
                       "data": {} if data is None else data, "cron": cron, "interval": interval,
                       "timezone": timezone, "start_at": start_at, "end_at": end_at, "overlap": overlap,
                       "catchup_window": catchup_window or "PT1H", "jitter": jitter or ""}, owner=owner, now=now)
    schedule = Schedule(name=name, owner_id=owner, paused=bool(paused), note=note or "", created_by=actor,
                        created_at=now, updated_at=now, **fields)
    _plan(schedule, now)
    try:
        with transaction.atomic():
            schedule.save(force_insert=True)
            _event(schedule, ScheduleEventKind.CREATED, now=now, actor=actor, note=note or "")
    except IntegrityError as exc:
        raise ScheduleExists(f"A schedule named {name!r} already exists.") from exc
    return schedule


def schedule_update(*, name, actor, owner=None, note="", **changes):
    """Change a schedule's fields (those given); its next due time is planned again from now."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise InvalidRequest(f"Unknown field {min(unknown)!r}.", fields={key: ["Unknown field."] for key in unknown})
    now = clock.now()
    with transaction.atomic():
        schedule = _locked(name, owner)
        fields = {key: getattr(schedule, key) for key in EDITABLE}
        if "cron" in changes and changes["cron"] is not None:
            fields["interval"] = None
        if "interval" in changes and changes["interval"] is not None:
            fields["cron"] = None
        fields.update(changes)
        for key, value in _checked(fields, owner=schedule.owner_id, now=now).items():
            setattr(schedule, key, value)
        schedule.updated_at = now
        _plan(schedule, now)
        schedule.save()
        _event(schedule, ScheduleEventKind.UPDATED, now=now, actor=actor, note=note or "", fields=sorted(changes))
    return schedule


def schedule_pause(*, name, actor, note="", owner=None):
    """Pause a schedule: nothing starts until it is resumed (the due times meanwhile are not caught up)."""
    return _pause_or_resume(name, actor, note, owner, paused=True)


def schedule_resume(*, name, actor, note="", owner=None):
    """Resume a schedule: its next run is its first due time after now."""
    return _pause_or_resume(name, actor, note, owner, paused=False)


def _pause_or_resume(name, actor, note, owner, *, paused):
    now = clock.now()
    with transaction.atomic():
        schedule = _locked(name, owner)
        if schedule.paused == paused:
            return schedule
        schedule.paused, schedule.note, schedule.updated_at = paused, note or "", now
        _plan(schedule, now)
        schedule.save()
        _event(schedule, ScheduleEventKind.PAUSED if paused else ScheduleEventKind.RESUMED, now=now, actor=actor,
               note=note or "")
    return schedule


def schedule_delete(*, name, actor, owner=None):
    """Delete a schedule with its runs and journal; the transactions it started stay."""
    with transaction.atomic():
        _locked(name, owner).delete()


def schedule_trigger(*, name, actor, note="", owner=None):
    """Start a run now, under the schedule's overlap policy; return what happened: {"action": "started",
    "tx_id": ...} or {"action": "skipped" | "buffered" | "failed", "note": ...}."""
    now = clock.now()
    due = now.replace(microsecond=now.microsecond // 1000 * 1000)
    with transaction.atomic():
        schedule = _locked(name, owner)
        look = Look(schedule, now, active_runs([schedule])[schedule.pk])
        look.event(ScheduleEventKind.TRIGGERED, due_at=due, actor=actor, note=note or "")
        decision = look.decide(due, cause=ScheduleRunCause.TRIGGER, actor=actor)
        plan_look(schedule, now)
        write([look], now)
    return decision.answer()


def schedule_backfill(*, name, start, end, actor, overlap=ScheduleOverlap.ALLOW, owner=None):
    """Start a run for each due time from `start` to `end` (both included, both in the past) that has none yet,
    under `overlap` (default allow: each is its own run); return the counts and the runs started."""
    now = clock.now()
    problems = {}
    first, last = _timestamp({"start": start}, "start", problems), _timestamp({"end": end}, "end", problems)
    if overlap not in ScheduleOverlap.values:
        problems["overlap"] = [f"One of {', '.join(ScheduleOverlap.values)}."]
    if not problems and first is None:
        problems["start"] = ["Required: an ISO 8601 timestamp."]
    if not problems and last is None:
        problems["end"] = ["Required: an ISO 8601 timestamp."]
    if not problems and last < first:
        problems["end"] = ["The end must not come before the start."]
    if not problems and last > now:
        problems["end"] = ["A backfill is for the past: the end must not be after now (trigger runs one now)."]
    if problems:
        raise InvalidRequest(_summary(problems), fields=problems)
    with transaction.atomic():
        schedule = _locked(name, owner)
        dues = Calendar.of(schedule).due_between(first - timedelta(microseconds=1), last, limit=MAX_BACKFILL + 1)
        if len(dues) > MAX_BACKFILL:
            raise InvalidRequest(f"end: more than {MAX_BACKFILL} due times in that range; backfill it in parts.",
                                 fields={"end": [f"At most {MAX_BACKFILL} due times per backfill."]},
                                 max_due_times=MAX_BACKFILL)
        ran = set(ScheduleRun.objects.filter(schedule=schedule, due_at__in=dues).values_list("due_at", flat=True))
        look = Look(schedule, now, active_runs([schedule])[schedule.pk])
        decisions = [Decision(due, ScheduleRunCause.BACKFILL, actor, action="existing") if due in ran else
                     look.decide(due, cause=ScheduleRunCause.BACKFILL, actor=actor, overlap=overlap) for due in dues]
        plan_look(schedule, now)
        write([look], now)
        answers = [decision.answer() for decision in decisions]
        counts = {action: sum(1 for answer in answers if answer["action"] == action)
                  for action in ("started", "existing", "skipped", "buffered", "failed")}
        _event(schedule, ScheduleEventKind.BACKFILLED, now=now, actor=actor, note=f"{stamp(first)} to {stamp(last)}",
               due_times=len(dues), **counts)
    return {"due_times": len(dues), **counts, "runs": answers}
