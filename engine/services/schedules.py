"""Schedules: create, change, pause, resume, delete, trigger and backfill them, and start the runs that fall due
(a duty of the waker, over the indexed `look_at`). Each due time starts at most one transaction: its run row is
unique per schedule and due time, its external id is `schedule:<name>:<due time>`, and both are written under
the schedule's row lock, so two nodes, a restart or a clock jump never start a due time twice."""
import re
from datetime import timedelta

from django.db import IntegrityError, connection, transaction

from engine import clock, durations
from engine.errors import (
    DatpError,
    InvalidRequest,
    ScheduleExists,
    ScheduleNotFound,
    TransactionFinished,
)
from engine.limits import SCHEDULE_NAME_PATTERN
from engine.models import Schedule, ScheduleEvent, ScheduleRun
from engine.schedules import (
    MAX_WALK,
    BadSchedule,
    Calendar,
    check_cron,
    check_interval,
    check_jitter,
    check_window,
    external_id,
    jitter_of,
    stamp,
    zone,
)
from engine.services.transactions import (
    start_row,
    transaction_cancel,
    transaction_start,
)
from engine.states import (
    TX_ACTIVE,
    ScheduleEventKind,
    ScheduleOverlap,
    ScheduleRunCause,
)

BATCH = 100
MAX_BACKFILL = 1000  # due times one backfill may start
LATE_SECONDS = 60  # a run started later than this after its due time (and jitter) is a catch-up
BUFFER_LOOK = (timedelta(seconds=1), timedelta(seconds=10))  # while buffer_one holds a run: how often to look
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
    _set_look(schedule, now)


def _set_look(schedule, now):
    if schedule.paused:
        schedule.look_at = None
        return
    moments = []
    if schedule.next_due_at is not None:
        moments.append(schedule.next_due_at + jitter_of(schedule.name, schedule.next_due_at,
                                                         check_jitter(schedule.jitter)))
    if schedule.buffered_due_at is not None:
        waited = now - schedule.buffered_due_at
        moments.append(now + min(max(waited / 10, BUFFER_LOOK[0]), BUFFER_LOOK[1]))
    schedule.look_at = min(moments) if moments else None


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
        _event(schedule, ScheduleEventKind.TRIGGERED, now=now, actor=actor, due_at=due, note=note or "")
        answer = _due(schedule, due, now=now, cause=ScheduleRunCause.TRIGGER, actor=actor)
        _set_look(schedule, now)
        schedule.save()
    return answer


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
        answers = [_due(schedule, due, now=now, cause=ScheduleRunCause.BACKFILL, actor=actor, overlap=overlap)
                   for due in dues]
        counts = {action: sum(1 for answer in answers if answer["action"] == action)
                  for action in ("started", "existing", "skipped", "buffered", "failed")}
        _event(schedule, ScheduleEventKind.BACKFILLED, now=now, actor=actor, note=f"{stamp(first)} to {stamp(last)}",
               due_times=len(dues), **counts)
        _set_look(schedule, now)
        schedule.save()
    return {"due_times": len(dues), **counts, "runs": answers}


# Firing ----------------------------------------------------------------------------------------------


def schedules_fire(*, now=None, limit=BATCH):
    """Look at every schedule whose `look_at` has come: start its due runs (each in the database transaction that
    moves the schedule on), note the skipped and missed ones; return how many transactions started."""
    now = now or clock.now()
    ids = list(Schedule.objects.filter(look_at__lte=now).order_by("look_at").values_list("pk", flat=True)[:limit])
    started = 0
    for pk in ids:
        with transaction.atomic():
            queryset = Schedule.objects.filter(pk=pk, look_at__lte=now)
            if connection.features.has_select_for_update_skip_locked:
                queryset = queryset.select_for_update(skip_locked=True)
            schedule = queryset.first()
            if schedule is not None:  # another node took it, or it moved on since
                started += _look(schedule, now)
    return started


def _look(schedule, now):
    started = 0
    if schedule.buffered_due_at is not None and not _active(schedule):
        due, schedule.buffered_due_at = schedule.buffered_due_at, None
        started += _start(schedule, due, now=now, cause=ScheduleRunCause.BUFFER)["action"] == "started"
    calendar, window = Calendar.of(schedule), check_window(schedule.catchup_window)
    jitter = check_jitter(schedule.jitter)
    due, walked = schedule.next_due_at, 0
    while not schedule.paused and due is not None and walked < MAX_WALK:
        fire = due + jitter_of(schedule.name, due, jitter)
        if fire > now:
            break
        walked += 1
        if now - fire > window:
            due = _missed(schedule, calendar, due, now - window, jitter, now)
            continue
        cause = ScheduleRunCause.DUE if (now - fire).total_seconds() <= LATE_SECONDS else ScheduleRunCause.CATCH_UP
        started += _due(schedule, due, now=now, cause=cause)["action"] == "started"
        schedule.last_due_at = due
        due = calendar.next_after(due)
    if due is None and schedule.next_due_at is not None:
        _event(schedule, ScheduleEventKind.ENDED, now=now, note="No due time is left before the schedule's end.")
    schedule.next_due_at = due
    _set_look(schedule, now)
    schedule.save(update_fields=["next_due_at", "look_at", "buffered_due_at", "last_due_at"])
    return started


