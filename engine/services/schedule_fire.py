"""Starting the runs of schedules: the waker's duty over the indexed `look_at`, and the runs people start (trigger,
backfill). A look at a batch of schedules decides each due time in Python (the overlap policy against the runs
still active, the catch-up window), then writes every start of the batch together: one bulk start per owner
(engine.services.start_many, which replays an external id that exists), one insert of the run rows, one of the
journal entries and one update of the schedules, in the database transaction that holds their row locks. So a
due time starts at most once, and 1,000 schedules due in the same second cost a few statements per hundred."""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction

from engine import clock
from engine.errors import DatpError, TransactionFinished
from engine.limits import BULK_START_MAX
from engine.models import Schedule, ScheduleEvent, ScheduleRun
from engine.runtime import faults
from engine.schedules import (
    MAX_WALK,
    Calendar,
    check_jitter,
    check_window,
    external_id,
    jitter_of,
    stamp,
)
from engine.services.start_many import transaction_start_many
from engine.services.transactions import transaction_cancel
from engine.states import (
    TX_ACTIVE,
    ScheduleEventKind,
    ScheduleOverlap,
    ScheduleRunCause,
)

LOOK_BATCH = 100  # schedules looked at in one database transaction
LATE_SECONDS = 60  # a run started later than this after its due time (and jitter) is a catch-up
BUFFER_LOOK = (timedelta(seconds=1), timedelta(seconds=10))  # while buffer_one holds a run: how often to look
PLANNED = "planned"  # an active run of this look, not yet written


@dataclass
class Decision:
    """What one due time came to: `action` started, existing, skipped, buffered or failed; `tx_id` once written."""

    due: datetime
    cause: str
    actor: str
    action: str = "started"
    note: str = ""
    tx_id: str | None = None

    def answer(self):
        found = {"action": self.action, "due_at": stamp(self.due)}
        if self.tx_id is not None:
            found["tx_id"] = self.tx_id
        if self.note:
            found["note"] = self.note
        return found


@dataclass
class Look:
    """One schedule (locked) being looked at: its active runs as [(run pk or PLANNED, tx_id)], and what this look
    decided: the starts, the journal entries, the transactions to cancel."""

    schedule: Schedule
    now: datetime
    active: list
    ran: set = field(default_factory=set)  # due times from next_due_at on that have a run already (a look again)
    decisions: list = field(default_factory=list)
    events: list = field(default_factory=list)
    cancels: list = field(default_factory=list)

    def event(self, kind, *, due_at=None, actor="system", note="", **data):
        self.events.append(ScheduleEvent(schedule=self.schedule, at=self.now, kind=kind, due_at=due_at, actor=actor,
                                         note=note, data=data))

    def decide(self, due, *, cause, actor="system", overlap=None):
        """Decide the run of `due` under the overlap policy (the schedule's, or `overlap`); return its Decision."""
        decision = Decision(due, cause, actor)
        self.decisions.append(decision)
        overlap = overlap or self.schedule.overlap
        active = self.active if overlap != ScheduleOverlap.ALLOW else []
        if active and overlap == ScheduleOverlap.SKIP:
            return self._hold(decision, ScheduleEventKind.SKIPPED, "skipped", "a run it started is still active "
                                                                              "(overlap skip)")
        if active and overlap == ScheduleOverlap.BUFFER_ONE:
            if self.schedule.buffered_due_at is None:
                self.schedule.buffered_due_at = due
                return self._hold(decision, ScheduleEventKind.BUFFERED, "buffered",
                                  "held until the active run ends (overlap buffer_one)")
            return self._hold(decision, ScheduleEventKind.SKIPPED, "skipped", "a run is still active and "
                              f"{stamp(self.schedule.buffered_due_at)} is already held (overlap buffer_one)")
        if active and overlap == ScheduleOverlap.CANCEL_PREVIOUS:
            self._replace(active, decision)
        self.active.append((PLANNED, decision))
        return decision

    def _hold(self, decision, kind, action, why):
        tx_ids = [_tx_id(item) for _, item in self.active]
        decision.action, decision.note = action, f"Not started: {why}: {', '.join(tx_ids)}"
        self.event(kind, due_at=decision.due, note=decision.note, tx_ids=tx_ids)
        return decision

    def _replace(self, active, decision):
        """cancel_previous: cancel the runs written before; a run this look planned is not started at all."""
        written = [tx_id for pk, tx_id in active if pk != PLANNED]
        for pk, planned in active:
            if pk == PLANNED:
                planned.action, planned.note = "skipped", f"replaced by {stamp(decision.due)} (overlap cancel_previous)"
                self.event(ScheduleEventKind.SKIPPED, due_at=planned.due, note=planned.note)
        if written:
            self.cancels.append((decision.due, written))
            self.event(ScheduleEventKind.CANCELLED_PREVIOUS, due_at=decision.due, note=f"cancelled {', '.join(written)}",
                       tx_ids=written)
        active.clear()

    def walk(self):
        """Decide every due time whose fire time has come (at most MAX_WALK): start those inside the catch-up
        window, note the older ones as missed; then plan the next look."""
        schedule, now = self.schedule, self.now
        if schedule.buffered_due_at is not None and not self.active:
            due, schedule.buffered_due_at = schedule.buffered_due_at, None
            self.decide(due, cause=ScheduleRunCause.BUFFER, overlap=ScheduleOverlap.ALLOW)
        calendar, window, jitter = Calendar.of(schedule), check_window(schedule.catchup_window), \
            check_jitter(schedule.jitter)
        due, walked = schedule.next_due_at, 0
        while not schedule.paused and due is not None and walked < MAX_WALK:
            fire = due + jitter_of(schedule.name, due, jitter)
            if fire > now:
                break
            walked += 1
            if now - fire > window:
                due = self._missed(calendar, due, now - window, jitter)
                continue
            late = (now - fire).total_seconds() > LATE_SECONDS
            if due not in self.ran:
                self.decide(due, cause=ScheduleRunCause.CATCH_UP if late else ScheduleRunCause.DUE)
            schedule.last_due_at = due
            due = calendar.next_after(due)
        if due is None and schedule.next_due_at is not None:
            self.event(ScheduleEventKind.ENDED, note="No due time is left before the schedule's end.")
        schedule.next_due_at = due
        plan_look(schedule, now)

    def _missed(self, calendar, due, cutoff, jitter):
        """Note the due times from `due` whose fire time is before `cutoff` as one `missed` entry; return the first
        due time after them."""
        name, first, last, count = self.schedule.name, due, due, 0
        while due is not None and due + jitter_of(name, due, jitter) < cutoff:
            count, last = count + 1, due
            if count >= MAX_WALK:  # down for longer than MAX_WALK runs: jump to the window
                due = calendar.next_after(cutoff - jitter - timedelta(microseconds=1))
                break
            due = calendar.next_after(due)
        more = "" if count < MAX_WALK else " or more"
        self.event(ScheduleEventKind.MISSED, due_at=first, count=count, more=bool(more), last=stamp(last),
                   note=f"{count}{more} run{'s' if count != 1 else ''} due from {stamp(first)} to {stamp(last)} not "
                        f"started: older than the catch-up window ({self.schedule.catchup_window})")
        self.schedule.last_due_at = last
        return due


def _tx_id(item):
    return (item.tx_id or f"the run of {stamp(item.due)}") if isinstance(item, Decision) else item


def runs_ahead(schedules):
    """{schedule pk: due times at or after its next_due_at that have a run}: normally none; a schedule moved back
    (a restored backup, a clock set back) finds the ones it started already."""
    found = {schedule.pk: set() for schedule in schedules}
    dues = [schedule.next_due_at for schedule in schedules if schedule.next_due_at is not None]
    if dues:
        nexts = {schedule.pk: schedule.next_due_at for schedule in schedules}
        for schedule_id, due in ScheduleRun.objects.filter(schedule__in=list(found), due_at__gte=min(dues)).values_list(
                "schedule_id", "due_at"):
            if nexts[schedule_id] is not None and due >= nexts[schedule_id]:
                found[schedule_id].add(due)
    return found


def plan_look(schedule, now):
    """Set when to look at the schedule next: its next due time plus its jitter, sooner while buffer_one holds a
    run (after a tenth of the time held, between BUFFER_LOOK's bounds), None while paused or ended."""
    if schedule.paused:
        schedule.look_at = None
        return
    moments = []
    if schedule.next_due_at is not None:
        moments.append(schedule.next_due_at + jitter_of(schedule.name, schedule.next_due_at,
                                                         check_jitter(schedule.jitter)))
    if schedule.buffered_due_at is not None:
        moments.append(now + min(max((now - schedule.buffered_due_at) / 10, BUFFER_LOOK[0]), BUFFER_LOOK[1]))
    schedule.look_at = min(moments) if moments else None