def _missed(schedule, calendar, due, cutoff, jitter, now):
    """Note the due times from `due` whose fire time is before `cutoff` (older than the catch-up window) as one
    `missed` event; return the first due time after them."""
    first, last, count = due, due, 0
    while due is not None and due + jitter_of(schedule.name, due, jitter) < cutoff:
        count, last = count + 1, due
        if count >= MAX_WALK:  # down for longer than MAX_WALK runs: jump to the window
            due = calendar.next_after(cutoff - jitter - timedelta(microseconds=1))
            break
        due = calendar.next_after(due)
    more = "" if count < MAX_WALK else " or more"
    _event(schedule, ScheduleEventKind.MISSED, now=now, due_at=first,
           note=f"{count}{more} run{'s' if count != 1 else ''} due from {stamp(first)} to {stamp(last)} "
                f"not started: older than the catch-up window ({schedule.catchup_window})",
           count=count, more=bool(more), last=stamp(last))
    schedule.last_due_at = last
    return due


def _active(schedule):
    """The schedule's runs whose transactions are still active; closes the others (so this stays a short read)."""
    runs = list(ScheduleRun.objects.filter(schedule=schedule, open=True).values_list("pk", "tx_id", "tx__status"))
    ended = [pk for pk, _, status in runs if status not in TX_ACTIVE]
    if ended:
        ScheduleRun.objects.filter(pk__in=ended).update(open=False)
    return [(pk, tx_id) for pk, tx_id, status in runs if status in TX_ACTIVE]


def _due(schedule, due, *, now, cause, actor="system", overlap=None):
    """Start the run of `due` under the overlap policy (the schedule's, or `overlap`); return what happened."""
    if ScheduleRun.objects.filter(schedule=schedule, due_at=due).exists():
        return {"action": "existing", "due_at": stamp(due)}
    overlap = overlap or schedule.overlap
    active = _active(schedule) if overlap != ScheduleOverlap.ALLOW else []
    if active and overlap == ScheduleOverlap.SKIP:
        return _not_started(schedule, due, now, ScheduleEventKind.SKIPPED, "skipped", active,
                            "a run it started is still active (overlap skip)")
    if active and overlap == ScheduleOverlap.BUFFER_ONE:
        if schedule.buffered_due_at is None:
            schedule.buffered_due_at = due
            return _not_started(schedule, due, now, ScheduleEventKind.BUFFERED, "buffered", active,
                                "held until the active run ends (overlap buffer_one)")
        return _not_started(schedule, due, now, ScheduleEventKind.SKIPPED, "skipped", active,
                            f"a run is still active and {stamp(schedule.buffered_due_at)} is already held "
                            "(overlap buffer_one)")
    if active and overlap == ScheduleOverlap.CANCEL_PREVIOUS:
        for _, tx_id in active:
            try:
                transaction_cancel(tx_id=tx_id, actor=f"schedule:{schedule.name}",
                                   reason=f"the run due at {stamp(due)} replaces it (overlap cancel_previous)")
            except TransactionFinished:
                pass
        _event(schedule, ScheduleEventKind.CANCELLED_PREVIOUS, now=now, due_at=due,
               note=f"cancelled {', '.join(tx_id for _, tx_id in active)}", tx_ids=[tx_id for _, tx_id in active])
    return _start(schedule, due, now=now, cause=cause, actor=actor)


def _not_started(schedule, due, now, kind, action, active, why):
    tx_ids = [tx_id for _, tx_id in active]
    note = f"Not started: {why}: {', '.join(tx_ids)}"
    _event(schedule, kind, now=now, due_at=due, note=note, tx_ids=tx_ids)
    return {"action": action, "due_at": stamp(due), "note": note}


def _start(schedule, due, *, now, cause, actor="system"):
    try:
        with transaction.atomic():
            tx, _ = transaction_start(owner=schedule.owner_id, transaction_type=schedule.transaction_type,
                                      data=schedule.data, external_id=external_id(schedule.name, due),
                                      actor=f"schedule:{schedule.name}")
            ScheduleRun.objects.create(schedule=schedule, due_at=due, tx=tx, cause=cause, started_at=now, actor=actor)
    except DatpError as exc:  # the type is no longer startable, the data no longer valid, the id taken otherwise
        note = f"Not started: {exc.message}"
        _event(schedule, ScheduleEventKind.FAILED, now=now, due_at=due, note=note, code=exc.code)
        return {"action": "failed", "due_at": stamp(due), "note": note}
    return {"action": "started", "due_at": stamp(due), "tx_id": tx.pk}