def active_runs(schedules):
    """{schedule pk: [(run pk, tx_id)]} of the runs whose transactions are still active; closes the others, so that
    this stays a short read of the open runs' partial index."""
    found = {schedule.pk: [] for schedule in schedules}
    rows = ScheduleRun.objects.filter(schedule__in=list(found), open=True).order_by("due_at").values_list(
        "pk", "schedule_id", "tx_id", "tx__status")
    ended = []
    for pk, schedule_id, tx_id, status in rows:
        if status in TX_ACTIVE:
            found[schedule_id].append((pk, tx_id))
        else:
            ended.append(pk)
    if ended:
        ScheduleRun.objects.filter(pk__in=ended).update(open=False)
    return found


def write(looks, now):
    """Write what `looks` decided: cancels first, then every start (a bulk start per owner), the run rows, the
    journal entries and the schedules' new positions."""
    for look in looks:
        for due, tx_ids in look.cancels:
            for tx_id in tx_ids:
                try:
                    transaction_cancel(tx_id=tx_id, actor=f"schedule:{look.schedule.name}",
                                       reason=f"the run due at {stamp(due)} replaces it (overlap cancel_previous)")
                except TransactionFinished:
                    pass
    starts = [(look, decision) for look in looks for decision in look.decisions if decision.action == "started"]
    by_owner = {}
    for look, decision in starts:
        by_owner.setdefault(look.schedule.owner_id, []).append((look, decision))
    runs = []
    for owner, pairs in by_owner.items():
        for chunk in range(0, len(pairs), BULK_START_MAX):
            runs += _start(owner, pairs[chunk:chunk + BULK_START_MAX], now)
    ScheduleRun.objects.bulk_create(runs, ignore_conflicts=True)
    ScheduleEvent.objects.bulk_create([event for look in looks for event in look.events])
    _moved([look.schedule for look in looks])


MOVED = ("next_due_at", "look_at", "buffered_due_at", "last_due_at")
MOVE_SQL = f"UPDATE engine_schedule SET {', '.join(f'{name} = %s' for name in MOVED)} WHERE id = %s"


def _moved(schedules):
    """Write where each schedule stands now: one statement sent for all (the ORM's bulk_update built a CASE per
    row and field, most of a look's time)."""
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.executemany(MOVE_SQL, [[adapt(getattr(schedule, name)) for name in MOVED] + [schedule.pk]
                                      for schedule in schedules])


def _start(owner, pairs, now):
    """Start the transactions of `pairs` [(look, decision)] of one owner; return their unsaved run rows."""
    items = [{"transaction_type": look.schedule.transaction_type, "data": look.schedule.data,
              "external_id": external_id(look.schedule.name, decision.due)} for look, decision in pairs]
    results = transaction_start_many(owner=owner, transactions=items,
                                     actor=[f"schedule:{look.schedule.name}" for look, _ in pairs])
    runs = []
    for (look, decision), result in zip(pairs, results, strict=True):
        if isinstance(result, DatpError):  # the type no longer startable, the data no longer valid, the id taken
            decision.action, decision.note = "failed", f"Not started: {result.message}"
            look.event(ScheduleEventKind.FAILED, due_at=decision.due, note=decision.note, code=result.code)
            continue
        decision.tx_id = result[0].pk
        runs.append(ScheduleRun(schedule=look.schedule, due_at=decision.due, tx_id=decision.tx_id,
                                cause=decision.cause, started_at=now, actor=decision.actor))
    return runs


def schedules_fire(*, now=None, limit=1000):
    """Look at the schedules whose `look_at` has come, a batch at a time (each batch in the database transaction
    that holds their row locks; another node passes them by); return how many transactions started."""
    now = now or clock.now()
    started, looked = 0, 0
    while looked < limit:
        with transaction.atomic():
            queryset = Schedule.objects.filter(look_at__lte=now).order_by("look_at")
            if connection.features.has_select_for_update_skip_locked:
                queryset = queryset.select_for_update(skip_locked=True)
            batch = list(queryset[:LOOK_BATCH])
            if not batch:
                break
            active, ran = active_runs(batch), runs_ahead(batch)
            looks = [Look(schedule, now, active[schedule.pk], ran[schedule.pk]) for schedule in batch]
            for look in looks:
                look.walk()
            write(looks, now)
            faults.hit(faults.SCHEDULE_AFTER_WRITE, None)
        looked += len(batch)
        started += sum(decision.action == "started" for look in looks for decision in look.decisions)
        if len(batch) < LOOK_BATCH:
            break
    return started
